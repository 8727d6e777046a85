"""The QC report a technician opens: one self-contained HTML file with a verdict at the top,
contact sheets, loudness curves, the subtitle timeline, the M&E checks and the outputs table.
It is opened in headless Chromium, as a person would open it, and a screenshot is checked."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import subprocess
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.delivery.contact_sheets import THUMBNAIL_WIDTH, contact_sheet_command
from pipeline.delivery.report import sound_summary
from pipeline.render.sheet_frames import thumbnail_times
from tests.delivery_packages import AWKWARD_METADATA, SRT_FILES, make_package, render

pytestmark = pytest.mark.slow
ASSET = AWKWARD_METADATA["asset_id"]
DELIVERABLES = ["master-clean", "international"] + [f"subtitled-{language}" for language in sorted(SRT_FILES)]
CHARTS = ["Short-term loudness of each deliverable", "Subtitle timeline per language"]  # inline SVG
SVG = "{http://www.w3.org/2000/svg}"
BANNER_COLOURS = {"pass": (0x15, 0x80, 0x3d), "warning": (0xb4, 0x53, 0x09), "fail": (0xb9, 0x1c, 0x1c)}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--mute-audio"]


@pytest.fixture(scope="module")
def delivered(tmp_path_factory, fast_config):
    root = tmp_path_factory.mktemp("report")
    report = render(make_package(root / "package"), root / "out", fast_config)
    assert report.exit_code == 0, [(item.key, item.reason) for item in report.failed]
    return report.folder


def _report(folder: Path) -> str:
    return (folder / f"{folder.name}_qc.html").read_text(encoding="utf-8")


def _sidecar(folder: Path) -> dict:
    return json.loads((folder / f"{folder.name}_metadata.json").read_text(encoding="utf-8"))


class _Links(HTMLParser):
    """Every URL the page would load or link to, every image's source, every element's id."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.images: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("src", "href", "srcset", "poster", "data") and value is not None:
                self.urls.append(value)
                if tag == "img" and name == "src":
                    self.images.append(value)


def _links(page: str) -> _Links:
    parser = _Links()
    parser.feed(page)
    return parser


def _png(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


@pytest.mark.ffmpeg
def test_report_is_one_self_contained_file(delivered):
    links = _links(_report(delivered))
    assert links.urls, "the report has no pictures at all"
    # links inside the page: from a file's verdict in the outputs to its deliverable's section
    inside = [url for url in links.urls if url.startswith("#")]
    assert len(inside) == len(DELIVERABLES) and {url[1:] for url in inside} <= links.ids, inside
    assert all(url.startswith("data:image/png;base64,") for url in links.urls if url not in inside), \
        [url[:60] for url in links.urls if not url.startswith(("data:", "#"))]
    assert len(links.images) == len(DELIVERABLES)  # the contact sheets; the charts are inline SVG
    for uri in links.images:
        picture = _png(uri)
        assert picture.width > 100 and picture.height > 50


@pytest.mark.ffmpeg
def test_loudness_chart_has_a_panel_per_file_at_its_measured_loudness(delivered):
    page, sidecar = _report(delivered), _sidecar(delivered)
    charts = re.findall(r"<svg class='chart'.*?</svg>", page, flags=re.S)
    assert [ElementTree.fromstring(chart).get("aria-label") for chart in charts] == CHARTS
    panels = {group.get("data-key"): group for group in ElementTree.fromstring(charts[0]).iter(f"{SVG}g")
              if group.get("class") == "loudness"}
    assert sorted(panels) == sorted(DELIVERABLES)
    for item in sidecar["deliverables"]:
        group = panels[item["key"]]
        plot = next(rect for rect in group.iter(f"{SVG}rect") if rect.get("class") == "plot")
        top, height = float(plot.get("y")), float(plot.get("height"))
        low, high = float(group.get("data-y-min")), float(group.get("data-y-max"))
        line = next(line for line in group.iter(f"{SVG}line") if line.get("class") == "integrated")
        drawn = high - (float(line.get("y1")) - top) / height * (high - low)
        assert drawn == pytest.approx(item["loudness"]["integrated_lufs"], abs=0.1), item["key"]
        values = [high - (float(point.split(",")[1]) - top) / height * (high - low)
                  for polyline in group.iter(f"{SVG}polyline") for point in polyline.get("points").split()]
        assert values and abs(float(np.median(values)) - drawn) < 3, item["key"]  # the curve sits around it


@pytest.mark.ffmpeg
def test_contact_sheets_hold_a_grid_of_frames(delivered):
    sheets = [_png(uri) for uri in _links(_report(delivered)).images[:len(DELIVERABLES)]]
    for sheet in sheets:
        assert sheet.size == (4 * THUMBNAIL_WIDTH, 2 * 136)  # 8 frames of 240x136 (16:9, even)
        pixels = np.asarray(sheet.convert("RGB"), dtype=float)
        tiles = [pixels[row * 136:(row + 1) * 136, col * 240:(col + 1) * 240] for row in range(2) for col in range(4)]
        assert all(tile.std() > 20 for tile in tiles), "a frame of the sheet is flat (black or missing)"
        differences = [np.abs(a - b).mean() for a, b in zip(tiles, tiles[1:])]
        assert min(differences) > 3, f"neighbouring frames are the same picture ({differences})"


@pytest.mark.ffmpeg
def test_verdict_banner_follows_the_findings(delivered):
    page, sidecar = _report(delivered), _sidecar(delivered)
    # The package's only finding is a subtitle shown for 600 ms (under 5/6 s): a warning.
    assert sidecar["qc"]["verdict"] == "warning"
    assert "data-verdict='warning'" in page and ">WARNING<" in page
    findings = {item["key"]: [finding["check"] for finding in item["qc"]] for item in sidecar["deliverables"]}
    assert findings == {"master-clean": [], "international": [], "subtitled-en": ["subtitles.too_short"],
                        "subtitled-sr-Latn": []}


@pytest.mark.ffmpeg
def test_report_names_every_output_with_its_facts(delivered):
    page = _report(delivered)
    for item in _sidecar(delivered)["deliverables"]:
        assert item["file"] in page and item["technical"]["sha256"] in page
        assert f"I {item['loudness']['integrated_lufs']:.1f} LUFS" in page
    for check in ("me_not_silent", "me_differs_from_mix"):
        assert check in page
    assert "too_short" in page and "00:00:01,800" in page


@pytest.mark.ffmpeg
def test_text_from_the_package_is_escaped(delivered):
    page = _report(delivered)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


@pytest.mark.ffmpeg
def test_a_package_that_fails_a_deliverable_gets_a_fail_banner(tmp_path, fast_config):
    report = render(make_package(tmp_path / "package", srts={}, with_me=False), tmp_path / "out", fast_config)
    assert [item.key for item in report.failed] == ["international"]
    page, sidecar = _report(report.folder), _sidecar(report.folder)
    assert sidecar["qc"]["verdict"] == "fail"
    assert "data-verdict='fail'" in page and ">FAIL<" in page
    assert "no M&amp;E channels" in page or "has no M&amp;E" in page
    table = _Outputs()
    table.feed(page)
    # the reason in the outputs, not behind a click
    assert table.shown["international"].startswith("FAIL not delivered the master's audio layout is 'mix-only'")


def test_thumbnails_are_cut_inside_cues_first():
    cues = [0.9, 2.1]
    times = thumbnail_times(3.0, cues)
    assert len(times) == 8 and set(cues) <= set(times)
    assert times == sorted(times) and all(0 <= time < 3.0 for time in times)
    assert thumbnail_times(8.0, []) == [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]


@pytest.mark.ffmpeg
def test_contact_sheet_is_one_ffmpeg_run_with_a_seek_per_frame(tmp_path):
    times = [0.5, 1.5, 2.5]
    command = contact_sheet_command(Path("/media/a file.mp4"), times, 1920, 1080, tmp_path / "sheet.png")
    assert command.count("-i") == len(times)
    assert command.count("-protocol_whitelist") == len(times)
    assert [command[at - 2:at] for at in _positions(command, "-protocol_whitelist")] == [["-threads", "1"]] * 3
    assert [command[command.index("-ss", at) + 1] for at in _positions(command, "-ss")] == \
        [f"{time:.6f}" for time in times]
    assert command[-5:] == ["-frames:v", "1", "-update", "1", str(tmp_path / "sheet.png")]


def _positions(items: list[str], value: str) -> list[int]:
    return [index for index, item in enumerate(items) if item == value]


# --- in a browser -------------------------------------------------------------------------------

# The load event waits for every image; a broken one has naturalWidth 0 by then.
IMAGE_PROBE = """<script>
window.addEventListener('load', function () {
  var widths = Array.prototype.map.call(document.images, function (img) { return img.naturalWidth; });
  document.body.setAttribute('data-image-widths', widths.join(','));
});
</script></body>"""


def _run_chromium(binary: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)


@pytest.mark.browser
def test_report_opens_in_chromium_with_every_image_loaded(delivered, chromium, tmp_path):
    page = _report(delivered)
    probe = tmp_path / "probe.html"  # a copy with a script that writes each image's width into the DOM
    probe.write_text(page.replace("</body>", IMAGE_PROBE), encoding="utf-8")
    result = _run_chromium(chromium, tmp_path, "--virtual-time-budget=15000", "--dump-dom", probe.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    marker = 'data-image-widths="'
    assert marker in result.stdout, "the page's script did not run, or Chromium dumped the DOM before load"
    widths = [int(width) for width in result.stdout.split(marker, 1)[1].split('"', 1)[0].split(",")]
    assert len(widths) == len(DELIVERABLES)  # and no image smuggled in by the package's text
    assert all(width > 0 for width in widths), widths


@pytest.mark.browser
def test_report_screenshot_shows_the_verdict_and_content(delivered, chromium, tmp_path):
    shot = tmp_path / "qc-report.png"
    report = delivered / f"{ASSET}_qc.html"
    result = _run_chromium(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", report.as_uri())
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    assert pixels.shape[:2] == (2400, 1280)
    not_white = (pixels < 235).any(axis=2).mean()
    assert not_white > 0.10, f"the page is nearly blank ({not_white:.1%} of pixels hold anything)"
    banner = np.array(BANNER_COLOURS[_sidecar(delivered)["qc"]["verdict"]])
    top = pixels[:400]
    banner_pixels = (np.abs(top - banner).max(axis=2) < 12).sum()
    assert banner_pixels > 30_000, f"no verdict banner at the top ({banner_pixels} px of its colour)"


# --- three profiles: what a technician reads first ------------------------------------------------

THREE_PROFILES = '\n[outputs]\nprofiles = ["web", "broadcast", "mezzanine"]\n'
SCREEN = (1366, 768)
"""The commonest laptop screen. Headless Chromium leaves 625 px of its height to the page, about
what a browser's own bars leave on such a screen."""
BROADCAST_SOUND = "8 x PCM 24-bit mono: 1-2 full mix, 3-4 M&E, 5-8 silent"
SIZE_UNITS = {"bytes": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}


def _stream(codec: str, channels: int, roles: list[str], sample_rate: int = 48000) -> dict:
    return {"codec": codec, "channels": channels, "sample_rate": sample_rate, "title": "", "language": "",
            "channel_layout": {1: "mono", 2: "stereo", 6: "5.1"}[channels], "roles": roles}


def test_a_files_sound_is_summarised_on_one_line():
    mxf = [_stream("pcm_s24le", 1, [role]) for role in ("mix_l", "mix_r", "me_l", "me_r", "mute", "mute", "mute", "mute")]
    assert sound_summary(mxf) == BROADCAST_SOUND
    mov = [_stream("pcm_s24le", 2, ["mix_l", "mix_r"]), _stream("pcm_s24le", 2, ["me_l", "me_r"])]
    assert sound_summary(mov) == "2 x PCM 24-bit stereo: 1 full mix, 2 M&E"
    assert sound_summary([_stream("aac", 2, ["me_l", "me_r"])]) == "AAC stereo: M&E"
    # What is unusual is said: a rate other than 48 kHz, tracks of different kinds, roles not recorded.
    assert sound_summary([_stream("aac", 2, ["mix_l", "mix_r"], 44100)]) == "AAC stereo 44.1 kHz: full mix"
    assert sound_summary([_stream("pcm_s24le", 6, ["mix_l"] * 6), _stream("pcm_s16le", 2, [])]) == \
        "2 tracks (PCM 24-bit 5.1, PCM 16-bit stereo): 1 full mix, 2 roles not recorded"
    assert sound_summary([]) == "no sound"


@pytest.fixture(scope="module")
def three_profiles(tmp_path_factory, fast_config):
    """The package's four versions (clean, international, subtitled en and sr-Latn) in the web,
    broadcast and mezzanine profiles: twelve files."""
    root = tmp_path_factory.mktemp("report-profiles")
    config = root / "profiles.toml"
    config.write_text(fast_config.read_text(encoding="utf-8") + THREE_PROFILES, encoding="utf-8")
    report = render(make_package(root / "package"), root / "out", config)
    assert report.exit_code == 0, [(item.key, item.reason) for item in report.failed]
    return report.folder


class _Outputs(HTMLParser):
    """The outputs table as a reader sees it: each row's cells, and in each file's cell the text
    shown at once, the line of its <summary>, and what only opening its <details> shows."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self.shown: dict[str, str] = {}
        self.summary: dict[str, str] = {}
        self.details: dict[str, str] = {}
        self._table = self._in_summary = self._in_details = False
        self._key = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "outputs":
            self._table = True
        if not self._table:
            return
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")
            self._key = attrs.get("data-key") or ""
        self._in_details |= tag == "details"
        self._in_summary |= tag == "summary"

    def handle_endtag(self, tag):
        self._table &= tag != "table"
        self._in_details &= tag != "details"
        self._in_summary &= tag != "summary"

    def handle_data(self, data):
        if not self._table:
            return
        self.rows[-1][-1] = " ".join((self.rows[-1][-1] + " " + data).split())
        if self._key:
            where = self.summary if self._in_summary else self.details if self._in_details else self.shown
            where[self._key] = " ".join((where.get(self._key, "") + " " + data).split())


@pytest.mark.ffmpeg
def test_outputs_are_a_row_per_version_and_a_column_per_profile(three_profiles):
    page = _report(three_profiles)
    table = _Outputs()
    table.feed(page)
    assert table.rows[0] == ["version", "web mp4", "broadcast mxf", "mezzanine mov"]
    assert sorted(row[0] for row in table.rows[1:]) == sorted(DELIVERABLES)
    items = _sidecar(three_profiles)["deliverables"]
    assert len(table.shown) == len(items) == 12
    for item in items:
        verdict, value, unit = table.shown[item["key"]].split()
        # the subtitle finding of the package (cue 2 of en is too short) is in each en file
        assert verdict == ("WARNING" if item["key"].startswith("subtitled-en") else "PASS"), item["key"]
        assert float(value) * SIZE_UNITS[unit] == pytest.approx(item["technical"]["size_bytes"],
                                                                abs=0.05 * SIZE_UNITS[unit])  # one decimal
    summary = table.summary
    assert summary["master-clean"] == "AAC stereo: full mix" and summary["international"] == "AAC stereo: M&E"
    for version in DELIVERABLES:
        assert summary[f"{version}_broadcast"] == BROADCAST_SOUND
        assert summary[f"{version}_mezzanine"] == "2 x PCM 24-bit stereo: 1 full mix, 2 M&E"
    # Track by track, the picture, the checksum: there, but only for whoever opens the details.
    broadcast = next(item for item in items if item["key"] == "master-clean_broadcast")
    details = table.details["master-clean_broadcast"]
    for fact in ("1: pcm_s24le 48 kHz mono, mix_l", "8: pcm_s24le 48 kHz mono, mute", broadcast["file"],
                 broadcast["technical"]["sha256"], "interlaced (top field first)", "M&E: I -"):
        assert fact in details, fact
    assert not any("pcm_s24le" in text for text in table.shown.values())
    assert "''" not in page and "[]" not in page  # no empty title or language printed


# Writes where the outputs table and each file's verdict are on the page, once it is laid out.
LAYOUT_PROBE = """<script>
window.addEventListener('load', function () {
  function box(element) {
    var r = element.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom].map(Math.round);
  }
  var cells = Array.prototype.map.call(document.querySelectorAll('#outputs td[data-key]'), function (td) {
    var badge = td.querySelector('a.verdict');
    return {key: td.getAttribute('data-key'), cell: box(td), badge: box(badge), verdict: badge.className.split(' ')[1]};
  });
  document.body.setAttribute('data-layout', JSON.stringify({viewport: [innerWidth, innerHeight],
    table: box(document.getElementById('outputs')), cells: cells}));
});
</script></body>"""


@pytest.mark.browser
@pytest.mark.ffmpeg
def test_twelve_files_in_three_profiles_fit_on_one_laptop_screen(three_profiles, chromium, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(_report(three_profiles).replace("</body>", LAYOUT_PROBE), encoding="utf-8")
    shot = tmp_path / "outputs.png"
    result = _run_chromium(chromium, tmp_path, "--window-size={},{}".format(*SCREEN), "--virtual-time-budget=5000",
                           f"--screenshot={shot}", "--dump-dom", probe.as_uri())
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    marker = 'data-layout="'
    assert marker in result.stdout, "the probe did not run, or Chromium dumped the DOM before load"
    layout = json.loads(html.unescape(result.stdout.split(marker, 1)[1].split('"', 1)[0]))
    width, height = layout["viewport"]
    assert width == SCREEN[0] and 500 < height <= SCREEN[1]
    assert len(layout["cells"]) == 12
    bottom = layout["table"][3]
    assert bottom <= height, f"the outputs end {bottom} px down: below the {height} px of the first screen"
    assert all(cell["cell"][2] <= width for cell in layout["cells"]), "a column is off the side of the screen"
    # In the screenshot each file's verdict reads in its colour where the layout put it.
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    for cell in layout["cells"]:
        left, top, right, lower = cell["badge"]
        badge = pixels[top:lower, left:right].reshape(-1, 3)
        colour = np.median(badge, axis=0)
        assert np.abs(colour - BANNER_COLOURS[cell["verdict"]]).max() < 12, (cell["key"], colour)
