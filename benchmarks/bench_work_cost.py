"""Seconds per megapixel-frame of each kind of picture work, on this machine: the figures the
time ceiling of every ffmpeg run is grown from (pipeline/media/work.py).

Run from the repository root:

    .venv/bin/python benchmarks/bench_work_cost.py [--seconds 4] [--size 1920x1080]

A ProRes 422 HQ master of testsrc2 (moving, detailed: harder to encode than most programmes)
is made on the fly; then each work is timed alone, one ffmpeg at a time, with ffmpeg's own
threading: decoding the master to nothing, and encoding it with libx264 (preset medium, crf 18),
mpeg2video (50 Mbit/s 4:2:2, as the broadcast profile) and prores_ks (HQ, as the mezzanine).
An encode's figure is its run minus the decode it includes, so that a render's cost is the one
decode plus each encoded picture. Printed: wall seconds and CPU seconds per megapixel-frame,
and the figure pipeline/media/work.py holds, for comparison.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.media.ffmpeg import ffmpeg_binary  # noqa: E402
from pipeline.media.work import SECONDS_PER_MEGAPIXEL_FRAME  # noqa: E402

ENCODES = {
    "libx264": ["-c:v", "libx264", "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p"],
    "mpeg2video": ["-c:v", "mpeg2video", "-b:v", "50M", "-minrate", "50M", "-maxrate", "50M",
                   "-bufsize", "17825792", "-pix_fmt", "yuv422p", "-g", "12", "-bf", "2"],
    "prores_ks": ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"],
}


def make_master(path: Path, seconds: float, size: str) -> None:
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
               "-i", f"testsrc2=s={size}:r=25:d={seconds}", "-c:v", "prores_ks", "-profile:v", "3",
               "-pix_fmt", "yuv422p10le", str(path)]
    subprocess.run(command, check=True, timeout=3600)


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(command, check=True, timeout=3600, capture_output=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--size", default="1920x1080")
    args = parser.parse_args()
    width, height = (int(value) for value in args.size.split("x"))
    megapixel_frames = width * height / 1e6 * round(args.seconds * 25)
    with tempfile.TemporaryDirectory() as folder:
        master = Path(folder) / "master.mov"
        make_master(master, args.seconds, args.size)
        base = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-y", "-i", str(master), "-an"]
        decode_wall, decode_cpu = timed(base + ["-f", "null", "-"])
        rows = {"decode": (decode_wall, decode_cpu)}
        for codec, codec_args in ENCODES.items():
            wall, cpu = timed(base + codec_args + [str(Path(folder) / f"{codec}.mov")])
            rows[codec] = (max(0.0, wall - decode_wall), max(0.0, cpu - decode_cpu))
    print(f"{args.size} 25p, {args.seconds:g} s ({megapixel_frames:.0f} megapixel-frames), ProRes HQ master")
    print(f"{'work':<12}{'wall s/MP-frame':>17}{'CPU s/MP-frame':>16}{'in work.py':>12}")
    for name, (wall, cpu) in rows.items():
        print(f"{name:<12}{wall / megapixel_frames:>17.5f}{cpu / megapixel_frames:>16.5f}"
              f"{SECONDS_PER_MEGAPIXEL_FRAME[name]:>12.5f}")


if __name__ == "__main__":
    main()
