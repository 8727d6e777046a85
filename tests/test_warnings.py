"""Nothing fails silently: where the pipeline carries on without something it could not read, it
says at warning level what was lost and what that changes. (The fourth case, a night on a server
without the render deployment, is in tests/test_cli_commands.py beside the other server tests.)"""

from __future__ import annotations

import logging
import subprocess
import time

import av
import pytest

from pipeline.config import load_config
from pipeline.media import probe
from pipeline.media.ffmpeg import ffmpeg_binary
from pipeline.ops import lifecycle


def _warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


def _png_movie(path, frames: int = 10):
    """A MOV of PNG frames: each frame is a whole PNG, so one can be broken on its own."""
    subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"testsrc2=s=64x36:r=25,trim=end_frame={frames}", "-c:v", "png", str(path)],
                   check=True, capture_output=True, timeout=60)
    return path


@pytest.mark.ffmpeg
def test_a_rotation_that_cannot_be_read_is_named_with_what_it_risks(tmp_path, caplog):
    master = _png_movie(tmp_path / "master.mov")
    data = bytearray(master.read_bytes())
    first = data.find(b"\x89PNG\r\n\x1a\n")
    data[first:first + 8] = bytes(8)  # the first frame no longer decodes: its rotation is unknown
    master.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="pipeline.media.probe"):
        info = probe.probe(master)
    assert info.picture.rotation == 0
    assert any("rotation unreadable" in line and "a portrait video would go out sideways" in line
               for line in _warnings(caplog)), _warnings(caplog)


class _DemuxerFailingAfter:
    """A real container whose demuxer fails after `packets` packets, as one reading a damaged
    file does (a fault a short test file cannot be made to cause on every FFmpeg build)."""

    def __init__(self, container, packets: int):
        self.container, self.packets, self.name = container, packets, container.name

    def seek(self, offset: int) -> None:
        self.container.seek(offset)

    def demux(self, stream):
        for count, packet in enumerate(self.container.demux(stream)):
            if count == self.packets:
                raise av.InvalidDataError(-1094995529, "Invalid data found when processing input")
            yield packet


@pytest.mark.ffmpeg
def test_a_frame_rate_reading_cut_short_is_named_with_what_it_risks(tmp_path, caplog):
    with av.open(str(_png_movie(tmp_path / "master.mov", frames=20))) as container:
        with caplog.at_level(logging.WARNING, logger="pipeline.media.probe"):
            intervals = probe._frame_intervals(_DemuxerFailingAfter(container, 6), container.streams.video[0])
    assert intervals == pytest.approx([0.04] * 5)  # what was read before the fault is kept
    [warning] = _warnings(caplog)
    assert "frame timestamps unreadable after 6 frames" in warning
    assert "a variable rate may be taken for a constant one" in warning


def test_a_claim_that_cannot_be_read_is_named_and_kept_until_it_is_stale(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("VERSIONER_HOME", str(tmp_path / "home"))
    settings = tmp_path / "stale.toml"
    settings.write_text("[limits]\nstale_claim_hours = 0.0005\n")  # 1.8 s
    config = load_config(settings)
    root = lifecycle.DataRoot.of(config)
    (root.inbox / "show").mkdir()
    (root.inbox / "show" / "metadata.yaml").write_text("title: Show\n")
    claim = lifecycle.claim(root, "show", "night-1")
    assert claim is not None
    (claim.path / lifecycle.CLAIM_FILE).write_text('{"host": "render-1", "pid": ', encoding="utf-8")  # cut short
    with caplog.at_level(logging.WARNING, logger="pipeline.ops.lifecycle"):
        assert lifecycle.recover_stale_claims(root, config, "night-2") == []
    assert claim.path.is_dir(), "a young claim stays with its run"
    [warning] = _warnings(caplog)
    assert f"{claim.path.name}: claim unreadable (JSONDecodeError" in warning
    assert "taken back only once older than limits.stale_claim_hours" in warning

    time.sleep(2.0)  # older than the limit now: no later moment can make it young again
    with caplog.at_level(logging.WARNING, logger="pipeline.ops.lifecycle"):
        [outcome] = lifecycle.recover_stale_claims(root, config, "night-3")
    assert outcome.state == "requeued" and outcome.attempts == 1 and not claim.path.exists()
