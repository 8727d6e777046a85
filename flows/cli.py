"""`versioner`: the command line for producers, the night operator and technicians.

Exit codes: 0 every deliverable made; 1 some deliverables failed (the others are published and
the failures named); 2 the package (or the config, or the command line) is bad and nothing was
rendered; 3 the pipeline could not run here (ffmpeg missing or broken, disk full, a crash).
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.delivery.results import RenderReport

from flows import embedded_api
from flows.cli_operations import add_operation_commands, add_profiles_option

EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT, EXIT_BROKEN = 0, 1, 2, 3
SAMPLE_PACKAGE = Path(__file__).resolve().parent.parent / "media_samples" / "news-sample"


def _prepare_environment() -> None:
    # Before Prefect is imported: keep the library's log lines with the flow run.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "pipeline")
    # The embedded API's first start creates its SQLite database; on a busy machine that takes
    # longer than Prefect's default 20 s wait.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    # Nothing leaves the machine from a render farm on its own: no usage telemetry.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


class ProgressBar:
    """Draws the render's progress on stderr; knows nothing of ffmpeg or Prefect."""

    def __init__(self, stream=sys.stderr, width: int = 30):
        self.stream = stream
        self.width = width
        self.last = -1

    def __call__(self, asset_id: str, progress) -> None:
        percent = int(progress.fraction * 100)
        if percent == self.last or not self.stream.isatty() and percent % 10:
            return
        self.last = percent
        filled = self.width * percent // 100
        end = "\n" if percent >= 100 or not self.stream.isatty() else ""
        self.stream.write(f"\r{asset_id} [{'#' * filled}{'.' * (self.width - filled)}] {percent:3d}%{end}")
        self.stream.flush()


def _print_report(report: RenderReport) -> None:
    print(f"asset {report.asset_id}: {report.folder}")
    for item in report.deliverables:
        if item.delivered:
            print(f"  made    {item.key:<22} {report.folder / (item.file or '')}")
        else:
            print(f"  FAILED  {item.key:<22} {item.reason}")
    print(f"  metadata {report.metadata_file}")


def command_render(args) -> int:
    from pipeline.config import load_config
    from pipeline.intake.submission import check_submission

    # A bad package is refused at once, before Prefect starts (the flow checks it again).
    config = load_config(args.config, profiles=args.profiles)
    submission = check_submission(args.package, config)
    from flows.render import HeadStartHere, head_starts, progress_listeners, render_master

    progress_listeners.append(ProgressBar())
    head_start = None
    if embedded_api.running_here():  # its sound is analysed and the render begun while the API boots
        head_start = head_starts[str(args.package)] = HeadStartHere(submission, config, args.out)
    try:
        embedded_api.ready()
        with embedded_api.flow_settings():
            report = render_master(package_dir=str(args.package), out_dir=str(args.out),
                                   config_file=str(args.config) if args.config else None, profiles=args.profiles)
    finally:
        if head_start is not None:  # the run did not take it (it failed before): stopped, its files removed
            head_starts.pop(str(args.package), None)
            head_start.discard()
    _print_report(report)
    return EXIT_PARTIAL if report.exit_code else EXIT_OK


def command_demo(args) -> int:
    args.package = SAMPLE_PACKAGE
    return command_render(args)


def command_check(args) -> int:
    from pipeline.config import load_config
    from pipeline.intake.submission import check_submission

    submission = check_submission(args.package, load_config(args.config))
    media = submission.media
    print(f"ok: {submission.package.root} is asset {submission.asset_id}")
    print(f"  master   {submission.package.master.name}: {media.picture.width}x{media.picture.height} "
          f"{float(media.picture.fps):.3f} fps, {media.duration_s:.2f} s")
    print(f"  audio    layout {submission.layout.name} (from {submission.layout.how})")
    for language, track in sorted(submission.subtitles.items()):
        print(f"  subtitles {language}: {len(track.cues)} cues")
    for language, reason in submission.subtitle_failures.items():
        print(f"  subtitles {language}: will not render: {reason}")
    for finding in submission.subtitle_findings:
        print(f"  {finding.severity:<8} {finding.message}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="versioner", description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, help="a TOML file overriding configs/default.toml")
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="render every deliverable of a package")
    render.add_argument("package", type=Path)
    render.add_argument("--out", type=Path, default=Path("out"), help="delivery root (default: out/)")
    add_profiles_option(render)
    render.set_defaults(handler=command_render, uses_prefect_api=True)
    demo = commands.add_parser("demo", help="render the bundled sample package")
    demo.add_argument("--out", type=Path, default=Path("out"), help="delivery root (default: out/)")
    add_profiles_option(demo)
    demo.set_defaults(handler=command_demo, uses_prefect_api=True)
    check = commands.add_parser("check", help="validate a package without rendering")
    check.add_argument("package", type=Path)
    check.set_defaults(handler=command_check)
    operations = add_operation_commands(commands)  # submit, nightly, serve, deploy, runs, logs
    for sub in (render, demo, check, *operations):
        sub.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                         help="a TOML file overriding configs/default.toml")
    return parser


def main(argv: list[str] | None = None, *, own_process: bool = False) -> int:
    """Run one command. `own_process`: this process is the command (the `versioner` script), so
    it may start the embedded Prefect API before Prefect is imported; a program that calls this
    in its own process (the tests) leaves the API to Prefect."""
    _prepare_environment()
    args = build_parser().parse_args(argv)
    from pipeline.errors import ConfigError, InputError, VersionerError
    from pipeline.media.ffmpeg import capabilities

    try:
        if own_process and getattr(args, "uses_prefect_api", False):
            embedded_api.start()  # it boots while the command imports and checks (flows/embedded_api.py)
        if getattr(args, "needs_ffmpeg", True):
            capabilities()  # once at start-up: a missing ffmpeg or feature is named before any work
        return args.handler(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        print(getattr(args, "refused", "nothing was rendered."), file=sys.stderr)
        return EXIT_BAD_INPUT
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except VersionerError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BROKEN


def entry() -> int:
    """The `versioner` script. It ends as soon as the command has: its threads ended (Prefect
    sends its last log lines and events), its exit handlers run (the embedded API stops), its
    output flushed; then the process leaves without the interpreter's teardown, which frees every
    object one by one (0.6 s or more after a render, measured; no file or connection is left to it)."""
    return leave(main(own_process=True))


def leave(code: int) -> int:
    """End this process with `code`: what an ordinary exit does, in its order, less the teardown.
    First the threads' end (Prefect's log and event workers send what they hold while the API is
    still up: run after the exit handlers, which stop the API, the last lines waited 5 s for it),
    then the exit handlers, then the output flushed. An interpreter without those two steps
    (they are CPython's own) exits the ordinary way."""
    shutdown_threads = getattr(threading, "_shutdown", None)
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if shutdown_threads is None or run_exit_handlers is None:
        return code
    shutdown_threads()
    run_exit_handlers()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(entry())
