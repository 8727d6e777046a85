"""Metadata embedded in every media output (docs/design.md section 6): title, description, date,
rights, organisation, asset id, a version note, and per stream its language and title.

Values travel as separate arguments (`-metadata`, `key=value`), never through a shell, so
quotes, newlines, `=`, `;`, `#` and any script survive unchanged (ffmpeg splits at the first
`=`, and our keys hold none).

How MP4 stores them, and why both spellings of the standard fields are written:
`-movflags use_metadata_tags` makes the MP4 muxer write every key as a QuickTime `mdta` item,
which is the only way our own keys (asset_id, usage_rights, organisation, version) survive in
MP4; without it the muxer keeps only the iTunes set (title, comment, copyright...) and drops
the rest silently. In that mode the iTunes atoms (`©nam`...) are not written at all, so the
plain keys (`title`, `description`...) are read by FFmpeg-based tools and players (ffprobe, mpv,
MediaInfo, ExifTool), and the same values go once more under Apple's documented QuickTime keys
(`com.apple.quicktime.title`...), which Apple's players and the Finder show.
"""

from __future__ import annotations

from pipeline.deliverables import Deliverable
from pipeline.intake.metadata import Descriptive
from pipeline.subtitles import iso639_2

# Apple's QuickTime metadata keys for the fields a player shows; see the module docstring.
QUICKTIME_KEYS = {
    "title": "com.apple.quicktime.title",
    "description": "com.apple.quicktime.description",
    "copyright": "com.apple.quicktime.copyright",
    "comment": "com.apple.quicktime.comment",
    "organisation": "com.apple.quicktime.publisher",
}

def container_tags(descriptive: Descriptive, asset_id: str, spec: Deliverable) -> dict[str, str]:
    """The file-level tags of one deliverable, empty values left out."""
    day = descriptive.publication_date or descriptive.filming_date
    tags = {
        "title": descriptive.title,
        "description": descriptive.description or "",
        "date": day.isoformat() if day else "",
        "copyright": descriptive.copyright or "",
        "usage_rights": descriptive.usage_rights or "",
        "organisation": descriptive.organisation or "",
        "asset_id": asset_id,
        "version": spec.key,
        "comment": spec.version_note,
        "subtitle_language": spec.subtitle_language or "",
    }
    tags = {key: value for key, value in tags.items() if value}
    tags.update({QUICKTIME_KEYS[key]: tags[key] for key in QUICKTIME_KEYS if key in tags})
    filmed = descriptive.filming_date or day  # Apple's creationdate is when the content was made
    if filmed:
        tags["com.apple.quicktime.creationdate"] = filmed.isoformat()
    return tags


def stream_language(tag: str) -> str:
    """The ISO 639-2/B code MP4 stores for a BCP 47 tag; 'zxx' (no linguistic content) kept."""
    return "zxx" if tag == "zxx" else iso639_2(tag)


def audio_stream_tags(spec: Deliverable, mono: bool = False) -> list[dict[str, str]]:
    """The tags of each audio stream of the deliverable's file, in order: one stereo track per
    sound, or (`mono`) one track per channel, "Full mix L", "Full mix R"; a silent pair is
    "Silent", of no language. MP4 keeps a track title as the track's `name` box and in its
    handler; ffprobe shows both."""
    streams = []
    for sound in spec.tracks or (spec.sound,):
        title, language = ("Silent", "zxx") if sound is None else (sound.title, sound.language)
        channels = ("L", "R") if sound is None or sound.channels == 2 else ("L", "R", "C", "LFE", "Ls", "Rs")
        titles = [title] if not mono else [title, title] if sound is None else [f"{title} {name}" for name in channels]
        streams += [{"language": stream_language(language), "title": each, "handler_name": each} for each in titles]
    return streams


def subtitle_stream_tags(spec: Deliverable) -> dict[str, str]:
    """Tags of a soft subtitle track, where the deliverable carries one (none for burn-in only:
    ffmpeg ignores a stream specifier that matches no stream)."""
    if not spec.subtitle_language:
        return {}
    title = f"Subtitles ({spec.subtitle_language})"
    return {"language": stream_language(spec.subtitle_language), "title": title, "handler_name": title}


def metadata_args(tags: dict[str, str], audio_tags: list[dict[str, str]],
                  subtitle_tags: dict[str, str] | None = None) -> list[str]:
    """Output options giving one output exactly these tags.

    `-map_metadata -1` first: by default ffmpeg copies the master's global tags into every
    output, including its `major_brand` ('qt  ' from a MOV master), which then makes the MP4
    muxer label the MP4 as a QuickTime file; and the master's chapters would sit at the wrong
    times once line-up is cut."""
    args: list[str] = ["-map_metadata", "-1", "-map_chapters", "-1"]
    for key, value in tags.items():
        args += ["-metadata", f"{key}={value}"]
    for index, stream in enumerate(audio_tags):
        for key, value in stream.items():
            args += [f"-metadata:s:a:{index}", f"{key}={value}"]
    for key, value in (subtitle_tags or {}).items():
        args += ["-metadata:s:s:0", f"{key}={value}"]
    return args
