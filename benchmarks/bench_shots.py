"""What the automatic shot list costs beside the render (target: under 5 % of its wall time).

It makes the render benchmark's package (benchmarks/bench_render.py: a 1080p25 ProRes master,
a full mix and an M&E, two SRT languages), renders it with `pipeline.sequence.render_package`
with the shot list off, then runs the shot detection alone as the render's last step runs it (on
the delivered clean master: the reduced-size decode, the scene measure and the thumbnails), and
prints both wall times and their ratio. When PySceneDetect (`scenedetect`) is
installed, it is timed on the same master for comparison (it is not a dependency).

    python benchmarks/bench_shots.py [--duration 60] [--preset veryfast]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_render import RESULTS, make_package, make_picture_loop  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.intake.submission import check_submission  # noqa: E402
from pipeline.media.shots import find_shots  # noqa: E402
from pipeline.sequence import render_package  # noqa: E402

TARGET_RATIO = 0.05


def _config(folder: Path, preset: str, shots: bool) -> Path:
    path = folder / f"bench-shots-{'on' if shots else 'off'}.toml"
    path.write_text(f'[profiles.web]\npreset = "{preset}"\ncrf = 23\n\n[shots]\nenabled = {str(shots).lower()}\n')
    return path


def _pyscenedetect_s(master: Path) -> tuple[float, int] | None:
    try:
        from scenedetect import ContentDetector, detect
    except ImportError:
        return None
    begun = time.monotonic()
    scenes = detect(str(master), ContentDetector())
    return time.monotonic() - begun, len(scenes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="master length in seconds (default 60)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset of the render (default veryfast)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-shots-") as scratch:
        folder = Path(scratch)
        loop = make_picture_loop(folder / "loop.mov", 4.0)
        package = make_package(folder / "package", args.duration, loop)
        begun = time.monotonic()
        report = render_package(package, folder / "out", load_config(_config(folder, args.preset, False)))
        render_s = time.monotonic() - begun
        assert report.exit_code == 0, [(item.key, item.reason) for item in report.failed]
        config = load_config(_config(folder, args.preset, True))
        submission = check_submission(package, config)
        begun = time.monotonic()  # as the render's last step runs it: on the delivered clean master
        shots = find_shots(submission, report.folder, config, report.deliverables)
        shots_s = time.monotonic() - begun
        other = _pyscenedetect_s(submission.package.master)
    ratio = shots_s / render_s
    result = {"duration_s": args.duration, "preset": args.preset, "render_wall_s": round(render_s, 2),
              "shots_wall_s": round(shots_s, 2), "shots": len(shots), "ratio": round(ratio, 4),
              "target": TARGET_RATIO, "method": config.shots.method, "width": config.shots.width,
              "load_after": [round(value, 1) for value in os.getloadavg()]}
    if other is not None:
        result["pyscenedetect_wall_s"], result["pyscenedetect_shots"] = round(other[0], 2), other[1]
    print(f"render (shot list off)   {render_s:8.1f} s")
    print(f"shot detection           {shots_s:8.1f} s   {len(shots)} shots ({config.shots.method}, "
          f"{config.shots.width} px wide decode, thumbnails)")
    if other is not None:
        print(f"PySceneDetect            {other[0]:8.1f} s   {other[1]} shots (ContentDetector, full-size decode)")
    print(f"ratio shots/render       {ratio:8.3f}   target < {TARGET_RATIO}: {'ok' if ratio < TARGET_RATIO else 'MISSED'}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"bench_shots-{args.duration:g}s.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
