"""Masters with burned-in "graphics" and their textless material, made with ffmpeg in the test.

The programme is 100 frames (4 s at 25 fps, 320x180) of a test picture that changes every
frame, after 10 frames of line-up (colour bars). Two "graphics" are burned in: a red box over
the top of the picture on programme frames 25-49 and 60-79 (master frames 35-59 and 70-89). The
textless material is those same frames without the box, in three forms:

- at the master's tail, after programme_end (master frame 110): insert 1 at 110-134, insert 2
  at 135-154;
- in a file of the package, `inserts.mov` (insert 1 at its frames 0-24, insert 2 at 25-44);
- as a whole textless programme, `show.textless.mov`, the master without the boxes.

Beside the package, lossless references of the programme with and without the boxes are what
the tests compare delivered frames against. The sound: a "Full mix" stream of music and a
700 Hz "voice", and an "M&E" stream of the music alone.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import yaml

from pipeline.media.ffmpeg import ffmpeg_binary

FPS = 25
LINE_UP = 10
PROGRAMME = 100
GRAPHICS = ((25, 50), (60, 80))
"""Programme frames [start, end) under a burned-in box."""
BOX = (20, 10, 280, 40)
"""x, y, width, height of the box."""
RENDER_CONFIG = '[profiles.web]\npreset = "ultrafast"\ncrf = 23\n'
MUSIC = "0.08*sin(2*PI*220*t)"
VOICE = "0.2*sin(2*PI*700*t)"


def _boxes() -> str:
    x, y, width, height = BOX
    enable = "+".join(f"between(n,{start},{end - 1})" for start, end in GRAPHICS)
    return f"drawbox=x={x}:y={y}:w={width}:h={height}:color=red@1:t=fill:enable='{enable}'"


def _run(command: list[str]) -> None:
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *command],
                   check=True, capture_output=True, timeout=120)


def _picture(parts: list[str], extra: str = "") -> str:
    """A graph from the test picture P (100 frames): `parts` are labels among lineup, texted,
    clean, ins1, ins2 joined in order into [v]. Only the branches used are made: ffmpeg 9 can
    abort on a graph of sources whose unused branches end in nullsink ("Assertion best_input >= 0
    failed"), now and then, so none is built."""
    size = "size=320x180:rate=25"
    made = {"texted": _boxes(), "clean": "null"}
    made |= {f"ins{number}": f"trim=start_frame={start}:end_frame={end},setpts=PTS-STARTPTS"
             for number, (start, end) in enumerate(GRAPHICS, start=1)}
    wanted = [name for name in dict.fromkeys(parts) if name in made]
    chains = [f"testsrc2={size}:duration=4,split={len(wanted)}" + "".join(f"[p{name}]" for name in wanted)] if wanted else []
    chains += [f"[p{name}]{made[name]}[{name}]" for name in wanted]
    if "lineup" in parts:
        chains.append(f"smptebars={size}:duration={LINE_UP / FPS}[lineup]")
    chains.append("".join(f"[{name}]" for name in parts) + f"concat=n={len(parts)}:v=1:a=0{extra}[v]")
    return ";".join(chains)


def _write_video(path: Path, parts: list[str], frames: int, sound: bool = True) -> Path:
    seconds = frames / FPS
    command = ["-filter_complex", _picture(parts)]
    if sound:
        command += ["-f", "lavfi", "-i", f"aevalsrc={MUSIC}+{VOICE}|{MUSIC}+{VOICE}:s=48000:d={seconds}",
                    "-f", "lavfi", "-i", f"aevalsrc={MUSIC}|{MUSIC}:s=48000:d={seconds}"]
    command += ["-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-pix_fmt", "yuv420p"]
    if sound:
        command += ["-map", "0:a", "-map", "1:a", "-c:a", "pcm_s16le",
                    "-metadata:s:a:0", "title=Full mix", "-metadata:s:a:1", "title=M&E"]
    _run(command + [str(path)])
    return path


def make_references(folder: Path) -> tuple[Path, Path]:
    """The programme with its boxes and without, lossless: (texted, clean)."""
    texted, clean = folder / "reference-texted.mkv", folder / "reference-clean.mkv"
    for path, graphics in ((texted, f",{_boxes()}"), (clean, "")):
        _run(["-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration=4{graphics}", "-c:v", "ffv1", str(path)])
    return texted, clean


def make_package(folder: Path, form: str, *, textless: list[dict] | None = None, srts: dict[str, str] | None = None,
                 metadata: dict | None = None) -> Path:
    """A package of the form "tail", "file" or "programme" (see the module's text); `textless`
    replaces the declared inserts."""
    folder.mkdir(parents=True, exist_ok=True)
    end = LINE_UP + PROGRAMME
    fields: dict = {"title": "Textless test", "asset_id": "textless-test", "language": "en",
                    "programme_start": "00:00:00:10", "programme_end": "00:00:04:10"}
    if form == "tail":
        _write_video(folder / "show.mov", ["lineup", "texted", "ins1", "ins2"], end + 45)
        fields["textless"] = [{"replaces": "00:00:01:10", "from": "00:00:04:10", "duration": "00:00:01:00"},
                              {"replaces": "00:00:02:20", "from": "00:00:05:10", "duration": 0.8}]
    elif form == "file":
        _write_video(folder / "show.mov", ["lineup", "texted"], end)
        _write_video(folder / "inserts.mov", ["ins1", "ins2"], 45, sound=False)
        fields["textless"] = [
            {"replaces": "00:00:01:10", "from": "00:00:00:00", "duration": "00:00:01:00", "file": "inserts.mov"},
            {"replaces": "00:00:02:20", "from": "00:00:01:00", "duration": "00:00:00:20", "file": "inserts.mov"}]
    elif form == "programme":
        _write_video(folder / "show.mov", ["lineup", "texted"], end)
        _write_video(folder / "show.textless.mov", ["lineup", "clean"], end)
    else:
        raise ValueError(form)
    if textless is not None:
        fields["textless"] = textless
    fields |= metadata or {}
    for language, text in (srts or {}).items():
        (folder / f"show.{language}.srt").write_text(text, encoding="utf-8")
    (folder / "metadata.yaml").write_text(yaml.safe_dump(fields, sort_keys=False), encoding="utf-8")
    return folder


def frames_of(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Every frame of the file's picture, RGB, as frames x height x width x 3 (small files only),
    scaled to `size` when given (a broadcast file is compared with the 320x180 references)."""
    scale = {"width": size[0], "height": size[1]} if size else {}
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24", **scale)
                         for frame in container.decode(video=0)]).astype(np.int16)


def box_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two frames inside the graphics' box."""
    x, y, width, height = BOX
    return float(np.abs(a[y:y + height, x:x + width] - b[y:y + height, x:x + width]).mean())


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())
