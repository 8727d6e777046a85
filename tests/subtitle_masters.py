"""Small packages for the subtitle tests, built with ffmpeg in the test: a plain picture whose
colour drifts over time (so every frame differs, but nothing on it looks like text), two stereo
audio streams titled "Full mix" and "M&E" (so the layout is detected), an optional start
timecode and an optional line-up, and SRT files written as given."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np

from pipeline.media.ffmpeg import ffmpeg_binary

FRAME_RATES = {"25": 25.0, "30000/1001": 30000 / 1001}


def make_master(path: Path, *, fps: str = "25", size: tuple[int, int] = (640, 360),
                seconds: float = 4.0, timecode: str | None = None) -> Path:
    """A MOV master: H.264 picture, full mix and M&E as PCM stereo streams."""
    width, height = size
    # Dark, saturated colours only: white subtitle fill never occurs in the clean picture.
    picture = (f"color=c=0x203070:s={width}x{height}:r={fps}:d={seconds},"
               f"hue=h=t*70:s=1,format=yuv420p")
    me = "0.05*sin(2*PI*220*t)|0.05*sin(2*PI*330*t)"
    mix = "0.05*sin(2*PI*220*t)+0.1*sin(2*PI*440*t)|0.05*sin(2*PI*330*t)+0.1*sin(2*PI*440*t)"
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "lavfi", "-i", picture,
               "-f", "lavfi", "-i", f"aevalsrc={mix}:s=48000:d={seconds}",
               "-f", "lavfi", "-i", f"aevalsrc={me}:s=48000:d={seconds}",
               "-map", "0:v", "-map", "1:a", "-map", "2:a",
               "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-g", "1",
               "-c:a", "pcm_s16le"]
    for index, title in enumerate(("Full mix", "M&E")):
        command += [f"-metadata:s:a:{index}", f"title={title}",
                    f"-metadata:s:a:{index}", f"handler_name={title}"]
    if timecode:
        command += ["-timecode", timecode]
    subprocess.run(command + [str(path)], check=True, capture_output=True, timeout=120)
    return path


def make_package(folder: Path, srts: dict[str, str], *, metadata: str = "", **master) -> Path:
    """A package folder: `show.mov`, `show.<lang>.srt` per entry of `srts`, metadata.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    make_master(folder / "show.mov", **master)
    for language, text in srts.items():
        (folder / f"show.{language}.srt").write_text(text, encoding="utf-8")
    (folder / "metadata.yaml").write_text(
        "title: Subtitle test\nasset_id: subtitle-test\nlanguage: en\n" + metadata, encoding="utf-8")
    return folder


def srt(*cues: tuple[str, str, str]) -> str:
    """SRT text from (start, end, text) with times as SRT writes them."""
    return "".join(f"{n}\n{start} --> {end}\n{text}\n\n" for n, (start, end, text) in enumerate(cues, 1))


def luma_frames(path: Path, rows: slice | None = None) -> np.ndarray:
    """Every frame's luma (Y plane, full resolution) in presentation order: frames x h x w."""
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            luma = frame.to_ndarray(format="gray")
            frames.append(luma if rows is None else luma[rows])
    return np.stack(frames)


def rgb_frame(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number == index:
                return frame.to_ndarray(format="rgb24")
    raise IndexError(f"{path.name} has no frame {index}")
