"""Hostile input: files that are not what their name says, names that try to leave their
folder, links that point outside the package, and names that are merely awkward.

What is bad is refused before anything renders, with a message naming the file, the problem and
the fix; what is only awkward renders like any other package. A crafted playlist must never make
ffmpeg read another file: its contents must appear in no output, log or message.
"""

from __future__ import annotations

import io
import os
import random
import uuid

import pytest
from PIL import Image

from pipeline.analysis import analyse_audio
from pipeline.config import load_config
from pipeline.errors import MediaError, MetadataError, PackageError, SubtitleError
from pipeline.intake.submission import check_submission
from pipeline.media.probe import probe
from pipeline.sequence import render_package
from tests.conftest import run_versioner
from tests.fault_media import RENDER_CONFIG, files_under, make_master, make_package, mentions, srt_text
from tests.media import frame_at

ALLOWED = load_config().media.allowed_containers


@pytest.fixture
def secret(tmp_path):
    """A file outside every package that a crafted master tries to read."""
    token = f"SECRET-{uuid.uuid4().hex}"
    path = tmp_path / "private" / "secret.ts"
    path.parent.mkdir()
    path.write_text(f"{token}\n")
    return path, token


@pytest.fixture(scope="module")
def render_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "render.toml"
    path.write_text(RENDER_CONFIG)
    return path


def _image(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 30, 30)).save(buffer, format=kind)
    return buffer.getvalue()


def _hostile_files(secret_path) -> dict[str, tuple[bytes, str]]:
    noise = random.Random(8).randbytes(4096)
    return {
        "hls playlist": (f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\nfile:{secret_path}\n"
                         "#EXT-X-ENDLIST\n".encode(), "is an HLS playlist"),
        "concat list": (f"ffconcat version 1.0\nfile '{secret_path}'\n".encode(), "is an ffmpeg concat list"),
        "png image": (_image("PNG"), "is a PNG image"),
        "jpeg image": (_image("JPEG"), "is a JPEG image"),
        "text": (b"Final cut approved by the editor, see the shared drive\n", "is a text file"),
        "binary noise": (b"\x00\x01" + noise, "is not a video container we accept"),
        "empty": (b"", "is empty (0 bytes)"),
    }


@pytest.mark.parametrize("kind", ["hls playlist", "concat list", "png image", "jpeg image", "text",
                                  "binary noise", "empty"])
def test_what_is_not_a_master_is_refused_whatever_its_name(tmp_path, secret, kind):
    content, phrase = _hostile_files(secret[0])[kind]
    for name in ("master.mov", "master.mp4", "master.mkv", "master.mxf"):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(MediaError) as caught:
            probe(path, ALLOWED)
        message = str(caught.value)
        assert message.startswith(f"{path}: {phrase}"), message
        assert "fix: " in message
        assert secret[1] not in message


@pytest.mark.ffmpeg
@pytest.mark.parametrize("kind", ["hls playlist", "concat list"])
def test_a_playlist_master_is_refused_by_check_and_render_and_leaks_nothing(tmp_path, secret, kind,
                                                                           render_config, isolated_prefect):
    path, token = secret
    package = make_package(tmp_path / "package", master=path)  # a real package around it...
    (package / "show.mov").write_bytes(_hostile_files(path)[kind][0])  # ...whose master is a playlist
    out = tmp_path / "out"
    checked = run_versioner("check", str(package))
    rendered = run_versioner("render", str(package), "--out", str(out), "--config", str(render_config))
    for result in (checked, rendered):
        assert result.returncode == 2, result.stderr
        assert f"show.mov: {_hostile_files(path)[kind][1]}" in result.stderr
        assert "nothing was rendered" in result.stderr
        assert token not in result.stdout + result.stderr
    assert not mentions(out, token.encode()), "the secret reached the delivery folder"
    assert not mentions(isolated_prefect, token.encode()), "the secret reached Prefect's logs"
    assert not [p for p in files_under(out) if p.suffix in (".mp4", ".mov")]


@pytest.mark.ffmpeg
def test_a_master_swapped_for_a_playlist_after_the_check_is_still_refused(tmp_path, secret, render_config):
    """ffmpeg is held to the demuxer the check found: it never probes the file again."""
    path, token = secret
    package = make_package(tmp_path / "package")
    config = load_config(render_config)
    submission = check_submission(package, config)
    (package / "show.mov").write_bytes(_hostile_files(path)["hls playlist"][0])
    with pytest.raises(MediaError) as caught:
        analyse_audio(submission, config)
    assert str(caught.value).startswith(f"{package / 'show.mov'}: is damaged: ffmpeg cannot decode it")
    assert token not in str(caught.value) + str(caught.value.__cause__ or "")


@pytest.mark.ffmpeg
def test_the_container_allowlist_comes_from_the_config(tmp_path):
    package = make_package(tmp_path / "package", master_name="show.mkv")
    assert check_submission(package, load_config()).media.container.startswith("matroska")
    only_mov = tmp_path / "only-mov.toml"
    only_mov.write_text('[media]\nallowed_containers = ["mov,mp4,m4a,3gp,3g2,mj2"]\n')
    with pytest.raises(MediaError) as caught:
        check_submission(package, load_config(only_mov))
    assert str(caught.value) == (
        f"{package / 'show.mkv'}: is matroska, which the configuration does not allow "
        "(media.allowed_containers: mov,mp4,m4a,3gp,3g2,mj2)\n"
        "  fix: deliver the master in one of the allowed containers")


AWKWARD = "it's [a], b: c\\d — Ђ"


@pytest.mark.ffmpeg
def test_awkward_file_names_render_correctly(tmp_path, render_config, ffmpeg_commands):
    """Quotes, brackets, commas, colons, a backslash, a dash and Cyrillic in the master's and the
    SRT's names: ffmpeg gets them only as `file:` inputs, the filter graph only safe work names."""
    package = make_package(tmp_path / "package", master_name=f"{AWKWARD}.mov", asset_id="awkward-names",
                           srts={"fr": srt_text((0.4, 1.6, "Bonjour à tous"))})
    assert {p.name for p in package.iterdir()} >= {f"{AWKWARD}.mov", f"{AWKWARD}.fr.srt"}
    report = render_package(package, tmp_path / "out", load_config(render_config))
    assert {r.key: r.state for r in report.deliverables} == {
        "master-clean": "delivered", "international": "delivered", "subtitled-fr": "delivered"}
    clean = report.folder / "awkward-names_master-clean.mp4"
    subtitled = report.folder / "awkward-names_subtitled-fr.mp4"
    lower = slice(100, 180)
    ink = abs(frame_at(clean, 1.0)[lower].astype(int) - frame_at(subtitled, 1.0)[lower].astype(int)).max(axis=2)
    assert (ink > 60).sum() > 200, "the French subtitle is not burned in"
    assert "Bonjour à tous" in (report.folder / "awkward-names.fr.srt").read_text(encoding="utf-8")
    # The commands as logged for a technician (shell-quoted), read back into argument lists.
    commands = ffmpeg_commands()
    master = f"file:{package / f'{AWKWARD}.mov'}"
    on_master = [c for c in commands if master in c]
    assert len(on_master) >= 3, commands  # the loudness pass, the M&E checks and the render at least
    for command in on_master:
        assert "-nostdin" in command
        options = command[:command.index(master)]  # the master's input options end with "-i"
        options = options[len(options) - options[::-1].index("-protocol_whitelist") - 1:]
        assert options[1] == "file,pipe" and options[-1] == "-i", options
        pairs = list(zip(options, options[1:]))
        assert ("-f", "mov") in pairs and ("-format_whitelist", "mov") in pairs, options
        graph = command[command.index("-filter_complex") + 1]
        assert AWKWARD not in graph and "Ђ" not in graph, "the name leaked into a filter graph"


@pytest.mark.ffmpeg
@pytest.mark.parametrize("name", ["concat:show.mov", "-i show.mov", "subfile,,start,0,end,9,,:x.mov"])
def test_a_master_named_like_an_option_or_protocol_is_just_a_file(tmp_path, monkeypatch, name):
    package = tmp_path / "package"
    package.mkdir()
    make_master(package / name)
    (package / "metadata.yaml").write_text("title: Names\nasset_id: names\n", encoding="utf-8")
    monkeypatch.chdir(package)  # so the path handed on is the bare name
    submission = check_submission(".", load_config())
    assert submission.media.duration_s == pytest.approx(2.0, abs=0.05)
    assert submission.layout.name == "mix-me"


@pytest.mark.ffmpeg
@pytest.mark.parametrize("asset_id", ["../escaped", "../../outbox/other-asset", "/tmp/escaped", "..", "a/b"])
def test_an_asset_id_that_would_leave_the_outbox_is_refused(tmp_path, asset_id, render_config):
    package = make_package(tmp_path / "work" / "package")
    (package / "metadata.yaml").write_text(f"title: Escape\nasset_id: '{asset_id}'\n", encoding="utf-8")
    before = set(files_under(tmp_path))
    with pytest.raises(MetadataError) as caught:
        render_package(package, tmp_path / "work" / "out", load_config(render_config))
    message = str(caught.value)
    assert message.startswith(f"{package / 'metadata.yaml'}: asset_id: '{asset_id}' is not safe as a folder name")
    assert "fix: use lowercase letters, digits and dashes" in message
    assert set(files_under(tmp_path)) == before, "something was written"
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "work" / "escaped").exists()


@pytest.mark.ffmpeg
@pytest.mark.parametrize("srt_name, shown_tag", [("show....srt", ".."), ("show.fr..srt", "fr."),
                                                 ("show.fr\\..\\x.srt", "fr\\..\\x")])
def test_a_language_tag_that_looks_like_a_path_is_refused(tmp_path, srt_name, shown_tag):
    package = make_package(tmp_path / "package")
    (package / srt_name).write_text(srt_text((0.2, 1.0, "Hello")), encoding="utf-8")
    with pytest.raises(SubtitleError) as caught:
        check_submission(package, load_config())
    message = str(caught.value)
    assert message.startswith(f"{package / srt_name}: '{shown_tag}' is not a language tag"), message
    assert "fix: name it show.<lang>.srt, e.g. show.fr.srt" in message


@pytest.mark.ffmpeg
def test_a_language_in_the_metadata_that_looks_like_a_path_is_refused(tmp_path):
    package = make_package(tmp_path / "package")
    (package / "metadata.yaml").write_text("title: Escape\nlanguage: ../../etc\n", encoding="utf-8")
    with pytest.raises(MetadataError, match=r"metadata.yaml: language: '../../etc' is not a BCP 47 language tag\n  fix: "):
        check_submission(package, load_config())


@pytest.mark.ffmpeg
@pytest.mark.parametrize("entry", ["show.mov", "show.en.srt", "metadata.yaml", "extras"])
def test_a_symlink_pointing_outside_the_package_is_refused(tmp_path, secret, entry):
    outside = tmp_path / "elsewhere"
    make_package(outside, srts={"en": srt_text((0.2, 1.0, "Hello"))})
    package = make_package(tmp_path / "package", srts={"en": srt_text((0.2, 1.0, "Hello"))})
    target = secret[0].parent if entry == "extras" else outside / entry
    (package / entry).unlink(missing_ok=True)
    (package / entry).symlink_to(target)
    with pytest.raises(PackageError) as caught:
        check_submission(package, load_config())
    assert str(caught.value) == (f"{package / entry}: is a symbolic link pointing outside the package "
                                 f"(to {target})\n  fix: put the file itself into the package folder")


@pytest.mark.ffmpeg
def test_a_chain_of_links_that_ends_outside_is_refused_and_links_inside_are_accepted(tmp_path, secret):
    package = make_package(tmp_path / "package", srts={"en": srt_text((0.2, 1.0, "Hello"))})
    (package / "originals").mkdir()
    os.replace(package / "show.en.srt", package / "originals" / "show.en.srt")
    (package / "show.en.srt").symlink_to("originals/show.en.srt")
    assert list(check_submission(package, load_config()).subtitles) == ["en"]
    (package / "hop").symlink_to(secret[0])
    (package / "show.en.srt").unlink()
    (package / "show.en.srt").symlink_to("hop")
    with pytest.raises(PackageError, match="pointing outside the package"):
        check_submission(package, load_config())
