"""A small package whose metadata holds every awkward character a producer's text can hold,
for the tests of what travels with the delivered files (embedded tags, the metadata sidecar,
EBUCore, SHA256SUMS) and of the QC report.

The master is made with ffmpeg in the test: 320x180, 3 s, a moving test picture, and two stereo
PCM streams titled "Full mix" (music + a voice-band tone standing in for narration) and "M&E"
(the music alone), so the layout is detected from the titles and the M&E checks pass.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from pipeline.media.ffmpeg import ffmpeg_binary

# Quotes, newlines, `=`, `;`, `#`, markup, and Cyrillic, Arabic, CJK and emoji.
AWKWARD_METADATA = {
    "title": 'He said "hello"; a=b # not a comment\nЗдравствуй мир — مرحبا بالعالم — 你好世界 🎬',
    "asset_id": "awkward-tags",
    "description": ("Line one\nLine two with = and ; and # and 'single' and \"double\" quotes\n\n"
                    "<script>alert('x')</script> & <img src=x onerror=alert(1)>\n"
                    "Кириллица, العربية, 日本語, 🚀"),
    "publication_date": "2026-03-01",
    "filming_date": "2026-02-27",
    "copyright": "© 2026 Ünïcödé Ltd; all rights = reserved # ok",
    "usage_rights": "Editorial only.\nNo ads; credit \"Тест\" = required # always\nلا إعلانات",
    "organisation": "Organisation \"Ω\"; 東京 = #1",
    "language": "fr",
    "keywords": ["bridge", "мост", "جسر"],
}

SRT_FILES = {
    # Cue 2 is shown for less than 5/6 s: one QC warning the report must mark.
    "en": "1\n00:00:00,400 --> 00:00:01,400\nHello, <i>world</i>\n\n"
          "2\n00:00:01,800 --> 00:00:02,400\nToo quick\n",
    "sr-Latn": "1\n00:00:00,500 --> 00:00:01,900\nZdravo, svete — Đorđe\n\n"
               "2\n00:00:02,000 --> 00:00:02,900\nKraj\n",
}


def make_master(path: Path, *, seconds: float = 3.0, with_me: bool = True) -> Path:
    music = "0.08*sin(2*PI*220*t)"
    voice = "0.15*sin(2*PI*700*t)*(0.5+0.5*sin(2*PI*3*t))"
    streams = [("Full mix", f"{music}+{voice}|{music}+{voice}")]
    if with_me:
        streams.append(("M&E", f"{music}|{music}"))
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}"]
    for _title, expression in streams:
        command += ["-f", "lavfi", "-i", f"aevalsrc={expression}:s=48000:d={seconds}"]
    command += ["-map", "0:v"] + [arg for index in range(len(streams)) for arg in ("-map", f"{index + 1}:a")]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le"]
    for index, (title, _expression) in enumerate(streams):
        command += [f"-metadata:s:a:{index}", f"title={title}"]
    # A tag of the master's own that must not leak into the deliverables.
    command += ["-metadata", "comment=master from the edit suite", str(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return path


def make_package(folder: Path, metadata: dict | None = None, srts: dict[str, str] | None = None,
                 with_me: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    make_master(folder / "show.mov", with_me=with_me)
    for language, text in (SRT_FILES if srts is None else srts).items():
        (folder / f"show.{language}.srt").write_text(text, encoding="utf-8")
    text = yaml.safe_dump(AWKWARD_METADATA if metadata is None else metadata, allow_unicode=True, sort_keys=False)
    (folder / "metadata.yaml").write_text(text, encoding="utf-8")
    return folder


def render(package: Path, out: Path, config_file: Path):
    """The library render (no Prefect): the same steps as the flow, faster to start."""
    from pipeline.config import load_config
    from pipeline.sequence import render_package

    return render_package(package, out, load_config(config_file))
