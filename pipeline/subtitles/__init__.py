"""Subtitles: read untrusted SRT and WebVTT files (`reading`, `webvtt`), check them against the delivery rules (`qc`),
retime them to the programme (`timing`), write the sidecars (`writers`) and the ASS script that
burns them in (`burn_in`), and check their timing against the speech in the sound (`sync`).

Every time inside is an integer number of milliseconds; SRT, VTT and ASS time strings exist only
at the edges (reading and writing).
"""

from pipeline.subtitles.burn_in import to_ass, write_ass
from pipeline.subtitles.languages import iso639_2, language_from_filename, normalise_language_tag
from pipeline.subtitles.model import Cue, Finding, NoCueError, SubtitleTrack, format_timecode
from pipeline.subtitles.qc import qc_subtitles
from pipeline.subtitles.reading import read_srt, read_subtitles
from pipeline.subtitles.timing import programme_offset, retime, snap_to_frames, timecode_ms
from pipeline.subtitles.ttml import ttml_text, write_ttml
from pipeline.subtitles.writers import srt_text, vtt_text, write_srt, write_vtt

# Sidecar format -> (file suffix after <asset_id>.<lang>, writer).
SIDECAR_FORMATS = {
    "srt": (".srt", write_srt),
    "vtt": (".vtt", write_vtt),
    "ttml": (".ttml", lambda track, path: write_ttml(track, path, "imsc")),
    "ebu-tt-d": (".ebu-tt-d.xml", lambda track, path: write_ttml(track, path, "ebu-tt-d")),
}

__all__ = ["SIDECAR_FORMATS", "Cue", "Finding", "NoCueError", "SubtitleTrack", "format_timecode", "iso639_2", "language_from_filename",
           "normalise_language_tag", "programme_offset", "qc_subtitles", "read_srt", "read_subtitles", "retime", "snap_to_frames",
           "srt_text", "timecode_ms", "to_ass", "ttml_text", "vtt_text", "write_ass", "write_srt", "write_ttml", "write_vtt"]
