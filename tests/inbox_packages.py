"""Small packages and a data root for the lifecycle tests (submit, nightly, the Prefect server):
a 2 s 320x180 master with a full mix and an M&E made once by ffmpeg, copied into as many packages
as a test needs; and an ffmpeg wrapper that records every render and can fail one on purpose,
the way a killed encoder fails."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

from pipeline.media.ffmpeg import ffmpeg_binary

SRT_EN = "1\n00:00:00,400 --> 00:00:01,600\nA short test cue\n\n"


def make_master(path: Path, seconds: float = 2.0, codec: str = "libx264") -> Path:
    """A MOV master: a picture whose colour drifts, a stereo full mix and a stereo M&E, titled so
    the layout is detected. `codec="rawvideo"` makes a large file quickly (for copy tests)."""
    picture = f"color=c=0x203070:s=320x180:r=25:d={seconds},hue=h=t*70:s=1,format=yuv420p"
    me = "0.05*sin(2*PI*220*t)|0.05*sin(2*PI*330*t)"
    mix = "0.05*sin(2*PI*220*t)+0.1*sin(2*PI*440*t)|0.05*sin(2*PI*330*t)+0.1*sin(2*PI*440*t)"
    video = ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "10"] if codec == "libx264" else ["-c:v", codec]
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "lavfi", "-i", picture,
               "-f", "lavfi", "-i", f"aevalsrc={mix}:s=48000:d={seconds}",
               "-f", "lavfi", "-i", f"aevalsrc={me}:s=48000:d={seconds}",
               "-map", "0:v", "-map", "1:a", "-map", "2:a", *video, "-c:a", "pcm_s16le",
               "-metadata:s:a:0", "title=Full mix", "-metadata:s:a:1", "title=M&E", str(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return path


def make_package(folder: Path, asset_id: str, master: Path, title: str | None = None) -> Path:
    """A package folder `folder` with a copy of `master`, an English SRT and metadata.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(master, folder / "show.mov")
    (folder / "show.en.srt").write_text(SRT_EN, encoding="utf-8")
    (folder / "metadata.yaml").write_text(
        f"title: {title or 'Lifecycle test ' + asset_id}\nasset_id: {asset_id}\nlanguage: en\n"
        "publication_date: 2026-11-20\n", encoding="utf-8")
    return folder


HOLD_LIMIT_S = 900
"""A held render goes on after this long even if never released (a test that failed half-way)."""


def write_ffmpeg_wrapper(folder: Path, fail_once_for: str | None = None,
                         hold_for: str | None = None) -> tuple[Path, Path]:
    """An executable that runs the real ffmpeg, appending each render command (the one with
    `-c:v`: the one that encodes pictures) to `renders.log`. With `fail_once_for`, the first render of
    that asset writes 40 lines to stderr and is killed by SIGKILL, as an encoder killed by the system
    would be. With `hold_for`, a render of that asset creates `folder/held` and waits until the test
    creates `folder/release`: the run that started it stays in the middle of its work for exactly as
    long as the test needs.
    Returns (wrapper, renders.log)."""
    folder.mkdir(parents=True, exist_ok=True)
    log, marker = folder / "renders.log", folder / "failed-once"
    step = ""
    if hold_for:
        step = f"""
  case "$*" in *"/{hold_for}@"*)
    touch "{folder / 'held'}"
    i=0; while [ ! -e "{folder / 'release'}" ] && [ $i -lt {HOLD_LIMIT_S * 5} ]; do sleep 0.2; i=$((i+1)); done;;
  esac"""
    elif fail_once_for:
        step = f"""
  case "$*" in *"/{fail_once_for}@"*)
    if mkdir "{marker}" 2>/dev/null; then
      echo "FAILED-ON-PURPOSE $*" >> "{log}"
      i=1; while [ $i -le 40 ]; do echo "simulated encoder line $i" >&2; i=$((i+1)); done
      kill -KILL $$
    fi;;
  esac"""
    script = f"""#!/bin/sh
case "$*" in *" -c:v "*)
  echo "$*" >> "{log}";{step}
  ;;
esac
exec "{ffmpeg_binary()}" "$@"
"""
    wrapper = folder / "ffmpeg"
    wrapper.write_text(script)
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return wrapper, log


def renders_of(log: Path, asset_id: str) -> int:
    """How many render commands ran for `asset_id` (failed or not) according to the wrapper."""
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text().splitlines()
               if f"/{asset_id}@" in line and not line.startswith("FAILED-ON-PURPOSE"))


def delivered_run_id(outbox: Path, asset_id: str) -> str:
    """The flow run that rendered the delivery in the outbox, from its metadata provenance."""
    document = json.loads((outbox / asset_id / f"{asset_id}_metadata.json").read_text(encoding="utf-8"))
    return document["provenance"]["flow_run_id"]


def visible_entries(folder: Path) -> list[str]:
    return sorted(entry for entry in os.listdir(folder) if not entry.startswith("."))
