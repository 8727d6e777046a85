"""Peak memory of one UHD package rendered in every profile: a 3840x2160 25p ProRes master with a
full mix, an M&E and two subtitle languages, rendered in web, broadcast and mezzanine (what
`versioner render --profiles web,broadcast,mezzanine` does: one decode split between nine
pictures, each profile's encoders, the stream copies, the read-backs).

Run from the repository root:

    .venv/bin/python benchmarks/bench_uhd_memory.py [--seconds 4]

The master is made on the fly (a second of testsrc2 encoded as ProRes, looped by stream copy)
in a temporary folder. The render runs in a fresh process; its peak resident memory and that of
its largest ffmpeg child (the render itself: the kernel's high-water mark, RUSAGE_CHILDREN) are
printed in MiB, with the render's wall time. The render's peak does not grow with the master's
length: every queue between the decode and the encoders is bounded (try --seconds 8).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_render import LANGUAGES, ffmpeg_command, make_master, run_child  # noqa: E402

from pipeline.config import load_config  # noqa: E402

PROFILES = ["web", "broadcast", "mezzanine"]


def make_uhd_loop(path: Path) -> Path:
    run_child(ffmpeg_command("-f", "lavfi", "-i", "testsrc2=size=3840x2160:rate=25:duration=1",
                             "-c:v", "prores_ks", "-profile:v", "standard", "-pix_fmt", "yuv422p10le", str(path)))
    return path


def make_package(folder: Path, seconds: float, loop: Path) -> Path:
    folder.mkdir(parents=True)
    make_master(folder / "uhd.mov", seconds, loop)
    for language, lines in list(LANGUAGES.items())[:2]:  # a cue each second, so a short master has some
        cues = [f"{number}\n00:00:{number - 1:02d},200 --> 00:00:{number - 1:02d},900\n{lines[number % len(lines)]}\n"
                for number in range(1, int(seconds) + 1)]
        (folder / f"uhd.{language}.srt").write_text("\n".join(cues), encoding="utf-8")
    (folder / "metadata.yaml").write_text(
        f"title: UHD memory benchmark\nasset_id: uhd-{seconds:g}s\npublication_date: 2026-01-01\nlanguage: en\n",
        encoding="utf-8")
    return folder


def render_and_measure(package: str, out: str, queue) -> None:
    """In a fresh process: the render, then the peaks (KiB on Linux) of this process and its children."""
    from pipeline.sequence import render_package

    started = time.monotonic()
    report = render_package(package, out, load_config(profiles=PROFILES))
    wall = time.monotonic() - started
    delivered = sum(1 for result in report.deliverables if result.delivered)
    queue.put((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, wall, delivered, len(report.deliverables)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        package = make_package(Path(folder) / "package", args.seconds, make_uhd_loop(Path(folder) / "loop.mov"))
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(target=render_and_measure, args=(str(package), str(Path(folder) / "out"), queue))
        child.start()
        python_kib, ffmpeg_kib, wall, delivered, planned = queue.get(timeout=7200)
        child.join()
    print(f"UHD 3840x2160 25p, {args.seconds:g} s, two languages, profiles {', '.join(PROFILES)}: "
          f"{delivered} of {planned} deliverables in {wall:.0f} s")
    print(f"peak memory: ffmpeg (the render) {ffmpeg_kib / 1024:.0f} MiB, the Python process {python_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
