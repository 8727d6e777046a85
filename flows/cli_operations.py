"""The operational commands of `versioner` (docs/design.md sections 7 and 8): `submit` and `watch` for producers,
`nightly`, `serve` and `deploy` for the night operator, `runs` and `logs` for technicians.
`flows.cli` registers them; exit codes are its own."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from flows import embedded_api

EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT = 0, 1, 2


def _config_file(args) -> str | None:
    """Absolute, so a run started elsewhere (a worker, the served process) finds the same file."""
    return str(args.config.absolute()) if getattr(args, "config", None) else None


def _srt_option(text: str) -> tuple[str, Path]:
    language, separator, path = text.partition("=")
    if not separator or not language or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: give it as LANG=FILE, e.g. --srt fr=news.fr.srt")
    return language, Path(path)


def _profiles_option(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give profile names separated by commas, e.g. web,broadcast")
    return names


def add_profiles_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profiles", type=_profiles_option, default=None, metavar="NAME,NAME",
                        help="deliver every version in these profiles (web, broadcast, mezzanine...), "
                             "instead of the config's [outputs]")


def command_submit(args) -> int:
    from pipeline.config import load_config
    from pipeline.errors import InputError
    from pipeline.ops.lifecycle import DataRoot, PackageParts, submit_package

    config = load_config(args.config, profiles=args.profiles)  # an unknown profile is refused now
    source = args.source
    if not source.exists():
        raise InputError(source, "does not exist", "give the package folder, or the master file with --metadata FILE")
    if source.is_dir():
        if args.srt or args.metadata:
            raise InputError(source, "is a package folder; --srt and --metadata go with a master file",
                             "give either PACKAGE_DIR alone, or MASTER --srt LANG=FILE --metadata FILE")
    else:
        if args.metadata is None:
            raise InputError(source, "is a master file given without its metadata",
                             "add --metadata metadata.yaml (and --srt LANG=FILE for each subtitle file)")
        languages = [language for language, _path in args.srt]
        if len(set(languages)) != len(languages):
            raise InputError(source, "has two --srt files for one language", "give one --srt per language")
        source = PackageParts(source, args.metadata, dict(args.srt))
    asset_id = submit_package(source, config, replace=args.replace, profiles=args.profiles)
    print(asset_id)
    print(f"submitted to {DataRoot.of(config).inbox / asset_id}; the next nightly run renders it",
          file=sys.stderr)
    return EXIT_OK


def command_watch(args) -> int:
    from flows.watch import watch
    from pipeline.config import load_config
    from pipeline.ops.lifecycle import DataRoot

    config = load_config(args.config)
    print(f"watching {DataRoot.of(config).path / 'dropbox'}; drops are rendered "
          f"{'at once' if config.watch.render == 'now' else 'in the night run'}; Ctrl-C stops it", file=sys.stderr)
    watch(_config_file(args), max_seconds=args.max_seconds)
    return EXIT_OK


def command_nightly(args) -> int:
    from flows.nightly import nightly_render

    embedded_api.ready()
    with embedded_api.flow_settings():
        summary = nightly_render(config_file=_config_file(args), where=args.where, profiles=args.profiles)
    counts = ", ".join(f"{count} {name.lower()}" for name, count in sorted(summary["counts"].items()))
    print(f"night run {summary['run_id']}: {len(summary['packages'])} package(s) in {summary['data_root']}"
          f"{': ' + counts if counts else ''}")
    for row in summary["packages"]:
        seconds = "-" if row["duration_s"] is None else f"{row['duration_s']:.1f} s"
        print(f"  {row['outcome']:<12} {row['asset_id']:<40} {seconds:>9}  {row['where']}  run {row['run_id']}")
        if row["outcome"] != "Delivered" and row["message"]:
            print(f"               {row['message']}")
    print(f"logs: versioner logs {summary['run_id']}")
    return EXIT_OK if summary["all_done"] else EXIT_PARTIAL


def command_serve(args) -> int:
    from flows.deploy import require_server, serve_nightly
    from pipeline.config import load_config

    url = require_server()
    schedule = load_config(args.config).schedule
    print(f"serving nightly_render/{args.name} on '{schedule.cron}' ({schedule.timezone}) against {url}; "
          "Ctrl-C stops it", file=sys.stderr)
    serve_nightly(_config_file(args), name=args.name)
    return EXIT_OK


def command_deploy(args) -> int:
    from flows.deploy import deploy_all

    for deployment_id in deploy_all(_config_file(args), pool=args.pool):
        print(f"deployed {deployment_id}")
    print(f"start a worker on each render machine: prefect worker start --pool {args.pool} "
          "--work-queue render --limit 1", file=sys.stderr)
    print(f"and one for the schedule: prefect worker start --pool {args.pool} --work-queue nightly",
          file=sys.stderr)
    return EXIT_OK


def command_runs(args) -> int:
    from flows.history import duration_s, format_duration, recent_runs

    embedded_api.ready()
    runs = recent_runs(args.limit)
    if not runs:
        print("no flow runs yet")
        return EXIT_OK
    print(f"{'STARTED':<19}  {'DURATION':>8}  {'STATE':<12}  {'FLOW':<18}  {'RUN':<44}  ID")
    for run, flow_name in runs:
        started = run.start_time.astimezone().strftime("%Y-%m-%d %H:%M:%S") if run.start_time else "-"
        print(f"{started:<19}  {format_duration(duration_s(run)):>8}  {run.state_name or '-':<12}  "
              f"{flow_name:<18}  {run.name[:44]:<44}  {run.id}")
    return EXIT_OK


def command_logs(args) -> int:
    from uuid import UUID

    from prefect.exceptions import ObjectNotFound

    from flows.history import duration_s, format_duration, last_top_level_run, run_logs

    embedded_api.ready()
    if args.last:
        last = last_top_level_run()
        if last is None:
            print("no flow runs yet", file=sys.stderr)
            return EXIT_BAD_INPUT
        run_id = last.id
    else:
        try:
            run_id = UUID(args.run_id)
        except ValueError:
            print(f"error: {args.run_id!r} is not a flow run id\n  fix: copy one from `versioner runs`",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        groups = run_logs(run_id, with_children=not args.no_children)
    except ObjectNotFound:
        print(f"error: no flow run {run_id} in this Prefect API\n  fix: copy one from `versioner runs`",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    for group in groups:
        run = group.run
        print(f"== {group.flow_name} / {run.name}  {run.id}  {run.state_name}  "
              f"({format_duration(duration_s(run))})")
        for line in group.lines:
            when = line.timestamp.astimezone().strftime("%H:%M:%S")
            print(f"{when} {logging.getLevelName(line.level):<8} {line.message}")
    return EXIT_OK


def add_operation_commands(commands) -> list[argparse.ArgumentParser]:
    """Register the commands on `versioner`'s subparsers; returns them for the common options."""
    submit = commands.add_parser("submit", help="check a package and put it in the inbox for the night")
    submit.add_argument("source", type=Path, metavar="PACKAGE_DIR | MASTER")
    submit.add_argument("--srt", type=_srt_option, action="append", default=[], metavar="LANG=FILE",
                        help="with a master file: a subtitle file and its language (repeat per language)")
    submit.add_argument("--metadata", type=Path, metavar="FILE", help="with a master file: its metadata.yaml")
    submit.add_argument("--replace", action="store_true",
                        help="replace a package of the same asset id waiting, rendering or delivered")
    submit.set_defaults(handler=command_submit, refused="nothing was submitted.")
    watch = commands.add_parser("watch", help="take packages dropped into <data root>/dropbox/ (a service)")
    watch.add_argument("--max-seconds", type=float, default=None, help="stop after this long (default: never)")
    watch.set_defaults(handler=command_watch)
    add_profiles_option(submit)
    nightly = commands.add_parser("nightly", help="render everything pending in the inbox, now")
    add_profiles_option(nightly)
    nightly.add_argument("--where", choices=["auto", "here", "workers"], default="auto",
                         help="auto: on the render deployment's workers when a server has some online, else here")
    nightly.set_defaults(handler=command_nightly, uses_prefect_api=True)
    serve = commands.add_parser("serve", help="serve the nightly run on the schedule of the config (needs a server)")
    serve.add_argument("--name", default="nightly", help="deployment name (default: nightly)")
    serve.set_defaults(handler=command_serve, needs_ffmpeg=False)
    deploy = commands.add_parser("deploy", help="register the render and nightly deployments on a process work pool")
    deploy.add_argument("--pool", default="versioner", help="work pool name (default: versioner)")
    deploy.set_defaults(handler=command_deploy, needs_ffmpeg=False)
    runs = commands.add_parser("runs", help="recent flow runs with their state and duration")
    runs.add_argument("--limit", type=int, default=20)
    runs.set_defaults(handler=command_runs, needs_ffmpeg=False, uses_prefect_api=True)
    logs = commands.add_parser("logs", help="print a flow run's logs (and its package runs')")
    which = logs.add_mutually_exclusive_group(required=True)
    which.add_argument("run_id", nargs="?", metavar="RUN_ID")
    which.add_argument("--last", action="store_true", help="the run started last")
    logs.add_argument("--no-children", action="store_true", help="leave out the logs of its subflow runs")
    logs.set_defaults(handler=command_logs, needs_ffmpeg=False, uses_prefect_api=True)
    return [submit, watch, nightly, serve, deploy]
