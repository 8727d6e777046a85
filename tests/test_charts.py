"""The QC report's charts (pipeline/delivery/charts.py), read back as a technician's eye would:
each file's curve is its measured short-term loudness, silence breaks it, the band is the file's
own target and tolerance, each cue is a bar where it is shown, each finding sits on its cue, and
no text of the package gets into the markup unescaped."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.config import load_config
from pipeline.delivery.charts import loudness_svg, nice_ticks, subtitle_svg
from pipeline.delivery.results import DeliverableResult, DeliverableState, TechnicalFacts
from pipeline.subtitles.model import Cue, Finding, SubtitleTrack

SVG = "{http://www.w3.org/2000/svg}"
ATSC_MEZZANINE = '[profiles.mezzanine.loudness]\nstandard = "ATSC A/85"\ntarget_lufs = -24.0\ntolerance_lu = 2.0\n'


def _result(key: str, profile: str, short_term: list[tuple[float, float]], integrated: float,
            state: DeliverableState = DeliverableState.DELIVERED) -> DeliverableResult:
    technical = TechnicalFacts(container="mov", format="mov", size_bytes=1, duration_s=12.0, sha256="0" * 64,
                               video=None, audio=[])
    planned = SimpleNamespace(profile=profile, sound=SimpleNamespace(held_to_target=True))
    return DeliverableResult(key, state, f"{key}.mov", technical=technical, short_term=short_term,
                             loudness={"integrated_lufs": integrated, "true_peak_dbtp": -3.0, "lra_lu": 2.0},
                             deliverable=planned)


def _plot(group: ElementTree.Element) -> tuple[float, float, float, float]:
    rect = next(element for element in group.iter(f"{SVG}rect") if element.get("class") == "plot")
    return tuple(float(rect.get(name)) for name in ("x", "y", "width", "height"))


def _read_curve(group: ElementTree.Element) -> list[list[tuple[float, float]]]:
    """Each polyline of a panel as (seconds, LUFS), from its pixels and the panel's axes."""
    left, top, width, height = _plot(group)
    x_max, y_min, y_max = (float(group.get(name)) for name in ("data-x-max", "data-y-min", "data-y-max"))
    runs = []
    for line in group.iter(f"{SVG}polyline"):
        points = [tuple(map(float, pair.split(","))) for pair in line.get("points").split()]
        runs.append([((x - left) / width * x_max, y_max - (y - top) / height * (y_max - y_min)) for x, y in points])
    return runs


def _lufs_at(group: ElementTree.Element, css_class: str) -> list[float]:
    left, top, width, height = _plot(group)
    y_min, y_max = float(group.get("data-y-min")), float(group.get("data-y-max"))
    found = []
    for element in group.iter():
        if element.get("class") == css_class:
            if element.tag == f"{SVG}line":
                found.append(y_max - (float(element.get("y1")) - top) / height * (y_max - y_min))
            else:  # the band: its top and bottom edges
                edge_top, edge_height = float(element.get("y")), float(element.get("height"))
                found += [y_max - (edge - top) / height * (y_max - y_min)
                          for edge in (edge_top, edge_top + edge_height)]
    return found


@pytest.fixture
def config(tmp_path: Path):
    path = tmp_path / "atsc.toml"
    path.write_text(ATSC_MEZZANINE, encoding="utf-8")
    return load_config(path)


def test_each_files_curve_is_its_short_term_loudness_and_silence_breaks_it(config):
    web = [(t / 10, -23 + 2 * math.sin(t / 7)) for t in range(0, 120)]
    quiet = [(t / 10, -24.5 if t < 40 or t >= 80 else (-math.inf if t < 60 else -75.0)) for t in range(0, 120)]
    svg = loudness_svg([_result("master-clean", "web", web, -23.1), _result("master-clean_mezzanine", "mezzanine",
                                                                             quiet, -24.6)], config)
    root = ElementTree.fromstring(svg)  # well-formed, or a browser would show nothing
    panels = {group.get("data-key"): group for group in root.iter(f"{SVG}g") if group.get("class") == "loudness"}
    assert list(panels) == ["master-clean", "master-clean_mezzanine"]

    (curve,) = _read_curve(panels["master-clean"])
    assert len(curve) == len(web)
    assert max(abs(t - want_t) for (t, _), (want_t, _) in zip(curve, web)) < 0.01
    assert max(abs(value - want) for (_, value), (_, want) in zip(curve, web)) < 0.05

    before, after = _read_curve(panels["master-clean_mezzanine"])  # -inf and under the gate: no line
    assert (round(before[-1][0], 1), round(after[0][0], 1)) == (3.9, 8.0)

    # each file against its own profile's target: EBU R 128 for web, ATSC A/85 for the mezzanine
    assert _lufs_at(panels["master-clean"], "target") == pytest.approx([-23.0], abs=0.05)
    assert _lufs_at(panels["master-clean"], "target-band") == pytest.approx([-22.5, -23.5], abs=0.05)
    assert _lufs_at(panels["master-clean_mezzanine"], "target") == pytest.approx([-24.0], abs=0.05)
    assert _lufs_at(panels["master-clean_mezzanine"], "target-band") == pytest.approx([-22.0, -26.0], abs=0.05)
    assert _lufs_at(panels["master-clean_mezzanine"], "integrated") == pytest.approx([-24.6], abs=0.05)


def test_a_file_not_delivered_or_without_a_curve_has_no_panel(config):
    failed = _result("international", "web", [(0.0, -23.0)], -23.0, state=DeliverableState.FAILED)
    assert loudness_svg([failed, _result("master-clean", "web", [], -23.0)], config) is None


def test_subtitle_cues_are_bars_where_they_are_shown_and_findings_sit_on_their_cue():
    cues = {"en": [Cue(1, 1000, 3000, "One"), Cue(2, 4000, 4600, "Two"), Cue(3, 7000, 9500, "Three")],
            "fr": [Cue(1, 1200, 3100, "Un")]}
    tracks = {language: SubtitleTrack(language, Path(f"x.{language}.srt"), items, "utf-8")
              for language, items in cues.items()}
    findings = [Finding("en", 2, "00:00:04,000", "too_short", 600, 833, "shown 600 ms"),
                Finding("en", 3, "00:00:07,000", "overlap", 0, 0, "overlaps", severity="error")]
    submission = SimpleNamespace(subtitles=tracks, subtitle_findings=findings,
                                 programme=SimpleNamespace(duration_s=12.0))
    root = ElementTree.fromstring(subtitle_svg(submission))
    rows = {group.get("data-language"): group for group in root.iter(f"{SVG}g") if group.get("class") == "subtitles"}
    assert list(rows) == ["en", "fr"]
    left, _, width, _ = _plot(root)
    for language, row in rows.items():
        bars = [element for element in row.iter(f"{SVG}rect") if element.get("class") == "cue"]
        edges = [(float(bar.get("x")), float(bar.get("x")) + float(bar.get("width"))) for bar in bars]
        shown = [(edge - left) / width * 12.0 for pair in edges for edge in pair]
        wanted = [edge for cue in cues[language] for edge in (cue.start_ms / 1000, cue.end_ms / 1000)]
        assert shown == pytest.approx(wanted, abs=0.02)
    marks = {(mark.get("data-cue"), mark.get("class")) for mark in rows["en"].iter(f"{SVG}path")}
    assert marks == {("2", "finding warning"), ("3", "finding error")}
    assert not list(rows["fr"].iter(f"{SVG}path"))
    assert "QC findings" in subtitle_svg(submission)
    submission.subtitle_findings = []
    assert "QC findings" not in subtitle_svg(submission)  # no legend for what is not there


def test_text_from_the_package_is_escaped(config):
    hostile = "<script>alert('x')</script>"
    track = SubtitleTrack(hostile, Path("x.srt"), [Cue(1, 0, 1000, "Hi")], "utf-8")
    submission = SimpleNamespace(subtitles={hostile: track}, subtitle_findings=[],
                                 programme=SimpleNamespace(duration_s=2.0))
    for svg in (subtitle_svg(submission), loudness_svg([_result(hostile, "web", [(0.0, -23.0)], -23.0)], config)):
        assert "<script>" not in svg
        ElementTree.fromstring(svg)


def test_axis_values_are_round_numbers():
    assert nice_ticks(0, 30) == [0, 5, 10, 15, 20, 25, 30]
    assert nice_ticks(-53, -11, 5) == [-50, -40, -30, -20]
    assert nice_ticks(0, 0.9) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8])
