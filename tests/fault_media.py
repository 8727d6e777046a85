"""Small inputs for the reliability tests, made with ffmpeg in the test: a master whose picture
changes every frame (testsrc2), two stereo audio streams titled "Full mix" and "M&E" (the mix is
the M&E plus a "narration" tone, so every M&E check passes), and packages around it. Masters
can leave out the picture or the sound, to be refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline.media.ffmpeg import ffmpeg_binary

TITLES = ("Full mix", "M&E")
# Config for tests that render: fast x264 (correctness, not picture quality, is under test).
RENDER_CONFIG = """
[profiles.web]
preset = "ultrafast"
crf = 30
"""


def make_master(path: Path, *, seconds: float = 2.0, size: tuple[int, int] = (320, 180),
                video: bool = True, audio: bool = True, fps: int = 25) -> Path:
    width, height = size
    me = "0.1*sin(2*PI*220*t)|0.1*sin(2*PI*330*t)"
    mix = "0.1*sin(2*PI*220*t)+0.2*sin(2*PI*700*t)|0.1*sin(2*PI*330*t)+0.2*sin(2*PI*700*t)"
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    maps: list[str] = []
    if video:
        command += ["-f", "lavfi", "-i", f"testsrc2=s={width}x{height}:r={fps}:d={seconds}"]
        maps += ["-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        first = 1 if video else 0
        command += ["-f", "lavfi", "-i", f"aevalsrc={mix}:s=48000:d={seconds}",
                    "-f", "lavfi", "-i", f"aevalsrc={me}:s=48000:d={seconds}"]
        maps += ["-map", f"{first}:a", "-map", f"{first + 1}:a", "-c:a", "pcm_s16le"]
        for index, title in enumerate(TITLES):
            maps += [f"-metadata:s:a:{index}", f"title={title}", f"-metadata:s:a:{index}", f"handler_name={title}"]
    subprocess.run(command + maps + [str(path)], check=True, capture_output=True, timeout=120)
    return path


def srt_text(*cues: tuple[float, float, str]) -> str:
    def stamp(seconds: float) -> str:
        ms = round(seconds * 1000)
        return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"
    return "".join(f"{n}\n{stamp(a)} --> {stamp(b)}\n{text}\n\n" for n, (a, b, text) in enumerate(cues, 1))


def make_package(folder: Path, *, master_name: str = "show.mov", asset_id: str = "fault-test",
                 srts: dict[str, str] | None = None, master: Path | None = None, **master_options) -> Path:
    """A package: the master (made, or copied from `master`), `<stem>.<lang>.srt` files, metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / master_name
    if master is not None:
        target.write_bytes(master.read_bytes())
    else:
        make_master(target, **master_options)
    for language, text in (srts or {}).items():
        (folder / f"{target.stem}.{language}.srt").write_text(text, encoding="utf-8")
    (folder / "metadata.yaml").write_text(f"title: Reliability test\nasset_id: {asset_id}\nlanguage: en\n",
                                          encoding="utf-8")
    return folder


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def mentions(folder: Path, needle: bytes) -> list[Path]:
    """Every file under `folder` whose bytes contain `needle`."""
    return [path for path in files_under(folder) if needle in path.read_bytes()]
