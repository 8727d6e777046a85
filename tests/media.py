"""What a tester does with outputs: decode a frame, decode audio, read streams. Uses the same
ffmpeg binary as the pipeline, independently of the pipeline's own code paths."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np

from pipeline.media.ffmpeg import ffmpeg_binary


def frame_at(path: Path, seconds: float) -> np.ndarray:
    """The RGB picture shown at `seconds` (accurate seek), as an array height x width x 3."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-ss", f"{seconds:.4f}",
               "-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    data = subprocess.run(command, capture_output=True, check=True, timeout=60).stdout
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)


def audio_of(path: Path, stream: int = 0, rate: int = 16000, mono: bool = True) -> np.ndarray:
    """One audio stream decoded to float samples."""
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
               "-map", f"0:a:{stream}", "-ac", "1" if mono else "2", "-ar", str(rate),
               "-f", "f32le", "pipe:1"]
    data = subprocess.run(command, capture_output=True, check=True, timeout=120).stdout
    samples = np.frombuffer(data, dtype="<f4")
    return samples if mono else samples.reshape(-1, 2)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    length = min(len(a), len(b))
    a, b = a[:length].astype(np.float64), b[:length].astype(np.float64)
    return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))


def decodes_whole(path: Path) -> bool:
    """ffmpeg decodes every stream to the end without an error message."""
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return result.returncode == 0 and not result.stderr.strip()
