"""A bad package gets exit 2 and a message naming the file, the problem and the fix; nothing is
rendered. Each case is built here from a copy of the sample."""

from __future__ import annotations

import pytest

from tests.conftest import run_versioner

pytestmark = [pytest.mark.ffmpeg]


def _render(package, tmp_path, fast_config):
    out = tmp_path / "out"
    result = run_versioner("render", str(package), "--out", str(out), "--config", str(fast_config))
    return result, out


def _nothing_rendered(out) -> bool:
    return not out.exists() or not any(path.suffix == ".mp4" for path in out.rglob("*"))


def test_package_without_master(sample_copy, tmp_path, fast_config):
    (sample_copy / "news-sample.mov").unlink()
    result, out = _render(sample_copy, tmp_path, fast_config)
    assert result.returncode == 2
    assert "holds no master video" in result.stderr
    assert "add exactly one master file (.mov, .mp4, .mxf or .mkv)" in result.stderr
    assert _nothing_rendered(out)


def test_package_with_two_masters(sample_copy, tmp_path, fast_config):
    (sample_copy / "second-cut.mp4").write_bytes((sample_copy / "news-sample.mov").read_bytes())
    result, out = _render(sample_copy, tmp_path, fast_config)
    assert result.returncode == 2
    assert "holds 2 masters (news-sample.mov, second-cut.mp4)" in result.stderr
    assert "keep exactly one master per package" in result.stderr
    assert _nothing_rendered(out)


@pytest.mark.parametrize("content, expected", [
    (b"title: [unclosed\n", "metadata.yaml"),
    (b"\xff\xfe\x00binary\x00garbage", "metadata.yaml"),
])
def test_unreadable_metadata(sample_copy, tmp_path, fast_config, content, expected):
    (sample_copy / "metadata.yaml").write_bytes(content)
    result, out = _render(sample_copy, tmp_path, fast_config)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "fix:" in result.stderr
    assert _nothing_rendered(out)


def test_missing_metadata_file(sample_copy, tmp_path, fast_config):
    (sample_copy / "metadata.yaml").unlink()
    result = run_versioner("check", str(sample_copy))
    assert result.returncode == 2
    assert "has no metadata.yaml" in result.stderr and "title:" in result.stderr


def test_check_accepts_the_sample():
    result = run_versioner("check", "media_samples/news-sample")
    assert result.returncode == 0, result.stderr
    assert "2026-11-20-harbour-bridge-reopens" in result.stdout
    assert "layout mix-me" in result.stdout


def test_ffmpeg_missing_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("FFMPEG_BINARY", str(tmp_path / "no-such-ffmpeg"))
    result = run_versioner("check", "media_samples/news-sample")
    assert result.returncode == 3
    assert "FFMPEG_BINARY" in result.stderr and "no-such-ffmpeg" in result.stderr
