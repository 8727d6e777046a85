"""The QC report's two charts, drawn as inline SVG: the short-term loudness of each delivered
file against its target, and the subtitle timeline per language with the QC findings marked.

Written as text, not drawn by a plotting library: the charts are lines, bands and bars, and
drawing them with matplotlib (imported for it, laid out, rasterised to PNG) cost 0.7-1 s of the
command's CPU at the very end of every package, when a producer waits for the report (twelve
files' loudness chart: 0.33 s to draw, 0.48 s to import matplotlib.figure). Vectors stay sharp
at any zoom, and each curve's points are the measured values, which a test can read back.
Every text that came from the package is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html import escape as _e

from pipeline.config import Config

SILENCE_LUFS = -70.0
"""Short-term values under the BS.1770 absolute gate are silence: left out of the curve."""
LOUDNESS_BELOW, LOUDNESS_ABOVE = 30.0, 12.0
"""The loudness axis: this far under and over each file's target (LUFS)."""
SEVERITY_COLOURS = {"warning": "#d97706", "error": "#dc2626"}
MAX_CUE_NUMBERS = 60
"""Numbers beyond that many flagged cues would only overprint each other."""

WIDTH = 1000
TARGET, CURVE, GRID, FRAME, INK, FAINT = "#16a34a", "#1d4ed8", "#e5e7eb", "#9ca3af", "#111827", "#4b5563"
FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


@dataclass(frozen=True)
class Axes:
    """A plot area in the SVG (pixels) and the values it shows: x in seconds, y in the chart's unit."""

    left: float
    top: float
    width: float
    height: float
    x_max: float
    y_min: float = 0.0
    y_max: float = 1.0

    def x(self, seconds: float) -> float:
        return self.left + self.width * min(max(seconds, 0.0), self.x_max) / self.x_max

    def y(self, value: float) -> float:
        return self.top + self.height * (self.y_max - value) / (self.y_max - self.y_min)

    @property
    def bottom(self) -> float:
        return self.top + self.height


def _n(value: float) -> str:
    """A coordinate, short: a chart of twelve files holds thousands of them."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def nice_ticks(low: float, high: float, count: int = 8) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) from `low` to `high`, about `count` of them."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 9) for i in range(int((high - first) / step + 1e-9) + 1)]


def _text(x: float, y: float, text: str, size: int = 11, anchor: str = "start", colour: str = INK,
          extra: str = "") -> str:
    return (f"<text x='{_n(x)}' y='{_n(y)}' font-size='{size}' text-anchor='{anchor}' fill='{colour}'"
            f"{extra}>{_e(text)}</text>")


def _svg(height: float, label: str, body: Iterator[str]) -> str:
    return (f"<svg class='chart' xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {WIDTH} {_n(height)}' "
            f"width='{WIDTH}' height='{_n(height)}' role='img' aria-label='{_e(label)}' {FONT}>"
            f"<title>{_e(label)}</title><rect width='100%' height='100%' fill='#fff'/>{''.join(body)}</svg>")


def _x_grid(axes: Axes, labels: bool) -> Iterator[str]:
    """Vertical grid lines at round seconds; their values under the axes when `labels`."""
    for tick in nice_ticks(0.0, axes.x_max):
        x = _n(axes.x(tick))
        yield f"<line x1='{x}' x2='{x}' y1='{_n(axes.top)}' y2='{_n(axes.bottom)}' stroke='{GRID}'/>"
        if labels:
            yield _text(axes.x(tick), axes.bottom + 15, f"{tick:g}", anchor="middle")
    if labels:
        yield _text(axes.left + axes.width / 2, axes.bottom + 34, "programme time (s)", anchor="middle")


def _frame(axes: Axes) -> str:
    return (f"<rect class='plot' x='{_n(axes.left)}' y='{_n(axes.top)}' width='{_n(axes.width)}' "
            f"height='{_n(axes.height)}' fill='none' stroke='{FRAME}'/>")


# --- loudness ------------------------------------------------------------------------------------

PANEL, PANEL_GAP, LOUD_TOP, LOUD_BOTTOM, LOUD_LEFT, LOUD_RIGHT = 140, 48, 58, 46, 62, 15


def loudness_svg(results: Sequence, config: Config) -> str | None:
    """Short-term loudness of each delivered file over time (one panel each, one time axis),
    against its own profile's target and tolerance (a mezzanine may be held to -24 LKFS), with
    its integrated loudness dotted. None when no file has a curve."""
    curves = [result for result in results if result.delivered and result.short_term]
    if not curves:
        return None
    x_max = max(max(result.technical.duration_s if result.technical else 0.0, result.short_term[-1][0])
                for result in curves) or 1.0
    height = LOUD_TOP + len(curves) * PANEL + (len(curves) - 1) * PANEL_GAP + LOUD_BOTTOM

    def body() -> Iterator[str]:
        yield from _loudness_legend()
        for row, result in enumerate(curves):
            target = config.loudness_for(result.deliverable.profile) if result.deliverable else config.loudness
            axes = Axes(LOUD_LEFT, LOUD_TOP + row * (PANEL + PANEL_GAP), WIDTH - LOUD_LEFT - LOUD_RIGHT, PANEL,
                        x_max, target.target_lufs - LOUDNESS_BELOW, target.target_lufs + LOUDNESS_ABOVE)
            yield from _loudness_panel(axes, result, target, row, last=row == len(curves) - 1)

    return _svg(height, "Short-term loudness of each deliverable", body())


LEGEND = (("target +/- tolerance", "band", TARGET), ("target", "", TARGET), ("short-term (3 s)", "", CURVE),
          ("integrated", "stroke-dasharray='2 3'", CURVE))


def _loudness_legend() -> Iterator[str]:
    """Above the first panel, right-aligned: each mark, then its words."""
    widths = [46 + 7 * len(label) for label, _, _ in LEGEND]  # DejaVu Sans at 11 px: about 7 px a letter
    x = WIDTH - LOUD_RIGHT - sum(widths)
    for (label, style, colour), width in zip(LEGEND, widths):
        if style == "band":
            yield f"<rect x='{x}' y='14' width='22' height='10' fill='{colour}' fill-opacity='0.15'/>"
        else:
            yield f"<line x1='{x}' x2='{x + 22}' y1='19' y2='19' stroke='{colour}' stroke-width='1.2' {style}/>"
        yield _text(x + 28, 23, label)
        x += width


def _loudness_panel(axes: Axes, result, target, row: int, last: bool) -> Iterator[str]:
    yield (f"<g class='loudness' data-key='{_e(result.key)}' data-x-max='{axes.x_max:g}' "
           f"data-y-min='{axes.y_min:g}' data-y-max='{axes.y_max:g}'>")
    yield _text(axes.left, axes.top - 8, _loudness_title(result), size=13)
    band_top = axes.y(target.target_lufs + target.tolerance_lu)
    band_bottom = axes.y(target.target_lufs - target.tolerance_lu)
    yield (f"<rect class='target-band' x='{_n(axes.left)}' y='{_n(band_top)}' width='{_n(axes.width)}' "
           f"height='{_n(band_bottom - band_top)}' fill='{TARGET}' fill-opacity='0.15'/>")
    for tick in nice_ticks(axes.y_min, axes.y_max, 5):
        y = _n(axes.y(tick))
        yield f"<line x1='{_n(axes.left)}' x2='{_n(axes.left + axes.width)}' y1='{y}' y2='{y}' stroke='{GRID}'/>"
        yield _text(axes.left - 6, axes.y(tick) + 4, f"{tick:g}", anchor="end")
    yield from _x_grid(axes, labels=last)
    y = _n(axes.y(target.target_lufs))
    yield (f"<line class='target' x1='{_n(axes.left)}' x2='{_n(axes.left + axes.width)}' y1='{y}' y2='{y}' "
           f"stroke='{TARGET}'/>")
    yield f"<clipPath id='loudness-clip-{row}'>{_frame(axes)}</clipPath><g clip-path='url(#loudness-clip-{row})'>"
    for run in _audible_runs(result.short_term):
        points = " ".join(f"{_n(axes.x(time))},{_n(axes.y(value))}" for time, value in run)
        yield f"<polyline class='short-term' points='{points}' fill='none' stroke='{CURVE}' stroke-width='1.2'/>"
    integrated = result.loudness.get("integrated_lufs")
    if integrated is not None and math.isfinite(integrated):
        y = _n(axes.y(integrated))
        yield (f"<line class='integrated' x1='{_n(axes.left)}' x2='{_n(axes.left + axes.width)}' y1='{y}' "
               f"y2='{y}' stroke='{CURVE}' stroke-dasharray='2 3'/>")
    yield "</g>" + _frame(axes)
    yield _text(18, axes.top + axes.height / 2, "LUFS", anchor="middle",
                extra=f" transform='rotate(-90 18 {_n(axes.top + axes.height / 2)})'")
    yield "</g>"


def _audible_runs(short_term: Sequence[tuple[float, float]]) -> Iterator[list[tuple[float, float]]]:
    """The curve in pieces: silence (under the absolute gate, or not a number) breaks it."""
    run: list[tuple[float, float]] = []
    for time, value in short_term:
        if math.isfinite(value) and value > SILENCE_LUFS:
            run.append((time, value))
        elif run:
            yield run
            run = []
    if run:
        yield run


def _loudness_title(result) -> str:
    measured = result.loudness
    parts = [f"{result.key}:", f"I {measured.get('integrated_lufs', math.nan):.1f} LUFS",
             f"TP {measured.get('true_peak_dbtp', math.nan):.1f} dBTP",
             f"LRA {measured.get('lra_lu', math.nan):.1f} LU"]
    if result.deliverable is not None and not result.deliverable.sound.held_to_target:
        parts.append("(M&E: measured, not targeted; same gain as the mix)")
    return " ".join(parts)


# --- subtitles -----------------------------------------------------------------------------------

ROW, SUB_TOP, SUB_BOTTOM, SUB_LEFT, SUB_RIGHT = 64, 14, 48, 70, 130


def subtitle_svg(submission) -> str | None:
    """One row per language (in name order, top down): each cue a bar over programme time, the
    QC findings marked over the cue they are about, by severity, with the cue's number."""
    languages = sorted(submission.subtitles)
    if not languages:
        return None
    axes = Axes(SUB_LEFT, SUB_TOP, WIDTH - SUB_LEFT - SUB_RIGHT, ROW * len(languages),
                max(submission.programme.duration_s, 1e-3))

    def body() -> Iterator[str]:
        yield from _x_grid(axes, labels=True)
        seen: set[str] = set()
        for row, language in enumerate(languages):
            yield from _subtitle_row(axes, submission, language, axes.top + row * ROW, seen)
        yield _frame(axes)
        yield from _findings_legend(axes, seen)

    return _svg(axes.bottom + SUB_BOTTOM, "Subtitle timeline per language", body())


def _subtitle_row(axes: Axes, submission, language: str, top: float, seen: set[str]) -> Iterator[str]:
    cues = submission.subtitles[language].cues
    bar_top, bar_height = top + ROW * 0.35, ROW * 0.45
    yield f"<g class='subtitles' data-language='{_e(language)}' data-x-max='{axes.x_max:g}'>"
    yield _text(axes.left - 8, bar_top + bar_height / 2 + 4, language, size=12, anchor="end")
    for cue in cues:
        start, end = axes.x(cue.start_ms / 1000), axes.x((cue.start_ms + cue.duration_ms) / 1000)
        yield (f"<rect class='cue' data-cue='{cue.index}' x='{_n(start)}' y='{_n(bar_top)}' "
               f"width='{_n(max(end - start, 0.5))}' height='{_n(bar_height)}' fill='#93c5fd' stroke='{CURVE}' "
               "stroke-width='0.5'/>")
    starts = {cue.index: cue.start_ms / 1000 for cue in cues}
    mine = [finding for finding in submission.subtitle_findings
            if finding.language == language and finding.cue in starts]
    for severity, colour in SEVERITY_COLOURS.items():
        for cue in sorted({finding.cue for finding in mine if finding.severity == severity}):
            x, y = axes.x(starts[cue]), bar_top - 3
            seen.add(severity)
            yield (f"<path class='finding {severity}' data-cue='{cue}' d='M{_n(x - 5)},{_n(y - 9)} "
                   f"L{_n(x + 5)},{_n(y - 9)} L{_n(x)},{_n(y)} Z' fill='{colour}'/>")
    for cue in sorted({finding.cue for finding in mine})[:MAX_CUE_NUMBERS]:
        yield _text(axes.x(starts[cue]) + 6, bar_top - 6, str(cue), size=9, colour=FAINT)
    yield "</g>"


def _findings_legend(axes: Axes, seen: set[str]) -> Iterator[str]:
    shown = [severity for severity in SEVERITY_COLOURS if severity in seen]
    if not shown:
        return
    x = axes.left + axes.width + 14
    yield _text(x, axes.top + 12, "QC findings", size=11)
    for row, severity in enumerate(shown):
        y = axes.top + 30 + row * 18
        yield (f"<path d='M{_n(x)},{_n(y - 9)} L{_n(x + 10)},{_n(y - 9)} L{_n(x + 5)},{_n(y)} Z' "
               f"fill='{SEVERITY_COLOURS[severity]}'/>")
        yield _text(x + 16, y, severity)
