"""The asset page `index.html` of a delivery: what a public video portal shows of an item (title,
publication and filming dates, description, shot list, production notes, music credits, usage
rights), every version playable in a `<video>` element with a poster frame cut from its own
file (`<asset_id>_<key>_poster.jpg`: a player shows it before anything is loaded, where it would
otherwise stay black), subtitled ones with their WebVTT `<track>`, and a download list (file,
what it is, size, sha256).

One file with no script and nothing fetched from elsewhere: the media, subtitles and pictures it
shows are the files beside it, linked by relative names, so the folder can be served as it is by
any web server or opened from a share. Every value that came from the package is HTML-escaped.
It and its posters are written before SHA256SUMS, which therefore covers them.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from pipeline.delivery.contact_sheets import contact_sheet_command
from pipeline.delivery.report import escaped, file_size, version_and_profile
from pipeline.errors import FFmpegError
from pipeline.files import sha256_of, write_atomically
from pipeline.media import ffmpeg
from pipeline.parallel import SideBySide
from pipeline.render.sheet_frames import PLAYABLE, POSTER_AT, POSTER_WIDTH

log = logging.getLogger(__name__)

FILENAME = "index.html"
CHECKSUMS = "SHA256SUMS"

STYLE = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; margin: 0 auto; max-width: 1000px; padding: 0 20px 40px;
       color: #111827; background: #fff; font-size: 15px; line-height: 1.45; }
h1 { font-size: 26px; margin: 22px 0 6px; } h2 { font-size: 19px; margin-top: 30px; border-bottom: 1px solid #d1d5db; }
.dates { color: #4b5563; margin: 0 0 12px; } .text { white-space: pre-wrap; }
.version { margin: 18px 0; } .version h3 { font-size: 16px; margin: 0 0 6px; }
video { width: 100%; max-width: 960px; background: #000; display: block; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { border: 1px solid #d1d5db; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; } .mono { font-family: 'DejaVu Sans Mono', monospace; font-size: 11px; word-break: break-all; }
.shot img { width: 160px; display: block; }
"""


_e = escaped  # the QC report's escaper: one rule for every page the delivery carries


POSTER_SUFFIX = "_poster.jpg"

_PROFILE_NAMES = {"broadcast": "broadcast MXF", "mezzanine": "ProRes mezzanine"}


def version_title(key: str) -> str:
    """The portal's name of a deliverable: its version, and its profile when it is not the web file."""
    version, profile = version_and_profile(key)
    if profile != "web":
        return f"{version_title(version)}, {_PROFILE_NAMES.get(profile, profile)}"
    if key == "master-clean":
        return "Master"
    if key == "international":
        return "International version (music and effects only)"
    if key == "textless":
        return "Textless version (no burned-in text)"
    if key.startswith("subtitled-"):
        return f"Master with subtitles ({key.removeprefix('subtitled-')})"
    return key


def what_it_is(name: str, asset_id: str, deliverables: dict[str, str]) -> str:
    """A line a producer understands for each file of the folder."""
    if name in deliverables:
        return version_title(deliverables[name]) + ", video"
    rest = name.removeprefix(asset_id)
    for suffix, kind in ((".ebu-tt-d.xml", "EBU-TT-D"), (".ttml", "IMSC 1.1 Text (TTML)"),
                         (".srt", "SubRip"), (".vtt", "WebVTT")):
        if rest.startswith(".") and rest.endswith(suffix):
            return f"Subtitles ({rest[1:-len(suffix)]}), {kind}"
    known = {"_metadata.json": "Metadata, JSON (descriptive, technical, QC, provenance)",
             "_ebucore.xml": "Metadata, EBUCore XML", "_qc.html": "Quality-control report"}
    if rest in known:
        return known[rest]
    if name == CHECKSUMS:
        return "Checksums of every file (sha256sum -c SHA256SUMS)"
    if re.fullmatch(r"_shot-\d{4}\.jpg", rest):
        return "Shot thumbnail"
    if rest.startswith("_") and rest.endswith(POSTER_SUFFIX):
        return f"Poster frame of the player: {version_title(rest[1:-len(POSTER_SUFFIX)])}"
    return "File"


def _field(label: str, value: object) -> str:
    if value in (None, "", []):
        return ""
    if isinstance(value, list):
        items = "".join(f"<li>{_e(item)}</li>" for item in value)
        return f"<h2>{_e(label)}</h2><ul>{items}</ul>"
    return f"<h2>{_e(label)}</h2><div class='text'>{_e(value)}</div>"


def _music_credits(credits: list[dict]) -> str:
    if not credits:
        return ""
    items = []
    for credit in credits:
        parts = [f"<b>{_e(credit.get('title'))}</b>"]
        if credit.get("composers"):
            parts.append("composed by " + _e(", ".join(credit["composers"])))
        for key in ("performer", "publisher", "library"):
            if credit.get(key):
                parts.append(f"{key} {_e(credit[key])}")
        items.append("<li>" + "; ".join(parts) + "</li>")
    return f"<h2>Music credits</h2><ul>{''.join(items)}</ul>"


def poster_name(asset_id: str, key: str) -> str:
    return f"{asset_id}_{key}{POSTER_SUFFIX}"


def _played(document: dict) -> list[dict]:
    """The delivered files a browser's player plays: broadcast MXF and ProRes files are for
    download, not for a player."""
    return [item for item in document["deliverables"]
            if item.get("state") == "delivered" and (item.get("file") or "").endswith(PLAYABLE)]


def write_posters(folder: Path, document: dict, rendered: Mapping[str, Path] | None = None) -> list[str]:
    """A poster frame for each player at its display shape: the one the render cut from its own
    decode of that picture (`rendered`, by deliverable key), else one cut from its own file, side
    by side. A frame that cannot be cut is logged and its player goes without: the page is a
    help, not a deliverable."""
    items = [item for item in _played(document) if (item.get("technical") or {}).get("video")]
    with SideBySide(name="poster") as workers:
        written = workers.map(lambda item: _write_poster(folder, document["asset_id"], item, rendered or {}), items)
    return [name for name in written if name]


def _write_poster(folder: Path, asset_id: str, item: dict, rendered: Mapping[str, Path]) -> str | None:
    technical = item["technical"]
    video = technical["video"]
    name = poster_name(asset_id, item["key"])
    if item["key"] in rendered and rendered[item["key"]].is_file():
        shutil.copyfile(rendered[item["key"]], folder / name)  # the files sharing a picture share its frame
        return name
    width, height = video.get("display_size") or (video["width"], video["height"])
    command = contact_sheet_command(folder / item["file"], [technical["duration_s"] * POSTER_AT], width, height,
                                    folder / name, columns=1, thumbnail_width=min(POSTER_WIDTH, width // 2 * 2))
    try:
        ffmpeg.run(command, limit=ffmpeg.DEFAULT_LIMIT, what=f"poster frame of {item['file']}")
    except FFmpegError as error:
        log.warning("%s: no poster frame for %s, its player shows black until played: %s",
                    asset_id, item["key"], error.reason)
        (folder / name).unlink(missing_ok=True)
        return None
    return name


def _versions(folder: Path, document: dict) -> str:
    blocks = []
    asset_id = document["asset_id"]
    for item in _played(document):
        key = item["key"]
        track = ""
        if key.startswith("subtitled-"):
            language = key.removeprefix("subtitled-")
            track = (f"<track kind='subtitles' src='{_e(f'{asset_id}.{language}.vtt')}' "
                     f"srclang='{_e(language)}' label='{_e(language)}'>")
        poster = poster_name(asset_id, key)
        poster = f" poster='{_e(poster)}'" if (folder / poster).is_file() else ""
        textless = ", textless picture" if item.get("picture") == "textless" and key != "textless" else ""
        blocks.append(f"<div class='version' data-version='{_e(key)}'><h3>{_e(version_title(key) + textless)}</h3>"
                      f"<video controls preload='metadata'{poster} src='{_e(item['file'])}'>{track}</video></div>")
    return "<h2>Watch</h2>" + "".join(blocks) if blocks else ""


def _shots(document: dict) -> str:
    """The shots found in the master (pipeline.media.shots), when the sidecar has them."""
    shots = document.get("shots") or []
    if not shots:
        return ""
    rows = "".join(
        f"<tr class='shot'><td>{number}</td><td>{_e(shot.get('in_timecode'))}</td><td>{_e(shot.get('out_timecode'))}"
        f"</td><td>{shot.get('duration_s', 0):.2f} s</td><td>"
        + (f"<img src='{_e(shot['thumbnail'])}' alt='shot {number}'>" if shot.get("thumbnail") else "")
        + "</td></tr>" for number, shot in enumerate(shots, 1))
    return ("<h2>Shots found in the master</h2><table id='shots'><tr><th>#</th><th>in</th><th>out</th><th>duration</th>"
            f"<th>picture</th></tr>{rows}</table>")


def _textless(document: dict) -> str:
    """Which versions show the textless picture, and the inserts it was made with."""
    textless = document["source"].get("textless")
    if not textless:
        return ""
    versions = ", ".join(version_title(key) for key in textless["versions"]) or "none delivered"
    if textless["form"] == "programme":
        return (f"<h2>Textless</h2><p id='textless'>On the textless picture (a whole textless programme "
                f"supplied with the master): {_e(versions)}.</p>")
    rows = "".join(f"<tr class='insert'><td>{insert['number']}</td><td>{_e(insert['replaces'])}</td>"
                   f"<td>{_e(insert['duration'])}</td><td>{_e(insert['from'])} of {_e(insert.get('file') or 'the master')}"
                   "</td></tr>" for insert in textless["inserts"])
    return (f"<h2>Textless</h2><p id='textless'>On the textless picture: {_e(versions)}.</p>"
            "<table id='textless-inserts'><tr><th>insert</th><th>replaces</th><th>duration</th><th>from</th></tr>"
            f"{rows}</table>")


def _downloads(folder: Path, document: dict) -> str:
    asset_id = document["asset_id"]
    hashes = {item["file"]: item.get("technical", {}).get("sha256") for item in document["deliverables"]
              if item.get("file")}
    keys = {item["file"]: item["key"] for item in document["deliverables"] if item.get("file")}
    rows = []
    names = sorted(path.name for path in folder.iterdir()
                   if path.is_file() and not path.name.startswith(".") and path.name not in (FILENAME, CHECKSUMS))
    for name in names:
        path = folder / name
        rows.append(_download_row(name, what_it_is(name, asset_id, keys), file_size(path.stat().st_size),
                                  hashes.get(name) or sha256_of(path)))
    # Written after this page, so that it covers it: listed, its own figures inside it.
    rows.append(_download_row(CHECKSUMS, what_it_is(CHECKSUMS, asset_id, keys), "", "listed in the file itself"))
    return ("<h2>Download</h2><table id='downloads'><tr><th>file</th><th>what it is</th><th>size</th><th>sha256</th></tr>"
            + "".join(rows) + "</table>")


def _download_row(name: str, what: str, size: str, digest: str) -> str:
    return (f"<tr><td><a href='{_e(name)}' download>{_e(name)}</a></td><td>{_e(what)}</td>"
            f"<td>{_e(size)}</td><td class='mono'>{_e(digest)}</td></tr>")


def asset_page_html(folder: Path, document: dict) -> str:
    """The page of the delivery being staged in `folder`, from its metadata sidecar `document`."""
    descriptive = document.get("descriptive", {})
    dates = [f"{label} {_e(descriptive[key])}" for key, label in
             (("publication_date", "Published"), ("filming_date", "Filmed")) if descriptive.get(key)]
    body = [f"<h1>{_e(descriptive.get('title'))}</h1>",
            f"<p class='dates'>{' · '.join(dates)}</p>" if dates else "",
            f"<div class='text' id='description'>{_e(descriptive.get('description'))}</div>",
            _versions(folder, document),
            _textless(document),
            _field("Shot list", descriptive.get("shot_list")),
            _shots(document),
            _field("Production notes", descriptive.get("production_notes")),
            _music_credits(descriptive.get("music_credits") or []),
            _field("Usage rights", descriptive.get("usage_rights")),
            _field("Copyright", descriptive.get("copyright")),
            _downloads(folder, document)]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_e(descriptive.get('title'))}</title><style>{STYLE}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")


def write_asset_page(folder: Path, document: dict, posters_cut: bool = False) -> Path:
    """The page and its players' posters (unless `posters_cut`: `write_posters` ran already), in
    the delivery folder being staged."""
    if not posters_cut:
        write_posters(folder, document)
    path = folder / FILENAME
    write_atomically(path, asset_page_html(folder, document))
    return path
