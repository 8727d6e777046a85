"""The files beside the media: the metadata sidecar (checked against its JSON Schema and against
the files it describes, read independently), the EBUCore XML, and SHA256SUMS."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime
from fractions import Fraction

import av
import jsonschema
import pytest

from pipeline.config import load_config
from pipeline.delivery import finish
from pipeline.delivery.schema import SCHEMA_FILE, SidecarSchemaError, sidecar_problems
from pipeline.parallel import available_cores
from pipeline.sequence import render_package
from tests.delivery_packages import AWKWARD_METADATA, make_package, render

pytestmark = pytest.mark.slow
EBUCORE = "{urn:ebu:metadata-schema:ebucore}"
DC = "{http://purl.org/dc/elements/1.1/}"


@pytest.fixture(scope="module")
def awkward(tmp_path_factory, fast_config):
    root = tmp_path_factory.mktemp("sidecar")
    package = make_package(root / "package")
    report = render(package, root / "out", fast_config)
    assert report.exit_code == 0, [(item.key, item.reason) for item in report.failed]
    return package, report.folder


@pytest.fixture(params=["awkward", "sample"])
def delivery(request):
    """Each delivery of this module: the awkward package (library render) and the committed
    sample (CLI render through the Prefect flow, shared with the spine tests)."""
    if request.param == "awkward":
        return request.getfixturevalue("awkward")[1]
    return request.getfixturevalue("rendered_sample")[0]


def _sidecar(folder) -> dict:
    return json.loads((folder / f"{folder.name}_metadata.json").read_text(encoding="utf-8"))


def test_the_schema_is_valid_draft_2020_12():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.ffmpeg
def test_every_sidecar_validates_against_the_schema(delivery):
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(_sidecar(delivery))]
    assert errors == []


@pytest.mark.ffmpeg
@pytest.mark.parametrize("break_it,where", [
    (lambda doc: doc["provenance"].pop("source_sha256"), "provenance"),
    (lambda doc: doc["qc"].update(verdict="fine"), "qc/verdict"),
    (lambda doc: doc["deliverables"][0].pop("technical"), "deliverables/0"),
    (lambda doc: doc["deliverables"][0]["technical"].update(sha256="not a digest"), "deliverables/0/technical/sha256"),
    (lambda doc: doc["deliverables"][0]["technical"]["audio"][0].update(roles=["narrator"]),
     "deliverables/0/technical/audio/0/roles/0"),
    (lambda doc: doc["descriptive"].update(publication_date="20 Nov"), "descriptive/publication_date"),
])
def test_the_schema_catches_a_broken_sidecar(awkward, break_it, where):
    document = copy.deepcopy(_sidecar(awkward[1]))
    assert sidecar_problems(document) == []
    break_it(document)
    problems = sidecar_problems(document)
    assert problems and problems[0].startswith(where), problems


@pytest.mark.ffmpeg
def test_a_sidecar_that_breaks_the_schema_is_never_published(awkward, tmp_path, fast_config, monkeypatch):
    """A schema violation is a pipeline bug; it can only be injected, never caused by a package."""
    real = finish.sidecar_document

    def broken_document(*args, **kwargs):
        document = real(*args, **kwargs)
        document["qc"]["verdict"] = "fine"
        return document

    monkeypatch.setattr(finish, "sidecar_document", broken_document)
    out = tmp_path / "out"
    with pytest.raises(SidecarSchemaError, match="qc/verdict"):
        render_package(awkward[0], out, load_config(fast_config))
    assert not (out / AWKWARD_METADATA["asset_id"]).exists()


@pytest.mark.ffmpeg
def test_technical_facts_are_those_of_the_files(delivery):
    """Each deliverable's facts, checked against the file read independently with PyAV."""
    for item in _sidecar(delivery)["deliverables"]:
        path = delivery / item["file"]
        technical = item["technical"]
        assert technical["size_bytes"] == path.stat().st_size
        assert technical["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        with av.open(str(path)) as container:
            video, audio = container.streams.video[0], container.streams.audio[0]
            assert technical["duration_s"] == pytest.approx(container.duration / av.time_base, abs=0.001)
            assert (technical["video"]["codec"], technical["video"]["width"], technical["video"]["height"]) == \
                (video.codec_context.name, video.codec_context.width, video.codec_context.height)
            assert Fraction(technical["video"]["fps"]) == video.average_rate
            assert [(a["codec"], a["channels"], a["channel_layout"]) for a in technical["audio"]] == \
                [(audio.codec_context.name, audio.codec_context.channels, audio.layout.name)]
        expected_roles = ["me_l", "me_r"] if item["key"] == "international" else ["mix_l", "mix_r"]
        assert technical["audio"][0]["roles"] == expected_roles
        assert item["state"] == "delivered" and isinstance(item["qc"], list)
        assert set(item["loudness"]) >= {"integrated_lufs", "true_peak_dbtp", "lra_lu"}


@pytest.mark.ffmpeg
def test_provenance_names_the_source_config_and_run(awkward, fast_config):
    package, folder = awkward
    provenance = _sidecar(folder)["provenance"]
    master = package / "show.mov"
    assert provenance["source_sha256"] == hashlib.sha256(master.read_bytes()).hexdigest()
    assert provenance["config_hash"] == load_config(fast_config).digest()
    assert provenance["config_files"] == ["default.toml", fast_config.name]  # names, no machine paths
    assert provenance["pipeline_version"]
    started, finished = (datetime.fromisoformat(provenance[key]) for key in ("started", "finished"))
    assert started <= finished


@pytest.mark.ffmpeg
def test_a_flow_render_records_its_flow_run_id(rendered_sample):
    folder, result = rendered_sample
    run_id = _sidecar(folder)["provenance"]["flow_run_id"]
    assert run_id and len(run_id) == 36  # a Prefect flow run's UUID


@pytest.mark.ffmpeg
def test_sha256sums_covers_every_delivered_file(delivery):
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum (coreutils) is not on this machine")
    result = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=delivery, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = {line.split("  ", 1)[1] for line in (delivery / "SHA256SUMS").read_text().splitlines()}
    assert listed == {path.name for path in delivery.iterdir() if path.name != "SHA256SUMS"}
    asset = delivery.name
    assert {f"{asset}_qc.html", f"{asset}_ebucore.xml", f"{asset}_metadata.json"} <= listed


@pytest.mark.ffmpeg
def test_ebucore_carries_the_descriptive_and_format_facts(awkward):
    folder = awkward[1]
    root = ET.parse(folder / f"{folder.name}_ebucore.xml").getroot()
    assert root.tag == f"{EBUCORE}ebuCoreMain"
    core = root.find(f"{EBUCORE}coreMetadata")
    assert core.find(f"{EBUCORE}title/{DC}title").text == AWKWARD_METADATA["title"]
    descriptions = {d.get("typeLabel"): d.find(f"{DC}description").text for d in core.findall(f"{EBUCORE}description")}
    assert descriptions["summary"] == AWKWARD_METADATA["description"]
    rights = {r.get("typeLabel"): r for r in core.findall(f"{EBUCORE}rights")}
    assert rights["usage"].find(f"{DC}rights").text == AWKWARD_METADATA["usage_rights"]
    assert rights["copyright"].find(f"{EBUCORE}copyrightStatement").text == AWKWARD_METADATA["copyright"]
    assert core.find(f"{EBUCORE}date/{EBUCORE}issued").get("startDate") == AWKWARD_METADATA["publication_date"]
    assert core.find(f"{EBUCORE}language/{DC}language").text == AWKWARD_METADATA["language"]
    formats = {form.get("formatId"): form for form in core.findall(f"{EBUCORE}format")}
    for item in _sidecar(folder)["deliverables"]:
        form = formats[item["key"]]
        assert form.find(f"{EBUCORE}fileName").text == item["file"]
        assert form.find(f"{EBUCORE}hash/{EBUCORE}hashValue").text == item["technical"]["sha256"]
        assert form.find(f"{EBUCORE}videoFormat/{EBUCORE}width").text == str(item["technical"]["video"]["width"])


@pytest.mark.ffmpeg
def test_the_time_of_each_step_and_each_file_read_back_is_in_the_sidecar_and_the_report(awkward):
    """Where a package's time went, as a technician reads it: every step, every file's read-back."""
    folder = awkward[1]
    document = _sidecar(folder)
    timings = document["provenance"]["timings"]
    assert list(timings["steps_s"]) == ["check", "analyse", "render", "verify", "publish"]
    # publish counts its seconds up to the sidecar's making (the sidecar holds them), which
    # with the sheets and posters made elsewhere is a few milliseconds: 0.00 once rounded
    assert all(seconds > 0 for step, seconds in timings["steps_s"].items() if step != "publish"), timings
    assert timings["steps_s"]["publish"] >= 0, timings
    delivered = [item["file"] for item in document["deliverables"] if item["state"] == "delivered"]
    assert sorted(timings["verify_s"]) == sorted(delivered)
    assert all(seconds > 0 for seconds in timings["verify_s"].values()), timings
    # each file is read back inside the verify step, the files side by side, one per core
    step = timings["steps_s"]["verify"] + 0.05
    assert all(seconds <= step for seconds in timings["verify_s"].values()), timings
    assert sum(timings["verify_s"].values()) <= available_cores() * step, timings
    page = (folder / f"{folder.name}_qc.html").read_text(encoding="utf-8")
    section = page[page.index("id='timings'"):]
    for step, seconds in timings["steps_s"].items():
        assert f"<td>{step}</td><td>{seconds:.2f} s</td>" in section
    for name in delivered:
        assert f"<td>verify: {name}</td>" in section
