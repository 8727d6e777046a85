"""Every output is a profile: web, broadcast and mezzanine go through the same builders, so what
one profile's file shows, the others' show too. A config written for the old `[delivery]` table
is refused with where its keys went; a producer's verdict names the files the render writes;
and a master with alpha is flattened onto the same colour in every profile, measured on the
delivered files."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.intake.submission import check_submission
from pipeline.ops.dropbox import accepted_text
from pipeline.sequence import render_package
from tests.inbox_packages import make_master, make_package
from tests.media import frame_at
from tests.test_real_masters import alpha_master
from tests.test_real_masters import make_package as make_real_package

THREE = ["web", "broadcast", "mezzanine"]


@pytest.mark.parametrize("key, new_place", [
    ("preset", "[profiles.web] preset"),
    ("audio_bitrate", "[profiles.web.audio] bitrate"),
    ("alpha_background", "[conform] alpha_background"),
])
def test_a_config_with_the_old_delivery_table_is_refused_with_where_its_key_went(tmp_path, key, new_place):
    config = tmp_path / "site.toml"
    config.write_text(f'[delivery]\n{key} = "x"\n')
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    message = str(refused.value)
    assert str(config) in message and f"[delivery.{key}]" in message and new_place in message


def test_web_is_a_profile_table_like_the_others(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text('[profiles.web]\npreset = "slow"\n')
    loaded = load_config(config)
    assert loaded.profiles["web"].preset == "slow" and loaded.profiles["web"].crf == 18  # a key overlaid, not the table
    assert list(loaded.profiles) == THREE


@pytest.mark.ffmpeg
def test_a_broadcast_drop_s_verdict_names_the_mxf_files_the_render_writes(tmp_path):
    master = make_master(tmp_path / "show.mov", seconds=1.0)
    package = make_package(tmp_path / "drop", "verdict-names", master)
    config = load_config(profiles=["web", "broadcast"])
    text = accepted_text("drop", "verdict-names", check_submission(package, config), config)
    named = [line.strip() for line in text.splitlines() if line.startswith("  verdict-names_")]
    assert "verdict-names_master-clean.mp4" in named and "verdict-names_master-clean_broadcast.mxf" in named
    assert "verdict-names_international_broadcast.mxf" in named and "verdict-names_subtitled-en_broadcast.mxf" in named
    assert not [name for name in named if name.endswith("_broadcast.mp4")]


@pytest.mark.ffmpeg
def test_alpha_goes_onto_one_background_colour_in_every_profile(tmp_path, fast_config):
    package = make_real_package(tmp_path / "alpha", alpha_master(seconds=1.0))
    config_file = tmp_path / "blue.toml"
    config_file.write_text(fast_config.read_text() + '\n[conform]\nalpha_background = "#1E3CC8"\n')
    report = render_package(package, tmp_path / "out", load_config(config_file, profiles=THREE))
    assert not report.failed, [item.reason for item in report.failed]
    files = {item.key: report.folder / item.file for item in report.deliverables if item.file}
    assert {"master-clean", "master-clean_broadcast", "master-clean_mezzanine"} <= set(files)
    for key in ("master-clean", "master-clean_broadcast", "master-clean_mezzanine"):
        picture = frame_at(files[key], 0.5).astype(float)
        width = picture.shape[1]
        transparent = picture[20:-20, width // 20: width * 4 // 10].reshape(-1, 3).mean(axis=0)
        opaque = picture[20:-20, width * 6 // 10: width * 19 // 20].reshape(-1, 3).mean(axis=0)
        # #1E3CC8 is RGB (30, 60, 200); a limited-range round trip and 4:2:0 keep it within a few steps
        assert np.allclose(transparent, (30, 60, 200), atol=12), (key, transparent)
        assert opaque.min() > 225, (key, opaque)
