"""The asset page `index.html` of a delivery, as the portal's visitor gets it: served by a web
server (a real one on 127.0.0.1), opened in headless Chromium. Every version plays, every
subtitle track loads its cues, the text is the package's (escaped), and every file beside the
page is listed for download with its size and sha256."""

from __future__ import annotations

import functools
import json
import math
import os
import queue
import signal
import subprocess
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from pipeline.delivery.asset_page import FILENAME, what_it_is
from pipeline.files import sha256_of
from pipeline.render.sheet_frames import POSTER_AT
from tests.delivery_packages import AWKWARD_METADATA, SRT_FILES, make_package, render

ASSET = AWKWARD_METADATA["asset_id"]
METADATA = {**AWKWARD_METADATA,
            "shot_list": ["WS bridge at dawn <b>", "CU engineer & crew", "Drone: river — мост"],
            "production_notes": "Shot on a \"FX6\"; graded <i>in house</i>.",
            "music_credits": [{"title": "Theme <One>", "composers": ["A. Composer", "Б. Композитор"],
                               "performer": "Ensemble & Co"}]}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--mute-audio",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--autoplay-policy=no-user-gesture-required"]

# Reports what the page's media did, by a POST to the test's web server: each video's readyState,
# how far it played, and the cues each of its tracks loaded; once every video has played 0.5 s
# (or failed) and every track has its cues, or after 20 s. Playback runs on the real clock, so
# the browser runs until the report arrives (no virtual time). Injected into a copy of the page,
# never into the delivery.
PROBE = """<script>
(function () {
  var results = {};
  var videos = Array.prototype.slice.call(document.querySelectorAll('video'));
  videos.forEach(function (video) {
    var key = video.parentNode.getAttribute('data-version');
    results[key] = {ready: 0, played: 0, error: null, tracks: []};
    video.muted = true;
    for (var i = 0; i < video.textTracks.length; i++) { video.textTracks[i].mode = 'hidden'; }
    video.addEventListener('loadeddata', function () { video.play(); });
    video.addEventListener('error', function () { results[key].error = video.error && video.error.code; });
    video.load();
  });
  function look() {
    videos.forEach(function (video) {
      var entry = results[video.parentNode.getAttribute('data-version')];
      entry.ready = Math.max(entry.ready, video.readyState);
      entry.played = Math.max(entry.played, video.currentTime);
      entry.tracks = Array.prototype.map.call(video.textTracks, function (track) {
        return {language: track.language, cues: track.cues ? Array.prototype.map.call(track.cues,
          function (cue) { return cue.text; }) : null};
      });
    });
    var done = videos.every(function (video) {
      var entry = results[video.parentNode.getAttribute('data-version')];
      return entry.error !== null || (entry.played > 0.5 && entry.tracks.every(function (t) { return t.cues && t.cues.length; }));
    });
    if (done || Date.now() - started > 20000) {
      clearInterval(timer);
      fetch('/probe-result', {method: 'POST', body: JSON.stringify(results)});
    }
  }
  var started = Date.now();
  var timer = setInterval(look, 100);
})();
</script></body>"""


@pytest.fixture(scope="module")
def delivered(tmp_path_factory, fast_config) -> Path:
    root = tmp_path_factory.mktemp("asset-page")
    report = render(make_package(root / "package", metadata=METADATA), root / "out", fast_config)
    assert report.exit_code == 0, [(item.key, item.reason) for item in report.failed]
    return report.folder


def _page(folder: Path) -> str:
    return (folder / FILENAME).read_text(encoding="utf-8")


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.videos: list[str] = []
        self.posters: list[str | None] = []
        self.tracks: list[dict] = []
        self.urls: list[str] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.text: list[str] = []
        self._row: list[str] | None = None
        self._table = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [value for name, value in attrs.items() if name in ("src", "href", "poster") and value]
        if tag == "video":
            self.videos.append(attrs["src"])
            self.posters.append(attrs.get("poster"))
        if tag == "track":
            self.tracks.append(attrs)
        if tag == "table":
            self._table = attrs.get("id", "")
        if tag == "tr":
            self._row = []
            self.rows.setdefault(self._table, []).append(self._row)

    def handle_data(self, data):
        self.text.append(data)
        if self._row is not None and data.strip():
            self._row.append(data.strip())


def _parsed(folder: Path) -> _Page:
    parser = _Page()
    parser.feed(_page(folder))
    return parser


@pytest.mark.ffmpeg
def test_page_is_listed_in_the_checksums_and_links_only_files_beside_it(delivered):
    sums = dict(reversed(line.split("  ", 1)) for line in (delivered / "SHA256SUMS").read_text().splitlines())
    assert sums[FILENAME] == sha256_of(delivered / FILENAME)
    for url in _parsed(delivered).urls:
        assert "/" not in url and ":" not in url, url  # nothing fetched from anywhere else
        assert (delivered / url).is_file(), url


@pytest.mark.ffmpeg
def test_page_lists_every_file_with_what_it_is_its_size_and_sha256(delivered):
    rows = {row[0]: row for row in _parsed(delivered).rows["downloads"][1:]}
    on_disk = sorted(path.name for path in delivered.iterdir() if path.name != FILENAME)
    assert sorted(rows) == on_disk
    for name, row in rows.items():
        if name == "SHA256SUMS":
            continue
        assert row[3] == sha256_of(delivered / name), name
        assert row[1] != "File", f"{name} is not described"
    assert rows[f"{ASSET}_international.mp4"][1] == "International version (music and effects only), video"
    assert rows[f"{ASSET}.sr-Latn.vtt"][1] == "Subtitles (sr-Latn), WebVTT"
    assert rows[f"{ASSET}_shot-0001.jpg"][1] == "Shot thumbnail"
    assert rows[f"{ASSET}_subtitled-en_poster.jpg"][1] == "Poster frame of the player: Master with subtitles (en)"
    assert what_it_is(f"{ASSET}_qc.html", ASSET, {}) == "Quality-control report"


@pytest.mark.ffmpeg
def test_page_holds_the_package_text_escaped(delivered):
    page, text = _page(delivered), "".join(_parsed(delivered).text)
    assert "<script>alert" not in page and "<img src=x" not in page and "dawn <b>" not in page
    assert "dawn &lt;b&gt;" in page
    for value in (METADATA["title"], METADATA["description"], METADATA["usage_rights"],
                  METADATA["production_notes"], *METADATA["shot_list"], "Theme <One>", "Б. Композитор",
                  "Ensemble & Co", "Published 2026-03-01", "Filmed 2026-02-27"):
        assert value in text, value


@pytest.mark.ffmpeg
def test_every_version_has_a_player_and_subtitled_ones_their_track(delivered):
    page = _parsed(delivered)
    # In the portal's order: the master, the master with subtitles, the international version.
    assert page.videos == [f"{ASSET}_master-clean.mp4",
                           *[f"{ASSET}_subtitled-{language}.mp4" for language in sorted(SRT_FILES)],
                           f"{ASSET}_international.mp4"]
    assert [(track["srclang"], track["src"]) for track in page.tracks] == \
        [(language, f"{ASSET}.{language}.vtt") for language in sorted(SRT_FILES)]


@pytest.mark.ffmpeg
def test_every_player_shows_a_poster_frame_of_its_own_picture_before_it_plays(delivered):
    page = _parsed(delivered)
    sums = (delivered / "SHA256SUMS").read_text()
    assert all(page.posters), dict(zip(page.videos, page.posters))
    for video, poster in zip(page.videos, page.posters):
        assert poster is not None and f"  {poster}\n" in sums
        picture = Image.open(delivered / poster)
        assert picture.format == "JPEG" and picture.size == (320, 180)  # the display shape, not upscaled
        pixels = np.asarray(picture.convert("RGB"), dtype=float)
        assert pixels.std() > 20, f"{poster} is flat (black?)"
        with av.open(str(delivered / video)) as container:
            duration = container.duration / 1e6
            frames = [frame.to_ndarray(format="rgb24").astype(float) for frame in container.decode(video=0)]
            rate = float(container.streams.video[0].average_rate)
        # the frame shown a tenth in, past a fade from black (cut as the render encoded it: the
        # test pattern moves every frame, so it is nearest its own frame, not a neighbour's)
        shown = math.floor(duration * POSTER_AT * rate + 1e-6)
        distance = {number: np.abs(pixels - frames[number]).mean() for number in (shown - 1, shown, shown + 1)}
        assert min(distance, key=distance.get) == shown and distance[shown] < 8, (poster, distance)
        assert np.abs(pixels - frames[0]).mean() > 10, poster


class _Quiet(SimpleHTTPRequestHandler):
    """Serves the folder, and takes the probe's report."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".vtt": "text/vtt", ".mp4": "video/mp4"}
    reports: queue.Queue

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()
        if self.path == "/probe-result":
            self.reports.put(json.loads(body))

    def log_message(self, *args):
        pass


@pytest.fixture
def served(delivered, tmp_path):
    """The delivery folder on a real web server, plus a copy of the page with the probe script."""
    (delivered / ".probe.html").write_text(_page(delivered).replace("</body>", PROBE), encoding="utf-8")
    handler = type("Handler", (_Quiet,), {"reports": queue.Queue()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(delivered)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.reports
    server.shutdown()
    server.server_close()
    (delivered / ".probe.html").unlink()


@pytest.mark.browser
@pytest.mark.ffmpeg
def test_in_chromium_every_video_plays_and_every_track_loads_its_cues(served, chromium, tmp_path):
    url, reports = served
    browser = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", url + "/.probe.html"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # its own group: its renderer and GPU processes go with it
    try:
        probe = reports.get(timeout=90)
    except queue.Empty:
        pytest.fail("the page's probe never reported (the page did not load, or its script did not run)")
    finally:
        os.killpg(browser.pid, signal.SIGKILL)
        browser.wait(timeout=30)
    assert sorted(probe) == sorted(["master-clean", "international", *[f"subtitled-{lang}" for lang in SRT_FILES]])
    for key, seen in probe.items():
        assert seen["error"] is None, (key, seen)
        assert seen["ready"] >= 2, (key, seen)  # HAVE_CURRENT_DATA: the first frame is decoded
        assert seen["played"] > 0.2, (key, seen)
    assert probe["subtitled-en"]["tracks"] == [{"language": "en", "cues": ["Hello, <i>world</i>", "Too quick"]}]
    assert probe["subtitled-sr-Latn"]["tracks"] == [{"language": "sr-Latn", "cues": ["Zdravo, svete — Đorđe", "Kraj"]}]
    assert probe["master-clean"]["tracks"] == []
