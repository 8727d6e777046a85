"""`<asset_id>_ebucore.xml`: the descriptive metadata and each delivered file's format facts in
EBUCore (EBU Tech 3293), for archives and MAMs that ingest it.

Minimal on purpose: title, identifier, description, keywords, publisher, dates, language,
rights, and one `format` per delivered file (container, picture, sound, duration, size, SHA-256).
It is built from the metadata sidecar document, so both always say the same thing, and written
with ElementTree, which escapes every value.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from pipeline.files import write_atomically

EBUCORE = "urn:ebu:metadata-schema:ebucore"
DC = "http://purl.org/dc/elements/1.1/"
ET.register_namespace("ebucore", EBUCORE)
ET.register_namespace("dc", DC)
# Characters XML 1.0 cannot hold at all, even escaped (a JSON metadata file may carry them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def filename(asset_id: str) -> str:
    return f"{asset_id}_ebucore.xml"


def _element(parent: ET.Element, tag: str, text: str | None = None, namespace: str = EBUCORE,
             **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{namespace}}}{tag}",
                            {key: _xml_text(value) for key, value in attributes.items()})
    if text is not None:
        element.text = _xml_text(text)
    return element


def _xml_text(value: object) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def _dc(parent: ET.Element, wrapper: str, tag: str, text: str, **attributes: str) -> None:
    _element(_element(parent, wrapper, **attributes), tag, text, namespace=DC)


def _descriptive(core: ET.Element, descriptive: dict) -> None:
    _dc(core, "title", "title", descriptive["title"])
    for keyword in descriptive.get("keywords") or []:
        _dc(core, "subject", "subject", keyword, typeLabel="keyword")
    if descriptive.get("description"):
        _dc(core, "description", "description", descriptive["description"], typeLabel="summary")
    for shot in descriptive.get("shot_list") or []:
        _dc(core, "description", "description", shot, typeLabel="shotList")
    if descriptive.get("organisation"):
        publisher = _element(_element(core, "publisher"), "organisationDetails")
        _element(publisher, "organisationName", descriptive["organisation"])
    dates = _element(core, "date")
    if descriptive.get("filming_date"):
        _element(dates, "created", startDate=descriptive["filming_date"])
    if descriptive.get("publication_date"):
        _element(dates, "issued", startDate=descriptive["publication_date"])


def _format(core: ET.Element, deliverable: dict) -> None:
    technical = deliverable["technical"]
    form = _element(core, "format", formatId=deliverable["key"], formatName=technical["container"])
    video = technical.get("video")
    if video:
        picture = _element(form, "videoFormat", videoFormatName=video["codec"])
        _element(picture, "width", video["width"], unit="pixel")
        _element(picture, "height", video["height"], unit="pixel")
        numerator, _, denominator = str(video["fps"]).partition("/")
        _element(picture, "frameRate", numerator, factorNumerator="1", factorDenominator=denominator or "1")
        _element(picture, "videoEncoding", typeLabel=video["codec"])
        if deliverable.get("picture") == "textless":  # no burned-in text: a broadcaster may re-title it
            _element(picture, "technicalAttributeBoolean", "true", typeLabel="textless")
    for stream in technical.get("audio", []):
        sound = _element(form, "audioFormat", audioFormatName=stream["codec"])
        _element(sound, "audioEncoding", typeLabel=stream["codec"])
        _element(sound, "audioTrackConfiguration", typeLabel=stream["channel_layout"])
        _element(sound, "samplingRate", stream["sample_rate"])
        _element(sound, "audioTrack", typeLabel=stream["title"], trackLanguage=stream["language"])
        _element(sound, "channels", stream["channels"])
    _element(form, "containerFormat", containerFormatName=technical["container"])
    _element(_element(form, "duration"), "normalPlayTime", f"PT{technical['duration_s']:.3f}S")
    _element(form, "fileSize", technical["size_bytes"])
    _element(form, "fileName", deliverable["file"])
    digest = _element(form, "hash")
    _element(digest, "hashValue", technical["sha256"])
    _element(digest, "hashFunction", typeLabel="SHA-256")


def _rights(core: ET.Element, descriptive: dict) -> None:
    if descriptive.get("usage_rights"):
        _dc(core, "rights", "rights", descriptive["usage_rights"], typeLabel="usage")
    if descriptive.get("copyright"):
        rights = _element(core, "rights", typeLabel="copyright")
        _element(rights, "copyrightStatement", descriptive["copyright"])


def _shots(core: ET.Element, shots: list[dict]) -> None:
    """The shots found in the master, as EBUCore parts (typeLabel "shot"): the start in the
    master's timecode, the duration in seconds."""
    for shot in shots:
        part = _element(core, "part", partNumber=str(shot["number"]), partTotalNumber=str(len(shots)),
                        partName=f"Shot {shot['number']}", typeLabel="shot")
        if shot.get("thumbnail"):
            _dc(part, "description", "description", shot["thumbnail"], typeLabel="thumbnail")
        _element(_element(part, "partStartTime"), "timecode", shot["in_timecode"])
        _element(_element(part, "partDuration"), "normalPlayTime", f"PT{shot['duration_s']:.3f}S")


def _textless_inserts(core: ET.Element, textless: dict | None) -> None:
    """The textless inserts the textless picture was made with, as EBUCore parts (typeLabel
    "textless insert"): the first frame replaced, counted from the master's first frame, and
    where the insert came from."""
    inserts = (textless or {}).get("inserts", [])
    for insert in inserts:
        part = _element(core, "part", partNumber=str(insert["number"]), partTotalNumber=str(len(inserts)),
                        partName=f"Textless insert {insert['number']}", typeLabel="textless insert")
        _dc(part, "description", "description",
            f"from {insert['from']} of {insert.get('file') or 'the master'}", typeLabel="source")
        _element(_element(part, "partStartTime"), "timecode", insert["replaces"])
        _element(_element(part, "partDuration"), "timecode", insert["duration"])


def ebucore_xml(document: dict) -> str:
    """The EBUCore document for a metadata sidecar document (see pipeline.delivery.sidecar.sidecar_document)."""
    root = ET.Element(f"{{{EBUCORE}}}ebuCoreMain", {"version": "1.10",
                                                     "dateLastModified": document["provenance"]["finished"][:10]})
    core = _element(root, "coreMetadata")
    descriptive = document["descriptive"]
    # EBUCore fixes the order: title ... date, format, identifier, language ... rights.
    _descriptive(core, descriptive)
    for deliverable in document["deliverables"]:
        if deliverable["state"] == "delivered":
            _format(core, deliverable)
    _dc(core, "identifier", "identifier", document["asset_id"], typeLabel="asset_id")
    _dc(core, "language", "language", descriptive.get("language") or "und", typeLabel="narration")
    _rights(core, descriptive)
    _shots(core, document.get("shots") or [])
    _textless_inserts(core, document["source"].get("textless"))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_ebucore(path: Path, document: dict) -> None:
    write_atomically(path, ebucore_xml(document))
