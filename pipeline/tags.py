"""Metadata embedded in every media output (DESIGN.md section 6): title, description, date,
rights, organisation, asset id, a version note, and per stream its language and title.

Values travel as separate arguments (`-metadata`, `key=value`), never through a shell, so
quotes, newlines, `=`, `;`, `#` and any script survive unchanged."""

from __future__ import annotations

from .deliverables import DeliverableSpec
from .metadata import Descriptive
from .subtitles import iso639_2


def container_tags(descriptive: Descriptive, asset_id: str, spec: DeliverableSpec) -> dict[str, str]:
    data = descriptive.to_json_dict()
    date = data.get("publication_date") or data.get("filming_date") or ""
    tags = {
        "title": descriptive.title,
        "description": data.get("description") or "",
        "date": str(date),
        "copyright": data.get("copyright") or "",
        "usage_rights": data.get("usage_rights") or "",
        "organisation": data.get("organisation") or "",
        "asset_id": asset_id,
        "version": spec.key,
        "comment": spec.version_note,
    }
    return {key: str(value) for key, value in tags.items() if value}


def audio_stream_tags(spec: DeliverableSpec) -> dict[str, str]:
    return {"language": iso639_2(spec.audio_language) if spec.audio_language != "zxx" else "zxx",
            "title": spec.audio_title, "handler_name": spec.audio_title}


def metadata_args(tags: dict[str, str], audio_tags: dict[str, str],
                  subtitle_tags: dict[str, str] | None = None) -> list[str]:
    args: list[str] = []
    for key, value in tags.items():
        args += ["-metadata", f"{key}={value}"]
    for key, value in audio_tags.items():
        args += ["-metadata:s:a:0", f"{key}={value}"]
    for key, value in (subtitle_tags or {}).items():
        args += ["-metadata:s:s:0", f"{key}={value}"]
    return args
