"""Limits: every size limit in the config refuses what is over it with its own message; every
process is killed when its progress stops for `limits.stall_s`, or past a ceiling grown from its
work. When a limit is hit or a run is cancelled, the whole ffmpeg process group goes: no ffmpeg
outlives its task."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time

import pytest

from pipeline.analysis import analyse_audio
from pipeline.config import load_config
from pipeline.errors import ConfigError, FFmpegStalled, FFmpegTimeout, MediaError, MetadataError, SubtitleError
from pipeline.intake.submission import check_submission
from pipeline.media import ffmpeg, work
from pipeline.media.work import Picture
from pipeline.render.commands import RenderInputs, render_timeout
from pipeline.render.run import render_deliverables
from pipeline.sequence import HeadStart, plan, render_package
from tests.conftest import ROOT, run_versioner
from tests.fault_media import RENDER_CONFIG, make_package, srt_text
from tests.processes import our_ffmpeg_processes, wait_until

FIVE_CUES = srt_text(*[(0.2 * i, 0.2 * i + 0.15, f"cue {i}") for i in range(5)])


def _config(tmp_path, text: str):
    path = tmp_path / "limits.toml"
    path.write_text(RENDER_CONFIG + text)
    return path


LIMITS = {
    "srt bytes": ("[subtitles]\nmax_srt_bytes = 60\n", SubtitleError, "show.en.srt",
                  "bytes, over the limit of 60 bytes"),
    "cue count": ("[subtitles]\nmax_cues = 3\n", SubtitleError, "show.en.srt", "has 5 cues, over the limit of 3"),
    "metadata bytes": ("[limits]\nmax_metadata_bytes = 40\n", MetadataError, "metadata.yaml",
                       "is larger than the 40-byte limit for metadata"),
    "master duration": ("[limits]\nmax_master_duration_s = 1.5\n", MediaError, "show.mov",
                        "lasts 2.0 s, over the limit of 1.5 s"),
}


@pytest.mark.ffmpeg
@pytest.mark.parametrize("limit", list(LIMITS))
def test_each_size_limit_refuses_what_is_over_it(tmp_path, limit):
    overlay, error_type, file, phrase = LIMITS[limit]
    package = make_package(tmp_path / "package", srts={"en": FIVE_CUES})
    assert check_submission(package, load_config(_config(tmp_path, ""))).asset_id  # fine by default
    with pytest.raises(error_type) as caught:
        check_submission(package, load_config(_config(tmp_path, overlay)))
    assert str(caught.value).startswith(f"{package / file}"), str(caught.value)
    assert phrase in caught.value.problem, caught.value.problem
    assert caught.value.fix


@pytest.mark.ffmpeg
def test_a_limit_is_refused_by_the_cli_with_exit_2(tmp_path):
    package = make_package(tmp_path / "package")
    result = run_versioner("check", str(package), "--config",
                           str(_config(tmp_path, "[limits]\nmax_master_duration_s = 1\n")))
    assert result.returncode == 2
    assert f"{package / 'show.mov'}: lasts 2.0 s, over the limit of 1 s" in result.stderr
    assert "fix: split the programme, or raise limits.max_master_duration_s in the config" in result.stderr


def test_the_ceiling_grows_with_the_work_not_the_duration_alone(tmp_path):
    limits = load_config(_config(tmp_path, "[limits]\nceiling_factor = 2\nceiling_floor_s = 10\n")).limits
    hd, uhd = Picture("decode", 1920, 1080), Picture("decode", 3840, 2160)
    one_hd = work.time_limit(limits, 25 * 60, [hd])
    assert one_hd.ceiling_s == pytest.approx(10 + 2 * 25 * 60 * 1920 * 1080 / 1e6 * 0.005)
    assert work.time_limit(limits, 25 * 60, [uhd]).ceiling_s - 10 == pytest.approx(4 * (one_hd.ceiling_s - 10))
    three_profiles = [hd, Picture("libx264", 1920, 1080), Picture("mpeg2video", 1920, 1080),
                      Picture("prores_ks", 1920, 1080)]
    assert work.time_limit(limits, 25 * 60, three_profiles).ceiling_s > 20 * one_hd.ceiling_s
    assert one_hd.stall_s == 300  # the default: stuck, not slow


def test_the_render_ceiling_counts_each_encoded_picture(tmp_path, checked):
    submission, _analysis, specs, _folder = checked
    config = load_config(_config(tmp_path, ""))
    inputs = RenderInputs.of(submission)
    read_only = render_timeout(inputs, config)
    render = render_timeout(inputs, config, specs)
    encoded = [spec for spec in specs if spec.picture != "copy-clean"]
    assert len(encoded) >= 2
    per_read = read_only.ceiling_s - config.limits.ceiling_floor_s
    x264 = per_read * work.SECONDS_PER_MEGAPIXEL_FRAME["libx264"] / work.SECONDS_PER_MEGAPIXEL_FRAME["decode"]
    assert render.ceiling_s == pytest.approx(read_only.ceiling_s + len(encoded) * x264)


@pytest.mark.parametrize("old_key", ["render_timeout_factor", "render_timeout_floor_s"])
def test_a_config_with_a_removed_time_limit_is_refused_naming_what_replaced_it(tmp_path, old_key):
    path = _config(tmp_path, f"[limits]\n{old_key} = 10\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: [limits.{old_key}] removed: ")
    assert "(allowed: stall_s, ceiling_factor, ceiling_floor_s)" in message


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """A 6 s 640x360 package, checked and analysed: long enough to stop its render mid-way."""
    folder = tmp_path_factory.mktemp("limits")
    package = make_package(folder / "package", seconds=6, size=(640, 360),
                           srts={"fr": srt_text((0.5, 5.0, "Bonjour"))})
    config = load_config(_config(folder, ""))
    submission = check_submission(package, config)
    analysis = analyse_audio(submission, config)
    specs, _failures = plan(submission, analysis, config)
    return submission, analysis, specs, folder


def _no_ffmpeg_left() -> None:
    assert ffmpeg.running_processes() == []
    left = wait_until(lambda: not our_ffmpeg_processes(), timeout_s=5)
    assert left, f"ffmpeg still running: {our_ffmpeg_processes()}"


@pytest.mark.ffmpeg
def test_a_render_past_its_ceiling_is_killed(tmp_path, checked):
    submission, analysis, specs, folder = checked
    # A hundredth of what the work takes on a quiet machine (at preset medium: this one is ultrafast).
    tiny = load_config(_config(tmp_path, "[limits]\nceiling_factor = 0.01\nceiling_floor_s = 0\n"))
    deliver = tmp_path / "deliver"
    deliver.mkdir()
    with pytest.raises(FFmpegTimeout) as caught:
        render_deliverables(submission, analysis, specs, tmp_path / "work", deliver, tiny)
    assert not isinstance(caught.value, FFmpegStalled)
    assert re.match(r"render ran past its ceiling of [0-9.]+ s at \d\d:\d\d:\d\d\.\d\d of 00:00:06\.00 "
                    r"and was killed$", caught.value.reason), caught.value.reason
    assert caught.value.command[0] == ffmpeg.capabilities().binary
    _no_ffmpeg_left()


@pytest.mark.ffmpeg
def test_a_package_past_its_ceiling_leaves_nothing_behind(tmp_path, checked):
    submission, *_ = checked
    tiny = _config(tmp_path, "[limits]\nceiling_factor = 0.01\nceiling_floor_s = 0\n")
    out = tmp_path / "out"
    with pytest.raises(FFmpegTimeout):
        render_package(submission.package.root, out, load_config(tiny))
    assert not out.exists() or not any(out.iterdir()), "a partial render was left"
    _no_ffmpeg_left()


@pytest.mark.ffmpeg
def test_cancelling_from_the_progress_callback_kills_ffmpeg(tmp_path, checked):
    submission, analysis, specs, folder = checked
    seen: list[list[int]] = []

    def cancel(progress: ffmpeg.Progress) -> None:
        seen.append(ffmpeg.running_processes())
        raise KeyboardInterrupt  # what Ctrl-C (or a Prefect cancellation) raises in this thread

    deliver = tmp_path / "deliver"
    deliver.mkdir()
    with pytest.raises(KeyboardInterrupt):
        render_deliverables(submission, analysis, specs, tmp_path / "work", deliver,
                            load_config(_config(tmp_path, "")), on_progress=cancel)
    assert seen and seen[0], "the render was not running when it was cancelled"
    _no_ffmpeg_left()


@pytest.mark.ffmpeg
def test_a_head_start_no_run_takes_is_stopped_mid_render_and_leaves_nothing(tmp_path, checked):
    """`versioner render` begins the analysis and the render before its run exists (HeadStart); one
    no run takes (the run failed first, or it was of other work) is stopped when discarded: its
    ffmpeg killed, its work dir gone, nothing left under the folder it rendered in. Its first
    progress report is held until the stop is asked for, so the stop lands mid-render."""
    submission, _analysis, _specs, folder = checked
    reported, go_on = threading.Event(), threading.Event()

    def listener(progress: ffmpeg.Progress) -> None:
        reported.set()
        go_on.wait(60)

    out = tmp_path / "out"
    head = HeadStart(submission, load_config(_config(tmp_path, "")), out, on_progress=listener)
    worker = threading.Thread(target=head.work)
    worker.start()
    assert reported.wait(120), "the render never reported its progress"
    assert ffmpeg.running_processes(), "the render was not running"
    stopper = threading.Thread(target=head.discard)
    stopper.start()
    assert wait_until(lambda: head.stopped, timeout_s=10)
    go_on.set()
    stopper.join(60)
    assert not stopper.is_alive()
    with pytest.raises(Exception, match="no run took this head start"):
        head.rendered.result(timeout=0)  # discard waited for the head start's end
    assert out.is_dir() and not any(out.iterdir()), f"left behind: {list(out.iterdir())}"
    worker.join(10)
    _no_ffmpeg_left()


@pytest.mark.ffmpeg
def test_a_run_that_fails_after_taking_its_head_start_leaves_nothing(tmp_path, checked):
    """A run that took the head start (its check found the same package) and failed before its
    render step ended (here its task runner fails the step while the render runs: a fault of the
    orchestrator) stops the render and removes the head start's work dir."""
    submission, _analysis, _specs, folder = checked
    config = load_config(_config(tmp_path, ""))
    reported = threading.Event()
    out = tmp_path / "out"
    head = HeadStart(submission, config, out, on_progress=lambda progress: reported.set())
    worker = threading.Thread(target=head.work)
    worker.start()

    def failing_runner(name, step, *args):
        if name == "render deliverables":
            assert reported.wait(120), "the render never reported its progress"
            raise RuntimeError("the task runner lost the render step")
        return step(*args)

    with pytest.raises(RuntimeError, match="lost the render step"):
        render_package(submission.package.root, out, config, run_step=failing_runner, head_start=head)
    assert head.stopped and head.rendered.done()
    assert not any(out.iterdir()), f"left behind: {list(out.iterdir())}"
    worker.join(10)
    _no_ffmpeg_left()


@pytest.mark.ffmpeg
def test_a_reader_that_stops_early_kills_its_pcm_stream(checked):
    submission, *_ = checked
    command = (ffmpeg.base_args() + ffmpeg.input_args(submission.package.master, demuxer="mov")
               + ["-vn", "-ac", "1", "-ar", "8000", "-f", "f32le", "pipe:1"])
    stream = ffmpeg.stream_pcm(command, channels=1, chunk_frames=800, limit=ffmpeg.DEFAULT_LIMIT)
    first = next(stream)
    assert first.shape == (800, 1) and ffmpeg.running_processes()
    stream.close()  # the consumer is done (or was cancelled) before the end
    _no_ffmpeg_left()


def _fake_ffmpeg(folder, body: str):
    """An executable that takes ffmpeg's place: `$fd` is the pipe the runner reads progress from."""
    script = folder / "fake-ffmpeg"
    script.write_text(f'#!/bin/sh\nfd="${{2#pipe:}}"\n{body}\n')
    script.chmod(0o755)
    return [str(script), "-hide_banner", "-nostdin", "-y"]


def test_the_watchdog_kills_the_whole_process_group(tmp_path):
    """Not just the process it started: anything that process started too."""
    pid_file = tmp_path / "grandchild.pid"
    command = _fake_ffmpeg(tmp_path, f"sleep 60 & echo $! > '{pid_file}'; wait")
    with pytest.raises(FFmpegStalled, match="shell made no progress for 1 s at 00:00:00.00 and was killed"):
        ffmpeg.run(command, limit=ffmpeg.TimeLimit(stall_s=1.0, ceiling_s=60.0), what="shell")
    grandchild = int(pid_file.read_text())
    assert wait_until(lambda: not _alive(grandchild), timeout_s=5), "the background child survived"


PROGRESS = """i=0
while [ $i -lt 12 ]; do
  i=$((i+1))
  printf 'frame=%s\nout_time_us=%s\ntotal_size=%s\nprogress=continue\n' {frame} {time} {size} >> "/dev/fd/$fd"
  sleep 0.25
done"""


@pytest.mark.parametrize("moving", ["frame", "out_time_us", "total_size"])
def test_any_of_time_frames_or_bytes_moving_is_progress(tmp_path, moving):
    """Outputs written in parallel can hold out_time still while frames go on: still progress."""
    counters = {"frame": "7", "time": "N/A", "size": "N/A"}
    counters[{"frame": "frame", "out_time_us": "time", "total_size": "size"}[moving]] = "$i"
    command = _fake_ffmpeg(tmp_path, PROGRESS.format(**counters))
    started = time.monotonic()
    ffmpeg.run(command, limit=ffmpeg.TimeLimit(stall_s=1.0, ceiling_s=60.0))  # 3 s, over a 1 s stall
    assert time.monotonic() - started > 2.5


def test_progress_reports_that_do_not_move_are_a_stall(tmp_path):
    command = _fake_ffmpeg(tmp_path, PROGRESS.format(frame="7", time="2500000", size="N/A"))
    with pytest.raises(FFmpegStalled, match="^ffmpeg made no progress for 1 s at 00:00:02.50 of 00:00:09.00 "):
        ffmpeg.run(command, limit=ffmpeg.TimeLimit(stall_s=1.0, ceiling_s=60.0), total_s=9.0)


def _working_ffmpeg(folder, seconds: float):
    """An executable in ffmpeg's place that uses the CPU for `seconds` and writes no progress at
    all: nine encoders starting, or a decode towards a first output, on a busy machine."""
    script = folder / "working-ffmpeg"
    script.write_text(f"#!{sys.executable}\nimport time\nend = time.monotonic() + {seconds}\n"
                      "while time.monotonic() < end:\n    pass\n")
    script.chmod(0o755)
    return [str(script), "-hide_banner", "-nostdin", "-y"]


def test_a_run_using_the_cpu_before_its_first_output_is_slow_not_stuck(tmp_path):
    started = time.monotonic()
    ffmpeg.run(_working_ffmpeg(tmp_path, 3.0), limit=ffmpeg.TimeLimit(stall_s=1.0, ceiling_s=60.0))
    assert time.monotonic() - started > 2.5  # three stall limits with nothing written, not killed


@pytest.mark.ffmpeg
def test_an_encoder_filling_its_look_ahead_is_not_stuck(tmp_path):
    """x264 writes its first packet once its look-ahead (40 frames at preset medium) is full:
    at 1080p, with one thread, about a second in which the run writes nothing at all (nine
    encodes on a busy machine: minutes). A stall limit shorter than that is not hit: the run is
    working."""
    frames = 45
    command = ffmpeg.base_args() + ["-f", "lavfi", "-i", f"testsrc2=s=1920x1080:r=25,trim=end_frame={frames}",
                                    "-c:v", "libx264", "-preset", "medium", "-threads", "1",
                                    str(tmp_path / "look-ahead.mp4")]
    started = time.monotonic()
    first_written: list[float] = []

    def heard(progress: ffmpeg.Progress) -> None:
        if progress.done_s > 0 and not first_written:
            first_written.append(time.monotonic() - started)

    stall_s = 0.25
    ffmpeg.run(command, limit=ffmpeg.TimeLimit(stall_s=stall_s, ceiling_s=120.0), total_s=frames / 25, on_progress=heard)
    silent_s = first_written[0] if first_written else time.monotonic() - started
    assert silent_s > 2 * stall_s, f"the encoder wrote after {silent_s:.1f} s: no silence longer than the stall limit"
    assert (tmp_path / "look-ahead.mp4").stat().st_size > 0


def test_a_run_that_works_without_ever_writing_is_ended_by_its_ceiling(tmp_path):
    started = time.monotonic()
    with pytest.raises(FFmpegTimeout, match="^ffmpeg ran past its ceiling of 2 s at 00:00:00.00 and was killed"):
        ffmpeg.run(_working_ffmpeg(tmp_path, 60.0), limit=ffmpeg.TimeLimit(stall_s=1.0, ceiling_s=2.0))
    assert time.monotonic() - started < 10


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.ffmpeg
def test_an_ffmpeg_orphaned_by_its_parent_dies_with_it(tmp_path):
    """A parent killed with SIGKILL cannot clean up; the kernel stops its ffmpeg for it."""
    script = ("import sys; from pipeline.media import ffmpeg; "
              "ffmpeg.run(ffmpeg.base_args() + ['-re', '-f', 'lavfi', '-i', 'testsrc2=d=60', '-f', 'null', '-'], "
              "limit=ffmpeg.DEFAULT_LIMIT)")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        child = wait_until(lambda: [p for p in our_ffmpeg_processes() if p.parent == parent.pid], timeout_s=20)
        assert child, "the parent never started ffmpeg"
        parent.kill()
        parent.wait()
        assert wait_until(lambda: not _alive(child[0].pid), timeout_s=5), "ffmpeg outlived its parent"
    finally:
        parent.kill()
        parent.wait()
