"""What a frame-rate conversion costs (docs/configuration.md "Delivery profiles"): the broadcast
profile's picture (1080i25 MPEG-2 50 Mb/s) made from a 1080p master at 25 fps (no conversion,
the baseline), at 23.976 (speed), and at 29.97 (blend, motion), through the pipeline's own
conform chain and encoder arguments, one after the other in this run. Each master is a short
moving test picture (testsrc2); the cost is extrapolated to a minute of master and given as a
ratio to the baseline. The sound's time stretch is measured too: atempo and rubberband on a
1 kHz tone, 23.976 -> 25 (the pitch they leave and how far their noise and distortion sit
below the tone).

    python benchmarks/bench_rate_conversion.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from a checkout

from pipeline.config import load_config  # noqa: E402
from pipeline.media.ffmpeg import ffmpeg_binary  # noqa: E402
from pipeline.media.probe import probe  # noqa: E402
from pipeline.render.conform import conform_filters  # noqa: E402
from pipeline.render.outputs import video_codec_args  # noqa: E402

CASES = (("none (25 fps master)", Fraction(25), "auto"), ("speed (23.976 -> 25)", Fraction(24000, 1001), "speed"),
         ("blend (29.97 -> 25)", Fraction(30000, 1001), "blend"), ("motion (29.97 -> 25)", Fraction(30000, 1001), "motion"))
TONE_RATE = 48000


def make_master(folder: Path, fps: Fraction, seconds: float) -> Path:
    path = folder / f"master-{fps.numerator}-{fps.denominator}.mp4"
    if not path.exists():
        subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
                        "-i", f"testsrc2=size=1920x1080:rate={fps.numerator}/{fps.denominator}:duration={seconds}",
                        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
                       check=True, capture_output=True, timeout=600)
    return path


def picture_cost(master: Path, method: str) -> tuple[float, float]:
    """(wall s, CPU s of ffmpeg) of the broadcast picture made from `master` by `method`."""
    config = load_config()
    profile = config.profiles["broadcast"].model_copy(update={"frame_rate_conversion": method})
    video = probe(master).video
    assert video is not None
    command = ([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(master),
                "-vf", conform_filters(video, profile)] + video_codec_args(profile, video, 0)
               + ["-an", "-f", "null", "-"])
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    subprocess.run(command, check=True, capture_output=True, timeout=1800)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.monotonic() - started, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def tone_quality(stretch: str) -> tuple[float, float]:
    """(Hz of the strongest frequency, dB of everything else below it) of a 1 kHz tone stretched by `stretch`."""
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi",
               "-i", f"sine=f=1000:r={TONE_RATE}:d=4", "-af", stretch, "-ac", "1", "-f", "f32le", "pipe:1"]
    samples = np.frombuffer(subprocess.run(command, check=True, capture_output=True, timeout=120).stdout, "<f4")
    window = samples[TONE_RATE // 2: TONE_RATE // 2 + 2 * TONE_RATE].astype(np.float64)
    power = np.abs(np.fft.rfft(window * np.hanning(len(window)))) ** 2
    frequencies = np.fft.rfftfreq(len(window), 1 / TONE_RATE)
    peak = frequencies[int(np.argmax(power))]
    band = np.abs(frequencies - peak) < 20
    return float(peak), float(10 * np.log10(power[~band].sum() / power[band].sum()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each test master")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rates-") as folder:
        rows = []
        for name, fps, method in CASES:
            wall, cpu = picture_cost(make_master(Path(folder), fps, args.seconds), method)
            rows.append((name, wall * 60 / args.seconds, cpu * 60 / args.seconds))
    base_wall, base_cpu = rows[0][1], rows[0][2]
    print(f"Broadcast picture (1080i25 MPEG-2 50 Mb/s) per minute of 1080p master ({args.seconds:g} s masters, extrapolated):")
    print(f"  {'conversion':<24}{'wall':>10}{'CPU':>10}{'CPU vs none':>13}")
    for name, wall, cpu in rows:
        print(f"  {name:<24}{wall:>9.1f}s{cpu:>9.1f}s{cpu / base_cpu:>12.2f}x")
    print(f"  (wall vs none: {', '.join(f'{name.split()[0]} {wall / base_wall:.2f}x' for name, wall, _ in rows[1:])})")
    speed = float(Fraction(25) / Fraction(24000, 1001))
    print("Sound stretched 23.976 -> 25, a 1 kHz tone:")
    for name, stretch in (("atempo (used)", f"atempo={speed:.8f}"), ("rubberband", f"rubberband=tempo={speed:.8f}"),
                          ("rubberband smooth/long", f"rubberband=tempo={speed:.8f}:transients=smooth:window=long")):
        hertz, noise = tone_quality(stretch)
        print(f"  {name:<24}{hertz:>8.1f} Hz, noise and distortion {noise:.1f} dB")


if __name__ == "__main__":
    main()
