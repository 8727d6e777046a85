"""The QC report `<asset_id>_qc.html`: what a technician looks at before signing a delivery off.

One self-contained HTML file (pictures inline: contact sheets as base64 PNG, charts as SVG;
no script, nothing fetched): a PASS / WARNING / FAIL banner, the outputs as versions x profiles
(a row per version, a column per profile; each file's verdict, size and sound on one line, its
technical facts and tracks one by one in a `<details>` a click away, so four versions in three
profiles fit on one laptop screen), the descriptive metadata, a contact sheet per deliverable
(frames cut by ffmpeg; subtitled versions show frames inside cues, so the burn-in can be
judged), the short-term loudness of each deliverable against the target, the subtitle timeline
per language with QC findings marked, the M&E checks, and the provenance.

The charts are inline SVG (pipeline.delivery.charts). Every value that came from the package
is HTML-escaped: a title is untrusted input like any other.
"""

from __future__ import annotations

import html
import logging
import tempfile
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

from pipeline.config import Config
from pipeline.delivery import qc
from pipeline.delivery.charts import loudness_svg, subtitle_svg
from pipeline.delivery.contact_sheets import contact_sheet_command, cut_sheets, png_uri
from pipeline.errors import FFmpegError
from pipeline.files import write_atomically
from pipeline.media import ffmpeg

log = logging.getLogger(__name__)

VERDICT_TEXT = {"pass": "PASS", "warning": "WARNING", "fail": "FAIL"}


def filename(asset_id: str) -> str:
    return f"{asset_id}_qc.html"


def escaped(value: object) -> str:
    """Text of the package (or anything) made safe inside HTML text and attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


_e = escaped  # short: it wraps nearly every value in this module's markup


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours:02d}:{minutes:02d}:{rest:04.1f}"


# --- HTML --------------------------------------------------------------------------------------

STYLE = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; margin: 0 auto; max-width: 1120px; padding: 0 20px 40px;
       color: #111827; background: #fff; font-size: 14px; }
h1 { font-size: 22px; margin: 18px 0 4px; } h2 { font-size: 18px; margin-top: 30px; border-bottom: 1px solid #d1d5db; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.banner { padding: 16px 20px; border-radius: 6px; color: #fff; margin-top: 16px; }
.banner .word { font-size: 30px; font-weight: bold; letter-spacing: 2px; margin-right: 16px; }
.pass { background: #15803d; } .warning { background: #b45309; } .fail { background: #b91c1c; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { border: 1px solid #d1d5db; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; } td.mono, span.mono { font-family: 'DejaVu Sans Mono', monospace; font-size: 11px; word-break: break-all; }
.state-delivered { color: #15803d; font-weight: bold; } .state-failed { color: #b91c1c; font-weight: bold; }
.sev-warning { color: #b45309; font-weight: bold; } .sev-error { color: #b91c1c; font-weight: bold; }
img, svg.chart { max-width: 100%; height: auto; display: block; border: 1px solid #d1d5db; }
.caption, .note { color: #4b5563; font-size: 12px; margin: 4px 0; } pre { white-space: pre-wrap; margin: 0; font-family: inherit; }
#outputs tr > th:first-child { white-space: nowrap; } #outputs td.none { color: #9ca3af; } #outputs th .container { font-weight: normal; color: #4b5563; }
a.verdict { color: #fff; font-weight: bold; font-size: 12px; padding: 1px 6px; border-radius: 3px; text-decoration: none; }
.reason { color: #b91c1c; font-size: 12px; } summary { cursor: pointer; font-size: 13px; margin-top: 2px; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 8px; margin: 4px 0 0; font-size: 12px; }
dt { color: #4b5563; } dd { margin: 0; }
"""


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """`rows` hold HTML already escaped by the caller."""
    head = "".join(f"<th>{_e(header)}</th>" for header in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _banner(document: dict) -> str:
    verdict = document["qc"]["verdict"]
    deliverables = document["deliverables"]
    delivered = sum(item["state"] == "delivered" for item in deliverables)
    findings = [finding for item in deliverables for finding in item.get("qc", [])]
    errors = sum(finding["severity"] == "error" for finding in findings)
    warnings = sum(finding["severity"] == "warning" for finding in findings)
    summary = (f"{delivered} of {len(deliverables)} deliverables delivered · {errors} error(s) · "
               f"{warnings} warning(s)")
    return (f"<div class='banner {_e(verdict)}' id='verdict' data-verdict='{_e(verdict)}'>"
            f"<span class='word'>{VERDICT_TEXT[verdict]}</span>{_e(summary)}</div>")


def _descriptive_section(descriptive: dict) -> str:
    fields = ["title", "description", "publication_date", "filming_date", "organisation", "copyright",
              "usage_rights", "language", "locations", "keywords"]
    rows = []
    for name in fields:
        value = descriptive.get(name)
        if value in (None, "", []):
            continue
        text = ", ".join(str(item) for item in value) if isinstance(value, list) else str(value)
        rows.append([_e(name.replace("_", " ")), f"<pre>{_e(text)}</pre>"])
    return "<h2>Descriptive metadata</h2>" + _table(["field", "value"], rows)


def _video_text(video: dict | None) -> str:
    if not video:
        return "none"
    profile = f" {video['profile']}" if video.get("profile") else ""
    fields = FIELD_ORDERS.get(video.get("field_order") or "", "")
    return (f"{video['codec']}{profile}, {video['width']}x{video['height']}, "
            f"{video.get('fps_float', video['fps'])} fps{fields}, {video.get('pix_fmt') or '?'}")


FIELD_ORDERS = {"tff": " interlaced (top field first)", "bff": " interlaced (bottom field first)"}


def _level(value: float | None, unit: str) -> str:
    """A level in the sidecar is null where it is minus infinity (silence)."""
    return f"-inf {unit}" if value is None else f"{value:.1f} {unit}"


def _loudness_text(measured: dict) -> str:
    if not measured:
        return ""
    return _e(f"I {_level(measured.get('integrated_lufs'), 'LUFS')}, TP {_level(measured.get('true_peak_dbtp'), 'dBTP')}, "
              f"LRA {_level(measured.get('lra_lu'), 'LU')}")


def _loudness_lines(measured: dict) -> str:
    """The file's loudness, or each delivered pair's where a profile file carries several."""
    pairs = [f"{_e(SOUND_NAMES.get(sound, sound))}: {_loudness_text(values)}"
             for sound, values in (measured.get("tracks") or {}).items()]
    return "<br>".join(pairs) or _loudness_text(measured)


# --- the outputs: a row per version, a column per profile ---------------------------------------

AUDIO_CODECS = {"aac": "AAC", "pcm_s16le": "PCM 16-bit", "pcm_s24le": "PCM 24-bit", "pcm_s32le": "PCM 32-bit",
                "ac3": "AC-3", "eac3": "E-AC-3", "mp3": "MP3", "opus": "Opus"}
SOUND_NAMES = {"mix": "full mix", "me": "M&E", "mute": "silent", "ad": "audio description"}
"""What a track carries, by the family of its channels' roles (mix_l, mix_r: mix). Other
families (dialogue, music, effects) are shown by their own name."""


def version_and_profile(key: str) -> tuple[str, str]:
    """A deliverable's key taken apart (pipeline.deliverables.Deliverable.key): `<version>` for
    the web file, `<version>_<profile>` for the others."""
    version, _, profile = key.partition("_")
    return version, profile or "web"


def file_size(count: int) -> str:
    if count < 1000:
        return f"{count} bytes"
    scaled = float(count)
    for unit in ("kB", "MB", "GB"):
        scaled /= 1000
        if scaled < 1000 or unit == "GB":
            break
    return f"{scaled:.1f} {unit}"


def track_kind(stream: dict) -> str:
    """'PCM 24-bit mono', 'AAC stereo'; the sample rate only where it is not the usual 48 kHz."""
    layout = stream.get("channel_layout") or f"{stream['channels']} channels"
    rate = "" if stream.get("sample_rate") == 48000 else f" {stream['sample_rate'] / 1000:g} kHz"
    return f"{AUDIO_CODECS.get(stream['codec'], stream['codec'])} {layout}{rate}"


def track_sound(roles: list[str]) -> str:
    families = dict.fromkeys(role.split("_")[0] for role in roles)
    return " + ".join(SOUND_NAMES.get(family, family) for family in families) or "roles not recorded"


def sound_summary(audio: list[dict]) -> str:
    """A file's sound on one line, as a technician says it: '8 x PCM 24-bit mono: 1-2 full mix,
    3-4 M&E, 5-8 silent', 'AAC stereo: M&E'. Neighbouring tracks with the same sound are one
    range; the tracks one by one are in the cell's details."""
    if not audio:
        return "no sound"
    kinds = list(dict.fromkeys(track_kind(stream) for stream in audio))
    roles = [list(stream.get("roles") or []) for stream in audio]
    if len(audio) == 1:
        return f"{kinds[0]}: {_surround_named(roles[0], track_sound(roles[0]))}"
    head = f"{len(audio)} x {kinds[0]}" if len(kinds) == 1 else f"{len(audio)} tracks ({', '.join(kinds)})"
    runs: list[list] = []  # [first track, last track, sound, roles so far]
    for number, (sound, track) in enumerate(zip(map(track_sound, roles), roles), 1):
        # the same sound goes on, unless a channel comes again (a stereo mix, then the 5.1 mix)
        if runs and runs[-1][2] == sound and not set(track) & set(runs[-1][3]) - {"mute"}:
            runs[-1][1] = number
            runs[-1][3] += track
        else:
            runs.append([number, number, sound, list(track)])
    return head + ": " + ", ".join(
        f"{first}-{last} {_surround_named(run_roles, sound)}" if last > first else f"{first} {_surround_named(run_roles, sound)}"
        for first, last, sound, run_roles in runs)


def _surround_named(roles: list[str], sound: str) -> str:
    """'5.1 full mix' for the tracks of a 5.1 sound (its centre, LFE and surrounds among them)."""
    return f"5.1 {sound}" if any(role.endswith(("_c", "_lfe", "_ls", "_rs")) for role in roles) else sound


def _track_text(number: int, stream: dict) -> str:
    parts = [f"{number}: {stream['codec']} {stream['sample_rate'] / 1000:g} kHz "
             f"{stream.get('channel_layout') or stream['channels']}", "/".join(stream.get("roles") or [])]
    parts += [f"'{stream['title']}'" if stream.get("title") else "", stream.get("language") or ""]
    return ", ".join(part for part in parts if part)


def conversion_text(conversion: dict) -> str:
    """'23.976 -> 25 fps by speed (x1.0427, sound time-stretched), starts 10:00:00:00'."""
    rates = " -> ".join(f"{float(Fraction(conversion[key])):.3f}".rstrip("0").rstrip(".") for key in ("from_fps", "to_fps"))
    how = (f"speed (x{conversion['speed']:.4f}, sound time-stretched)" if conversion["method"] == "speed"
           else f"{conversion['method']} (duration kept)")
    start = f", starts {conversion['start_timecode']}" if conversion.get("start_timecode") else ""
    return f"{rates} fps by {how}{start}"


def _file_details(item: dict) -> str:
    """Everything read back from the file, for the technician who opens the cell's details."""
    technical = item["technical"]
    audio = technical.get("audio") or []
    facts = [("file", _e(item.get("file"))), ("picture", _e(_video_text(technical.get("video")))),
             ("duration", f"{technical['duration_s']:.3f} s"),
             ("loudness", _loudness_lines(item.get("loudness") or {})),
             ("tracks", "<br>".join(_e(_track_text(number, stream)) for number, stream in enumerate(audio, 1))
              or "none")]
    if technical.get("subtitle_streams"):
        facts.append(("subtitles", f"{technical['subtitle_streams']} soft track(s)"))
    if item.get("frame_rate_conversion"):
        facts.append(("frame rate", _e(conversion_text(item["frame_rate_conversion"]))))
    facts.append(("sha256", f"<span class='mono'>{_e(technical.get('sha256'))}</span>"))
    return "<dl>" + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts) + "</dl>"


def _file_cell(item: dict) -> str:
    """One file: its verdict (a link to its section), its size, its sound, and the rest a click away."""
    technical = item.get("technical") or {}
    verdict = qc.verdict_of([item])
    cell = (f"<a class='verdict {verdict}' href='#deliverable-{_e(item['key'])}'>{VERDICT_TEXT[verdict]}</a> "
            + (_e(file_size(technical["size_bytes"])) if technical else "<span class='state-failed'>not delivered</span>"))
    if item.get("reason"):
        cell += f"<div class='reason'>{_e(item['reason'])}</div>"
    if technical:
        cell += (f"<details><summary>{_e(sound_summary(technical.get('audio') or []))}</summary>"
                 f"{_file_details(item)}</details>")
    return f"<td data-key='{_e(item['key'])}'>{cell}</td>"


def _outputs_section(document: dict) -> str:
    """Versions x profiles: a delivery of four versions in three profiles on one screen."""
    grid: dict[str, dict[str, dict]] = {}
    for item in document["deliverables"]:
        version, profile = version_and_profile(item["key"])
        grid.setdefault(version, {})[profile] = item
    profiles = list(dict.fromkeys(profile for row in grid.values() for profile in row))
    head = "".join(f"<th>{_e(profile)}{_containers(grid, profile)}</th>" for profile in profiles)
    rows = "".join(f"<tr><th>{_e(version)}</th>"
                   + "".join(_file_cell(row[profile]) if profile in row else "<td class='none'>not asked for</td>"
                             for profile in profiles) + "</tr>" for version, row in grid.items())
    sidecars = document["sidecars"]
    extra = [f"{document['asset_id']}.{language}.{suffix}" for language in sidecars["subtitles"] for suffix in ("srt", "vtt")]
    extra += [f"{document['asset_id']}_metadata.json", sidecars["ebucore"], sidecars["qc_report"], "SHA256SUMS"]
    return (f"<h2>Outputs</h2><table id='outputs'><tr><th>version</th>{head}</tr>{rows}</table>"
            "<p class='note'>A file's sound opens its details: tracks, picture, loudness, sha256. "
            f"Also in the folder: {_e(', '.join(extra))}. <code>sha256sum -c SHA256SUMS</code> verifies every file.</p>")


def _containers(grid: dict[str, dict[str, dict]], profile: str) -> str:
    found = dict.fromkeys((row[profile].get("technical") or {}).get("container") for row in grid.values()
                          if profile in row)
    return "".join(f" <span class='container'>{_e(container)}</span>" for container in found if container)


def _findings_table(findings: list[dict]) -> str:
    if not findings:
        return "<p class='note'>No QC findings.</p>"
    rows = [[f"<span class='sev-{_e(f['severity'])}'>{_e(f['severity'])}</span>", _e(f["check"]),
             _e(f.get("timecode", "")), _e(f.get("measured", "")), _e(f.get("limit", "")), _e(f["message"])]
            for f in findings]
    return _table(["severity", "check", "timecode", "measured", "limit", "message"], rows)


def _deliverables_section(submission, results: list, document: dict) -> str:
    entries = {item["key"]: item for item in document["deliverables"]}
    parts = ["<h2>Deliverables</h2>"]
    for result in results:
        item = entries[result.key]
        parts.append(f"<h3 id='deliverable-{_e(result.key)}'>{_e(result.key)} · "
                     f"<span class='state-{_e(result.state)}'>{_e(result.state)}</span></h3>")
        if result.delivered and result.file:
            parts.append(_contact_sheet_section(submission, result))
        parts.append(_findings_table(item.get("qc", [])))
    return "".join(parts)


def _contact_sheet_section(submission, result) -> str:
    sheet = result.contact_sheet
    if sheet is None:
        return "<p class='note'>No picture to show.</p>"
    if sheet.uri is None:
        log.warning("%s: no contact sheet for %s: %s", submission.asset_id, result.key, sheet.error)
        return f"<p class='note'>No contact sheet: {_e(sheet.error)}</p>"
    cue_set = {round(time, 3) for time in sheet.cues}
    captions = " · ".join(_clock(time) + (" (in a cue)" if round(time, 3) in cue_set else "")
                          for time in sheet.times)
    return (f"<img class='sheet' alt='Frames of {_e(result.file)}' src='{sheet.uri}'>"
            f"<p class='caption'>Frames at {_e(captions)}</p>")


TEXTLESS_COLUMNS = 6
"""Inserts shown side by side with their texted frames in the report (the first ones)."""


def _textless_section(submission, results: list, document: dict, folder: Path, scratch: Path) -> str:
    """Each insert: where it lands, where it came from, the offset measured in each textless file,
    and its middle frame as delivered under the master's texted frame it replaces."""
    textless = document["source"].get("textless")
    if not textless or submission.textless is None:
        return ""
    measured = {item["key"]: {match["number"]: match for match in item.get("textless_inserts", [])}
                for item in document["deliverables"] if item.get("textless_inserts")}
    rows = [[str(insert["number"]), _e(insert["replaces"]), _e(insert["duration"]),
             _e(f"{insert['from']} of {insert.get('file') or 'the master'}"),
             _e("; ".join(f"{key}: {_offset_text(matches.get(insert['number']))}" for key, matches in measured.items())
                or "not measured")]
            for insert in textless["inserts"]]
    text = (f"<h2>Textless</h2><p class='note'>On the textless picture: "
            f"{_e(', '.join(textless['versions']) or 'none delivered')}.</p>"
            + _table(["insert", "replaces", "duration", "from", "measured where it landed"], rows))
    shown = next((result for result in results if result.delivered and result.deliverable is not None
                  and result.deliverable.picture == "textless"), None)
    if shown is None:
        return text
    fps, first = submission.fps, round(submission.programme.start_s * submission.fps)
    middles = [insert.replaces + insert.frames // 2 for insert in submission.textless.inserts[:TEXTLESS_COLUMNS]]
    width, height = submission.media.picture.display_size
    try:
        rows_png = []
        for source, offset, name in ((submission.package.master, 0, "texted"), (folder / shown.file, first, "textless")):
            output = scratch / f"textless-{name}.png"
            ffmpeg.run(contact_sheet_command(source, [(frame - offset - 0.25) / fps for frame in middles],
                                             width, height, output, columns=len(middles)),
                       limit=ffmpeg.DEFAULT_LIMIT, what=f"{name} frames of the textless inserts")
            rows_png.append(png_uri(output.read_bytes()))
    except FFmpegError as error:
        return text + f"<p class='note'>No pictures of the inserts: {_e(error.reason)}</p>"
    return (text + f"<img class='sheet' alt='Texted frames replaced' src='{rows_png[0]}'>"
            f"<img class='sheet' alt='Textless inserts as delivered in {_e(shown.file)}' src='{rows_png[1]}'>"
            "<p class='caption'>Top: the master's texted frame at the middle of each insert's range; "
            f"below: the same frame of {_e(shown.file)}.</p>")


def _offset_text(match: dict | None) -> str:
    if match is None:
        return "not measured"
    offset = match["offset_frames"]
    return "in place" if offset == 0 else f"matches best {abs(offset)} frames {'earlier' if offset < 0 else 'later'}"


def _chart(svg: str | None, missing: str) -> str:
    return f"<p class='note'>{_e(missing)}</p>" if svg is None else svg


def _loudness_section(results: list, config: Config) -> str:
    target = config.loudness
    profiles = sorted({result.deliverable.profile for result in results if result.deliverable is not None})
    own = [f"the {name} files to {(loud := config.loudness_for(name)).standard}: {loud.target_lufs:g} LUFS "
           f"+/- {loud.tolerance_lu:g} LU, true peak at most {loud.true_peak_dbtp:g} dBTP"
           for name in profiles if name in config.profiles and config.profiles[name].loudness is not None]
    return (f"<h2>Loudness</h2><p class='note'>{_e(target.standard)}: {target.target_lufs:g} LUFS integrated "
            f"+/- {target.tolerance_lu:g} LU, true peak at most {target.true_peak_dbtp:g} dBTP"
            + "".join(f"; {_e(text)}" for text in own)
            + ", measured per ITU-R BS.1770 on each delivered file.</p>"
            + _chart(loudness_svg(results, config), "No loudness curve was measured."))


def _sync_text(analysis, language: str) -> str:
    """The cue timing against the speech in the sound (pipeline.subtitles.sync), where it was estimated."""
    for estimate in getattr(analysis, "subtitle_sync", []):
        if estimate.language == language:
            if estimate.offset_s is None:
                return f"<p class='note'>Timing against the speech ({_e(estimate.source)}): no reliable estimate.</p>"
            return (f"<p class='note'>Timing against the speech ({_e(estimate.source)}): "
                    f"{estimate.offset_s:+.2f} s (limit {estimate.limit_s:g} s, agreement {estimate.agreement:.2f}).</p>")
    return ""


def _subtitles_section(submission, analysis) -> str:
    if not submission.subtitles and not submission.subtitle_failures:
        return "<h2>Subtitles</h2><p class='note'>The package has no subtitles.</p>"
    parts = ["<h2>Subtitles</h2>", _chart(subtitle_svg(submission), "No language could be read.")]
    for language, reason in sorted(submission.subtitle_failures.items()):
        parts.append(f"<p class='sev-error'>{_e(language)}: not rendered: {_e(reason)}</p>")
    for language in sorted(submission.subtitles):
        track = submission.subtitles[language]
        sync_findings = [estimate.finding for estimate in getattr(analysis, "subtitle_sync", []) if estimate.finding]
        findings = [finding.to_dict() | {"check": finding.rule}
                    for finding in submission.subtitle_findings + sync_findings if finding.language == language]
        parts.append(f"<h3>{_e(language)} · {len(track.cues)} cues, read as {_e(track.encoding)}</h3>")
        parts.append(_sync_text(analysis, language) + _findings_table(findings))
    return "".join(parts)


def _me_section(analysis) -> str:
    report = analysis.me_report
    if report is None:
        return ("<h2>M&amp;E checks</h2><p class='note'>Not run: the master has no M&amp;E channels or "
                "stems, so no international version can be made from it.</p>")
    rows = [[f"<span class='{'state-delivered' if check.passed else 'state-failed'}'>"
             f"{'passed' if check.passed else 'FAILED'}</span>", _e(check.name), _e(check.measured),
             _e(check.limit), _e(check.message)] for check in report.checks]
    return (f"<h2>M&amp;E checks</h2><p class='note'>M&amp;E taken from: {_e(report.source)}</p>"
            + _table(["result", "check", "measured", "limit", "message"], rows))


def _shots_section(document: dict) -> str:
    """The shots found in the master beside the producer's own shot list. No pictures here (the
    report stays one light file): the thumbnails are files of the delivery, named in the table."""
    found = document.get("shots") or []
    written = document["descriptive"].get("shot_list") or []
    rows = [[str(shot["number"]), _e(shot["in_timecode"]), _e(shot["out_timecode"]), f"{shot['duration_s']:.2f} s",
             _e(shot.get("thumbnail") or "-")] for shot in found]
    table = _table(["#", "in", "out", "duration", "thumbnail"], rows) if rows else \
        "<p class='note'>No shot list (shot detection is off, or it failed: see the log).</p>"
    producer = "".join(f"<li>{_e(line)}</li>" for line in written)
    return (f"<h2>Shots ({len(found)} found in the master)</h2>{table}"
            + (f"<h3>Shot list as the producer wrote it</h3><ul>{producer}</ul>" if producer else ""))


def _provenance_value(value) -> str:
    """A list as one line; an earlier attempt (a dict) as how it ended and when."""
    if not isinstance(value, list):
        return str(value)
    if any(isinstance(item, dict) for item in value):
        return "; ".join(f"{item['message']} ({item.get('when') or 'unknown time'})" for item in value)
    return ", ".join(value)


def _provenance_section(document: dict) -> str:
    provenance = document["provenance"]
    rows = [[_e(key.replace("_", " ")), f"<span class='mono'>{_e(_provenance_value(value))}</span>"]
            for key, value in provenance.items() if value not in (None, "", []) and key != "timings"]
    layout = document["source"]["audio_layout"]
    rows.insert(0, [_e("source master"), _e(document["source"]["master"])])
    rows.insert(1, [_e("audio layout"), _e(f"{layout['name']} (from {layout['detected_by']}): "
                                           f"{', '.join(layout['channels'])}")
                    + "".join(f"<br>{_e(line)}" for line in [layout.get("evidence", "")] if line)
                    + "".join(f"<br>{_e(sound)} from {_e(origin)}" for sound, origin in layout.get("sounds", {}).items())])
    return "<h2>Provenance</h2>" + _table(["what", "value"], rows) + _timings_table(provenance.get("timings"))


def _timings_table(timings: dict | None) -> str:
    """Where the package's time went: each step, then each file's read-back inside verify."""
    if not timings:
        return ""
    rows = [[_e(step), f"{seconds:.2f} s"] for step, seconds in timings.get("steps_s", {}).items()]
    rows += [[f"verify: {_e(name)}", f"{seconds:.2f} s"] for name, seconds in timings.get("verify_s", {}).items()]
    return ("<h3 id='timings'>Time per step</h3><p class='note'>Wall seconds. Publish is counted up to the "
            "metadata sidecar; the run's log has the whole step.</p>" + _table(["step", "seconds"], rows))


def report_html(submission, analysis, results: list, document: dict, config: Config,
                folder: Path, scratch: Path) -> str:
    """The whole page. `folder` holds the delivered files; `scratch` takes the contact sheets
    not cut while the files were read back."""
    title = document["descriptive"]["title"]
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cut_sheets(submission, results, folder, scratch, config.limits)  # those not cut while read back
    body = [f"<h1>QC report: {_e(title)}</h1>",
            f"<p class='note'>Asset <b>{_e(document['asset_id'])}</b> · made {_e(made)} · "
            f"pipeline {_e(document['provenance']['pipeline_version'])}</p>",
            _banner(document), _outputs_section(document), _deliverables_section(submission, results, document),
            _textless_section(submission, results, document, folder, scratch),
            _loudness_section(results, config), _subtitles_section(submission, analysis),
            _me_section(analysis), _shots_section(document), _descriptive_section(document["descriptive"]),
            _provenance_section(document)]
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>QC {_e(document['asset_id'])}</title><style>{STYLE}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")


def write_report(path: Path, submission, analysis, results: list, document: dict, config: Config) -> None:
    """Write the report beside the delivered files it describes (they are in `path.parent`)."""
    with tempfile.TemporaryDirectory(prefix="versioner-qc-") as scratch:
        page = report_html(submission, analysis, results, document, config, path.parent, Path(scratch))
    write_atomically(path, page)
    log.info("%s: QC report %s (%s)", submission.asset_id, path.name, document["qc"]["verdict"].upper())
