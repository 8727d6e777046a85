"""Render at the floor (docs/design.md section 9): how far the pipeline sits above the least work
its deliverables need, and how far below what a user would otherwise write.

It makes a package: a 1080p25 master with a ProRes picture (prores_ks; a few seconds of moving
test picture, looped by stream copy so that long masters are quick to make), a PCM full mix and
M&E (two stereo streams titled "Full mix" and "M&E"), and two SRT languages. Then it renders the
same deliverables (clean master, international version, one burned-in version per language)
with the same x264 and AAC settings, one variant after the other, in this process tree:

  floor          one hand-written ffmpeg command: one decode, the three picture encodes through
                 a split graph (same x264 settings and threads, same ASS files as the pipeline),
                 then the international version muxed by stream copy
  naive          one ffmpeg run per deliverable, as a user would write them (x264's own threads)
  moviepy        a moviepy script burning one language (benchmarks/moviepy_burn.py), scaled to
                 the number of video deliverables: moviepy re-encodes every one of them
  pipeline       `versioner render` of the package, end to end through Prefect (a subprocess)
  pipeline-core  pipeline.sequence.render_package in this process, without the flow
  floor-3p, pipeline-3p, pipeline-core-3p
                 the same deliverables in web, broadcast and mezzanine (12 files, 9 pictures): the
                 one hand-written pass, `versioner render`, and render_package. The floor encodes
                 the two subtitled ProRes pictures whole, as one ffmpeg pass must; the pipeline
                 encodes them around their cues only and puts them together by stream copy
                 (pipeline/render/patches.py: the same packets), so its render does less work
  pipeline-core-textless
                 the same, of the same package with textless inserts at the master's tail (three
                 of 4 s): the textless version is one more encode, the international version is
                 then a stream copy of it; nothing else should cost more than reading the tail
  floor-textless the floor of that package: the same one pass, reading the tail as one more
                 input, laying the inserts over the programme, and one more encode

and prints wall time, CPU time (of the process tree) and peak memory of each, the ratios, and
writes them as JSON into benchmarks/results/. pipeline-core then renders a master
--long-factor times longer: the peak memory of the Python process must not grow with it.
Untimed warm-ups come first, as on a machine that has rendered before: the Prefect database is
created once, and pipeline-core renders a 4 s package once in this process.

    python benchmarks/bench_render.py [--duration 60] [--preset veryfast] [--repeat 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from a checkout: `python benchmarks/bench_render.py`

from pipeline import subtitles  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.intake.submission import check_submission  # noqa: E402
from pipeline.media.ffmpeg import capabilities, ffmpeg_binary  # noqa: E402
from pipeline.parallel import available_cores  # noqa: E402
from pipeline.render.commands import encoder_threads, prepare_work_dir  # noqa: E402
from pipeline.sequence import render_package  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
VARIANTS = ("floor", "naive", "moviepy", "pipeline", "pipeline-core", "floor-3p", "pipeline-3p", "pipeline-core-3p",
            "pipeline-core-textless", "floor-textless")
LANGUAGES = {  # cues short enough to pass the subtitle QC: nothing but the render to report
    "en": ["The bridge reopened this morning.", "Every cable was replaced,\nthe cyclists have a lane.",
           "The first ferry passed at noon."],
    "fr": ["Le pont a rouvert ce matin.", "Chaque câble est neuf,\nles cyclistes ont leur voie.",
           "Le premier ferry est passé à midi."],
}
MUSIC = "0.06*sin(2*PI*220*t)+0.04*sin(2*PI*331*t)"
EFFECTS = "0.05*(random(0)-0.5)*gt(sin(2*PI*0.3*t),0.6)"
# Speech-like: a voice-band tone, syllable-modulated, spoken while each cue is shown (see write_srt).
NARRATION = "0.15*sin(2*PI*700*t)*(0.5+0.5*sin(2*PI*3*t))*gte(t,0.5)*lt(mod(t-0.5,3.5),3)"
TARGETS = {"pipeline-core/floor": ("<=", 1.10), "pipeline-core-3p/floor-3p": ("<=", 1.10),
           "pipeline-core-textless/floor-textless": ("<=", 1.10), "pipeline/floor": ("<=", 1.25),
           "naive/pipeline": (">=", 1.25), "moviepy/pipeline": (">=", 4.0),
           "pipeline-3p/floor-3p": ("<=", 1.05)}  # at 30 s and longer; 1.15 below (see _verdict)
SHORT_MASTER_S, SHORT_3P_TARGET = 30.0, 1.15


@dataclass
class Measurement:
    variant: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_of: str
    """Whose peak: "children" (the processes the variant ran) or "python process" (this one)."""
    note: str = ""
    walls_s: list[float] = field(default_factory=list)
    step_cpu_s: dict[str, float] = field(default_factory=dict)
    """pipeline-core: CPU time of each step of the render sequence (this process and its children)."""


@dataclass
class Settings:
    preset: str
    crf: int
    languages: list[str]
    work: Path
    package: Path
    config_file: Path
    scripts: Path
    """Folder of the ASS files (and the fonts link) the hand-written variants burn in."""
    picture_loop: Path
    loop_seconds: float = 5.0


# ---- measuring ------------------------------------------------------------------------------

def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_child(command: list[str], cwd: Path | None = None, env: dict | None = None) -> float:
    """Run one process to its end (output kept for a failure); its peak RSS in MB (with the
    descendants it waited for: Linux's wait4 reports the largest of them)."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            log.seek(0)
            tail = log.read().decode("utf-8", "replace")[-3000:]
            raise SystemExit(f"benchmark step failed ({process.returncode}): {' '.join(command[:6])} ...\n{tail}")
    return usage.ru_maxrss / 1024


def measure_children(variant: str, steps: Callable[[], list[float]], note: str = "") -> Measurement:
    """A variant made of processes: wall, CPU of everything it ran, the largest peak RSS."""
    cpu_before, started = _children_cpu(), time.monotonic()
    peaks = steps()
    wall = time.monotonic() - started
    return Measurement(variant, wall, _children_cpu() - cpu_before, max(peaks), "children", note)


def _reset_peak_rss() -> bool:
    """Linux: reset this process's peak RSS to its current RSS (writing 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def measure_in_process(variant: str, work: Callable[[], None], note: str = "") -> Measurement:
    """A variant run in this Python process: wall, CPU of this process and of the processes it
    ran, and the peak RSS of this process during the variant."""
    reset = _reset_peak_rss()
    cpu_before, started = _self_cpu() + _children_cpu(), time.monotonic()
    work()
    wall = time.monotonic() - started
    cpu = _self_cpu() + _children_cpu() - cpu_before
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if not reset:
        note = (note + "; " if note else "") + "peak since the benchmark started (peak RSS cannot be reset here)"
    return Measurement(variant, wall, cpu, peak, "python process", note)


# ---- the package ----------------------------------------------------------------------------

def ffmpeg_command(*args: str) -> list[str]:
    return [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]


def make_picture_loop(path: Path, seconds: float) -> Path:
    """`seconds` of moving 1080p25 test picture as ProRes 422 (prores_ks encodes at a few frames
    a second here, so a long master repeats this loop instead of encoding every frame)."""
    if not path.exists():
        run_child(ffmpeg_command("-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate={FPS}:duration={seconds}",
                                 "-c:v", "prores_ks", "-profile:v", "standard", "-pix_fmt", "yuv422p10le",
                                 str(path)))
    return path


def make_master(path: Path, duration_s: float, loop: Path) -> Path:
    """ProRes picture (the loop, stream-copied end to end) + PCM full mix and M&E."""
    me = f"{MUSIC}+{EFFECTS}"
    mix = f"{me}+{NARRATION}"
    me, mix = (expression.replace(",", "\\,") for expression in (me, mix))  # a comma would end the option
    run_child(ffmpeg_command(
        "-stream_loop", "-1", "-i", str(loop),
        "-f", "lavfi", "-i", f"aevalsrc={mix}|{mix}:s=48000:d={duration_s}",
        "-f", "lavfi", "-i", f"aevalsrc={me}|{me}:s=48000:d={duration_s}",
        "-map", "0:v", "-map", "1:a", "-map", "2:a", "-t", str(duration_s), "-c:v", "copy",
        "-c:a", "pcm_s24le", "-metadata:s:a:0", "title=Full mix", "-metadata:s:a:1", "title=M&E", str(path)))
    return path


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    return f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d},{millis % 1000:03d}"


def write_srt(path: Path, lines: list[str], duration_s: float) -> None:
    """A cue every 3.5 s for the whole programme, shown 3 s."""
    cues, start, number = [], 0.5, 1
    while start + 3.0 < duration_s:
        text = lines[(number - 1) % len(lines)]
        cues.append(f"{number}\n{_timestamp(start)} --> {_timestamp(start + 3.0)}\n{text}\n")
        start, number = start + 3.5, number + 1
    path.write_text("\n".join(cues), encoding="utf-8")


def make_package(folder: Path, duration_s: float, loop: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    make_master(folder / "bench.mov", duration_s, loop)
    for language, lines in LANGUAGES.items():
        write_srt(folder / f"bench.{language}.srt", lines, duration_s)
    (folder / "metadata.yaml").write_text(
        f"title: Render benchmark {duration_s:g} s\nasset_id: bench-{duration_s:g}s\n"
        "publication_date: 2026-01-01\nlanguage: en\n", encoding="utf-8")
    return folder


FPS = 25
"""The frame rate of the test picture (its loop and every master made of it)."""
TEXTLESS_INSERTS = 3
TEXTLESS_INSERT_S = 4.0


def textless_inserts(duration_s: float, loop_s: float) -> tuple[float, list[tuple[float, float, float]]]:
    """Where the tail starts, and each insert's (replaces, from, duration) in seconds: one picture
    loop per insert after the programme, each replacing the same moment of the loop in it."""
    count = min(TEXTLESS_INSERTS, max(1, int(duration_s // loop_s) - 1))
    tail_s = math.ceil(duration_s / loop_s) * loop_s  # the loop's first frame again
    return tail_s, [((number + 1) * loop_s, tail_s + number * loop_s, min(TEXTLESS_INSERT_S, loop_s))
                    for number in range(count)]


def make_textless_package(folder: Path, duration_s: float, loop: Path, loop_s: float) -> Path:
    """The benchmark's package again, with textless inserts: the master runs on after
    programme_end for one picture loop per insert, and each insert replaces the same moment of
    the loop in the programme (so it lands where declared, as the QC measures)."""
    make_package(folder, duration_s, loop)
    tail_s, inserts = textless_inserts(duration_s, loop_s)
    make_master(folder / "bench.mov", tail_s + len(inserts) * loop_s, loop)
    metadata = (folder / "metadata.yaml").read_text(encoding="utf-8") + f"programme_end: {duration_s:g}\ntextless:\n"
    for replaces, start, length in inserts:
        metadata += f"  - replaces: {replaces:g}\n    from: {start:g}\n    duration: {length:g}\n"
    (folder / "metadata.yaml").write_text(metadata, encoding="utf-8")
    return folder


def write_burn_scripts(settings: Settings) -> None:
    """The ASS files the pipeline writes for this package (same cues, same style), for the
    hand-written variants to burn in."""
    config = load_config(settings.config_file)
    submission = check_submission(settings.package, config)
    prepare_work_dir(settings.scripts)
    video = submission.media.video
    for language, track in submission.subtitles.items():
        subtitles.write_ass(track, settings.scripts / f"subtitles-{language}.ass", config.subtitles.style,
                            video.width, video.height, config.subtitles.rules.max_lines)


# ---- the variants ---------------------------------------------------------------------------

def _master(settings: Settings) -> Path:
    return settings.package / "bench.mov"


def _x264(settings: Settings, threads: int | None) -> list[str]:
    args = ["-c:v", "libx264", "-profile:v", "high", "-crf", str(settings.crf), "-preset", settings.preset,
            "-pix_fmt", "yuv420p"]
    return args + (["-threads", str(threads)] if threads else [])


AAC = ["-c:a", "aac", "-ar", "48000", "-ac", "2", "-b:a", "192k"]


def _burn_filter(language: str) -> str:
    return f"ass=filename=subtitles-{language}.ass:fontsdir=fonts:shaping=complex"


def floor_commands(settings: Settings, out: Path) -> list[list[str]]:
    """What an ffmpeg expert writes: one pass for every picture, then a stream-copy mux."""
    count = 1 + len(settings.languages)
    threads = encoder_threads(available_cores(), count)
    pictures = [f"[v{i}]" for i in range(count)]
    graph = [f"[0:v]setsar=1,format=yuv420p,split={count}{''.join(pictures)}",
             f"[0:a:0]asplit={count}{''.join(f'[mix{i}]' for i in range(count))}"]
    graph += [f"[v{i}]{_burn_filter(language)}[burn{i}]" for i, language in enumerate(settings.languages, 1)]
    command = ["-i", str(_master(settings)), "-filter_complex", ";".join(graph),
               "-map", "[v0]", "-map", "[mix0]", *_x264(settings, threads), *AAC, str(out / "master-clean.mp4")]
    for i, language in enumerate(settings.languages, 1):
        command += ["-map", f"[burn{i}]", "-map", f"[mix{i}]", *_x264(settings, threads), *AAC,
                    str(out / f"subtitled-{language}.mp4")]
    command += ["-map", "0:a:1", *AAC, str(out / "me.m4a")]
    mux = ["-i", str(out / "master-clean.mp4"), "-i", str(out / "me.m4a"), "-map", "0:v", "-map", "1:a",
           "-c", "copy", str(out / "international.mp4")]
    return [ffmpeg_command(*command), ffmpeg_command(*mux)]


XDCAM = ["-c:v", "mpeg2video", "-pix_fmt", "yuv422p", "-b:v", "50M", "-minrate", "50M", "-maxrate", "50M",
         "-bufsize", "17825792", "-rc_init_occupancy", "17825792", "-profile:v", "0", "-level:v", "2",
         "-intra_dc_precision", "2", "-intra_vlc", "1", "-non_linear_quant", "1", "-qmin", "1", "-qmax", "12",
         "-lmin", "1*QP2LAMBDA", "-g", "12", "-bf", "2", "-flags", "+ildct+ilme"]
PRORES_HQ = ["-c:v", "prores_ks", "-pix_fmt", "yuv422p10le", "-profile:v", "3", "-vendor", "apl0"]
PCM = ["-c:a", "pcm_s24le", "-ar", "48000"]


def floor_3p_commands(settings: Settings, out: Path) -> list[list[str]]:
    """The floor for three profiles (web MP4, broadcast MXF, ProRes mezzanine) of the same
    versions: one decode split three ways, each profile's pictures (clean + each language)
    encoded once; the broadcast file's 8 mono tracks (mix, M&E, 4 silent) and the mezzanine's
    two stereo tracks from the same sound; then the international versions by stream copy."""
    languages = settings.languages
    count = 1 + len(languages)
    threads = encoder_threads(available_cores(), 3 * count)
    graph = ["[0:v]split=3[web][bc][mz]"]
    for name, chain in (("web", "setsar=1,format=yuv420p"), ("bc", "setsar=1,format=yuv422p,setfield=tff"),
                        ("mz", "setsar=1,format=yuv422p10le")):
        graph.append(f"[{name}]{chain},split={count}" + "".join(f"[{name}{i}]" for i in range(count)))
        graph += [f"[{name}{i}]{_burn_filter(language)}[{name}b{i}]" for i, language in enumerate(languages, 1)]
    mix = [f"mix{kind}{i}" for kind in "wbsm" for i in range(count)]  # web, broadcast, silent, mezzanine
    me = [f"me{kind}{i}" for kind in "bm" for i in range(count)] + ["me_out"]
    graph += [f"[0:a:0]asplit={len(mix)}" + "".join(f"[{label}]" for label in mix),
              f"[0:a:1]asplit={len(me)}" + "".join(f"[{label}]" for label in me)]
    command = ["-i", str(_master(settings))]
    outputs: list[str] = []
    for i in range(count):
        name = "master-clean" if i == 0 else f"subtitled-{languages[i - 1]}"
        suffix = "" if i == 0 else "b"
        outputs += ["-map", f"[web{suffix}{i}]", "-map", f"[mixw{i}]", *_x264(settings, threads), *AAC,
                    str(out / f"{name}.mp4")]
        graph += [f"[mixb{i}]channelsplit[bm{i}l][bm{i}r]", f"[meb{i}]channelsplit[be{i}l][be{i}r]",
                  f"[mixs{i}]volume=0,pan=mono|c0=c0,asplit=4" + "".join(f"[bs{i}_{k}]" for k in range(4))]
        tracks = [f"[bm{i}l]", f"[bm{i}r]", f"[be{i}l]", f"[be{i}r]"] + [f"[bs{i}_{k}]" for k in range(4)]
        outputs += ["-map", f"[bc{suffix}{i}]", *XDCAM, "-threads", str(threads)]
        outputs += [arg for track in tracks for arg in ("-map", track)] + PCM
        outputs += ["-f", "mxf", str(out / f"{name}_broadcast.mxf")]
        outputs += ["-map", f"[mz{suffix}{i}]", *PRORES_HQ, "-threads", str(threads), "-map", f"[mixm{i}]",
                    "-map", f"[mem{i}]", *PCM, str(out / f"{name}_mezzanine.mov")]
    outputs += ["-map", "[me_out]", *AAC, str(out / "me.m4a")]
    command += ["-filter_complex", ";".join(graph), *outputs]
    muxes = [["-i", str(out / "master-clean.mp4"), "-i", str(out / "me.m4a"), "-map", "0:v", "-map", "1:a",
              "-c", "copy", str(out / "international.mp4")]]
    for suffix in ("_broadcast.mxf", "_mezzanine.mov"):
        muxes.append(["-i", str(out / f"master-clean{suffix}"), "-map", "0", "-c", "copy",
                      str(out / f"international{suffix}")])
    return [ffmpeg_command(*command)] + [ffmpeg_command(*mux) for mux in muxes]


def floor_textless_commands(settings: Settings, out: Path, package: Path, duration_s: float) -> list[list[str]]:
    """The floor of the package with textless inserts: the floor's one pass, with the tail read as
    one more input over the inserts' frames only, each insert taken from it and laid over the
    programme for its frames, the textless picture encoded once more, and the international
    version muxed from it."""
    tail_s, inserts = textless_inserts(duration_s, settings.loop_seconds)
    count = 2 + len(settings.languages)
    threads = encoder_threads(available_cores(), count)
    master = str(package / "bench.mov")
    span_s = inserts[-1][1] + inserts[-1][2] - tail_s
    command = ["-t", f"{duration_s:g}", "-i", master, "-ss", f"{tail_s - 0.5 / FPS:.6f}", "-t", f"{span_s:g}",
               "-i", master]
    taken = "+".join(f"between(n\\,{round((start - tail_s) * FPS)}\\,{round((start - tail_s + length) * FPS) - 1})"
                     for _replaces, start, length in inserts)
    cumulative, branches = 0, []
    for replaces, _start, length in inserts:
        branches.append((cumulative + round(length * FPS), f"N+{round(replaces * FPS) - cumulative}"))
        cumulative += round(length * FPS)
    landing = branches[-1][1]
    for limit, value in reversed(branches[:-1]):
        landing = f"if(lt(N\\,{limit})\\,{value}\\,{landing})"
    enable = "+".join(f"between(n\\,{round(replaces * FPS)}\\,{round((replaces + length) * FPS) - 1})"
                      for replaces, _start, length in inserts)
    graph = ["[0:v]split=2[texted][base]",
             f"[1:v]select='{taken}',setpts='({landing}-0.5)/{FPS}/TB'[inserts]",
             f"[base][inserts]overlay=format=auto:enable='{enable}'[composed]"]
    current = "composed"
    pictures = [f"[v{i}]" for i in range(count - 1)]
    graph += [f"[texted]setsar=1,format=yuv420p,split={count - 1}{''.join(pictures)}",
              f"[{current}]setsar=1,format=yuv420p[textless]",
              f"[0:a:0]asplit={count}{''.join(f'[mix{i}]' for i in range(count))}"]
    graph += [f"[v{i}]{_burn_filter(language)}[burn{i}]" for i, language in enumerate(settings.languages, 1)]
    command += ["-filter_complex", ";".join(graph),
                "-map", "[v0]", "-map", "[mix0]", *_x264(settings, threads), *AAC, str(out / "master-clean.mp4"),
                "-map", "[textless]", "-map", f"[mix{count - 1}]", *_x264(settings, threads), *AAC,
                str(out / "textless.mp4")]
    for i, language in enumerate(settings.languages, 1):
        command += ["-map", f"[burn{i}]", "-map", f"[mix{i}]", *_x264(settings, threads), *AAC,
                    str(out / f"subtitled-{language}.mp4")]
    command += ["-map", "0:a:1", *AAC, str(out / "me.m4a")]
    mux = ["-i", str(out / "textless.mp4"), "-i", str(out / "me.m4a"), "-map", "0:v", "-map", "1:a",
           "-c", "copy", str(out / "international.mp4")]
    return [ffmpeg_command(*command), ffmpeg_command(*mux)]


def naive_commands(settings: Settings, out: Path) -> list[list[str]]:
    """One ffmpeg run per deliverable, each decoding the master and encoding its picture."""
    def one(picture_filter: str, sound: str, name: str) -> list[str]:
        return ffmpeg_command("-i", str(_master(settings)), "-map", "0:v", "-map", sound, "-vf", picture_filter,
                              *_x264(settings, None), *AAC, str(out / name))

    commands = [one("setsar=1,format=yuv420p", "0:a:0", "master-clean.mp4"),
                one("setsar=1,format=yuv420p", "0:a:1", "international.mp4")]
    commands += [one(f"setsar=1,format=yuv420p,{_burn_filter(language)}", "0:a:0", f"subtitled-{language}.mp4")
                 for language in settings.languages]
    return commands


def run_hand_written(variant: str, commands: list[list[str]], settings: Settings, out: Path) -> Measurement:
    out.mkdir(parents=True)
    note = {"floor": "1 ffmpeg pass + 1 stream-copy mux",
            "floor-3p": "3 profiles: 1 ffmpeg pass + 3 stream-copy muxes",
            "floor-textless": "textless inserts: 1 ffmpeg pass (4 encodes, the tail read) + 1 stream-copy mux",
            "naive": f"{len(commands)} ffmpeg runs, x264 threads left to x264"}[variant]
    return measure_children(variant, lambda: [run_child(command, cwd=settings.scripts) for command in commands], note)


def run_moviepy(settings: Settings, out: Path) -> Measurement:
    out.mkdir(parents=True)
    language = settings.languages[0]
    command = [sys.executable, str(ROOT / "benchmarks" / "moviepy_burn.py"), str(_master(settings)),
               str(settings.package / f"bench.{language}.srt"), str(out / f"subtitled-{language}.mp4"),
               "--preset", settings.preset, "--crf", str(settings.crf)]
    deliverables = 2 + len(settings.languages)
    measured = measure_children("moviepy", lambda: [run_child(command, cwd=ROOT)],
                                f"1 burned language measured; wall and CPU x{deliverables} for the "
                                f"{deliverables} video deliverables")
    measured.wall_s *= deliverables
    measured.cpu_s *= deliverables
    return measured


def prefect_environment(settings: Settings) -> dict:
    """The CLI's environment: its own Prefect home (the embedded default), no server."""
    env = os.environ.copy()
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_HOME"] = str(settings.work / "prefect-home")
    return env


def warm_up_prefect(settings: Settings) -> None:
    """Create the Prefect database once, untimed, as on any machine that has rendered before."""
    code = "from prefect import flow\n@flow\ndef warm_up():\n    return 1\nwarm_up()\n"
    run_child([sys.executable, "-c", code], cwd=ROOT, env=prefect_environment(settings))


def run_pipeline(settings: Settings, out: Path, variant: str = "pipeline") -> Measurement:
    command = [sys.executable, "-m", "flows.cli", "render", str(settings.package), "--out", str(out),
               "--config", str(settings.config_file)]
    return measure_children(variant, lambda: [run_child(command, cwd=ROOT, env=prefect_environment(settings))],
                            "`versioner render`, through the Prefect flow")


def run_pipeline_core(settings: Settings, out: Path, package: Path | None = None,
                      variant: str = "pipeline-core") -> Measurement:
    config = load_config(settings.config_file)
    steps: dict[str, float] = {}

    def timed_step(name: str, step: Callable, *args):
        before = _self_cpu() + _children_cpu()
        try:
            return step(*args)
        finally:
            steps[name] = round(_self_cpu() + _children_cpu() - before, 2)

    def render() -> None:
        report = render_package(package or settings.package, out, config, run_step=timed_step)
        if report.exit_code != 0:
            raise SystemExit(f"{variant}: {[(item.key, item.reason) for item in report.failed]}")

    measured = measure_in_process(variant, render, "pipeline.sequence.render_package, in this process")
    measured.step_cpu_s = steps
    return measured


# ---- the run --------------------------------------------------------------------------------

def run_variant(variant: str, settings: Settings, out: Path) -> Measurement:
    if variant == "floor":
        return run_hand_written(variant, floor_commands(settings, out), settings, out)
    if variant == "floor-3p":
        return run_hand_written(variant, floor_3p_commands(settings, out), settings, out)
    if variant == "pipeline-3p":
        return run_pipeline(dataclasses.replace(settings, config_file=settings.work / "bench-3p.toml"), out, variant)
    if variant == "pipeline-core-3p":
        three = dataclasses.replace(settings, config_file=settings.work / "bench-3p.toml")
        return run_pipeline_core(three, out, variant=variant)
    if variant in ("pipeline-core-textless", "floor-textless"):
        package = settings.work / "package-textless"
        duration_s = check_submission(settings.package, load_config(settings.config_file)).programme.duration_s
        if not package.exists():
            make_textless_package(package, duration_s, settings.picture_loop, settings.loop_seconds)
        if variant == "floor-textless":
            return run_hand_written(variant, floor_textless_commands(settings, out, package, duration_s), settings, out)
        return run_pipeline_core(settings, out, package, variant=variant)
    if variant == "naive":
        return run_hand_written(variant, naive_commands(settings, out), settings, out)
    if variant == "moviepy":
        return run_moviepy(settings, out)
    if variant == "pipeline":
        return run_pipeline(settings, out)
    return run_pipeline_core(settings, out)


def median_of(runs: list[Measurement]) -> Measurement:
    """The run of median wall time (all runs' walls kept), the largest peak."""
    ordered = sorted(runs, key=lambda run: run.wall_s)
    chosen = ordered[(len(ordered) - 1) // 2]
    chosen.walls_s = [round(run.wall_s, 2) for run in runs]
    chosen.peak_rss_mb = max(run.peak_rss_mb for run in runs)
    return chosen


RATIOS = {"pipeline/floor": ("pipeline", "floor"), "pipeline-core/floor": ("pipeline-core", "floor"),
          "pipeline-core-3p/floor-3p": ("pipeline-core-3p", "floor-3p"),
          "pipeline-3p/floor-3p": ("pipeline-3p", "floor-3p"),
          "pipeline-core-textless/pipeline-core": ("pipeline-core-textless", "pipeline-core"),
          "floor-textless/floor": ("floor-textless", "floor"),
          "pipeline-core-textless/floor-textless": ("pipeline-core-textless", "floor-textless"),
          "naive/pipeline": ("naive", "pipeline"), "moviepy/pipeline": ("moviepy", "pipeline")}
"""Each ratio the report gives: (numerator variant, denominator variant)."""


def ratios(results: dict[str, Measurement], measure: str = "wall_s") -> dict[str, float]:
    """The ratios of the issue, of wall time (the targets) or of CPU time (`measure="cpu_s"`:
    steadier than wall time when other work shares the machine)."""
    return {name: getattr(results[top], measure) / getattr(results[bottom], measure)
            for name, (top, bottom) in RATIOS.items() if top in results and bottom in results}


def pair_ratios(results: dict[str, Measurement]) -> dict[str, list[float]]:
    """Each ratio run by run, where both variants ran more than once: the runs are interleaved
    (run i of one variant beside run i of the other), so each pair shares the machine's state of
    its minutes; the spread of the pairs shows how far one sitting's ratio can be trusted."""
    return {name: [round(high / low, 3) for high, low in zip(results[top].walls_s, results[bottom].walls_s)]
            for name, (top, bottom) in RATIOS.items()
            if top in results and bottom in results and len(results[top].walls_s) > 1
            and len(results[top].walls_s) == len(results[bottom].walls_s)}


def _verdict(name: str, value: float, duration_s: float) -> str:
    if name not in TARGETS:
        return "no target"
    sense, limit = TARGETS[name]
    if name == "pipeline-3p/floor-3p" and duration_s < SHORT_MASTER_S:
        limit = SHORT_3P_TARGET  # the fixed costs weigh more on a short master
    passed = value <= limit if sense == "<=" else value >= limit
    return f"target {sense} {limit:.2f}: {'ok' if passed else 'MISSED'}"


def print_report(document: dict) -> None:
    print(f"\n{document['machine']['cores']} cores, load average {document['machine']['load_before']} before, "
          f"{document['machine']['load_after']} after; ffmpeg {document['machine']['ffmpeg']}")
    print(f"x264 preset {document['settings']['preset']} crf {document['settings']['crf']} for every variant "
          f"(a fast preset keeps the benchmark short; the ratios hold the same encodes on both sides)")
    print(f"master: {document['settings']['duration_s']:g} s 1080p25 ProRes 422, PCM mix + M&E, "
          f"{len(document['settings']['languages'])} SRT languages\n")
    print(f"{'variant':<15}{'wall s':>9}{'CPU s':>9}{'peak MB':>9}  peak of          note")
    for item in document["variants"]:
        print(f"{item['variant']:<15}{item['wall_s']:>9.1f}{item['cpu_s']:>9.1f}{item['peak_rss_mb']:>9.0f}  "
              f"{item['peak_of']:<16} {item['note']}")
    for item in document["variants"]:
        if item.get("step_cpu_s"):
            print(f"  {item['variant']} CPU s by step: "
                  + ", ".join(f"{name} {seconds:.1f}" for name, seconds in item["step_cpu_s"].items()))
    render_cpu = {item["variant"]: item["step_cpu_s"].get("render deliverables") for item in document["variants"]
                  if item.get("step_cpu_s")}
    if render_cpu.get("pipeline-core") and render_cpu.get("pipeline-core-textless"):
        print(f"  render step CPU, textless / without: "
              f"{render_cpu['pipeline-core-textless'] / render_cpu['pipeline-core']:.2f}")
    print()
    if document["ratios"]:
        print(f"{'ratio':<38}{'wall':>6}{'CPU':>8}")
    for name, value in document["ratios"].items():
        print(f"{name:<38}{value:>6.3f}{document['cpu_ratios'][name]:>8.3f}   wall {_verdict(name, value, document['settings']['duration_s'])}")
        pairs = document.get("pair_ratios", {}).get(name)
        if pairs:  # the verdict is the medians' ratio; the pairs show its spread
            print(f"  run by run: {', '.join(f'{pair:.3f}' for pair in pairs)} (their median "
                  f"{statistics.median(pairs):.3f})")
    memory = document.get("memory_flatness")
    if memory:
        print(f"\npeak RSS of the Python process, pipeline-core: {memory['short_mb']:.0f} MB for "
              f"{memory['short_s']:g} s, {memory['long_mb']:.0f} MB for {memory['long_s']:g} s: "
              f"x{memory['ratio']:.3f} (target <= 1.10: {'ok' if memory['ratio'] <= 1.10 else 'MISSED'})")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Render benchmark: the pipeline against the floor, "
                                     "hand-written ffmpeg runs and moviepy.")
    parser.add_argument("--duration", type=float, default=60.0, help="master length in seconds (default 60)")
    parser.add_argument("--long-factor", type=float, default=4.0,
                        help="pipeline-core also renders a master this many times longer (0: skip)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset of every variant (default veryfast)")
    parser.add_argument("--crf", type=int, default=23, help="x264 CRF of every variant (default 23)")
    parser.add_argument("--loop-seconds", type=float, default=5.0,
                        help="seconds of distinct ProRes picture; the master loops them (default 5)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset to run")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each variant, interleaved, every other round in reverse order; "
                        "the median wall counts (default 1)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed)")
    return parser.parse_args(argv)


def prepare(args: argparse.Namespace, work: Path) -> Settings:
    config_file = work / "bench.toml"
    config_file.write_text(f'[profiles.web]\npreset = "{args.preset}"\ncrf = {args.crf}\n', encoding="utf-8")
    (work / "bench-3p.toml").write_text(config_file.read_text() + '[outputs]\nprofiles = ["web", "broadcast", '
                                        '"mezzanine"]\n', encoding="utf-8")
    loop = make_picture_loop(work / f"picture-{args.loop_seconds:g}s.mov", args.loop_seconds)
    package = make_package(work / "package", args.duration, loop)
    settings = Settings(args.preset, args.crf, sorted(LANGUAGES), work, package, config_file, work / "scripts",
                        loop, args.loop_seconds)
    write_burn_scripts(settings)
    return settings


def warm_up_core(settings: Settings) -> None:
    """Render a 4 s package in this process, untimed: what the first render of a process loads
    once (fonts, the chart backend...) must not count as the memory of the first master."""
    package = make_package(settings.work / "package-warm-up", 4.0, settings.picture_loop)
    run_pipeline_core(settings, settings.work / "out-warm-up", package)
    shutil.rmtree(settings.work / "out-warm-up", ignore_errors=True)


def run_all(args: argparse.Namespace, settings: Settings) -> dict[str, Measurement]:
    chosen = [name for name in args.variants.split(",") if name]
    unknown = set(chosen) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}; choose among {', '.join(VARIANTS)}")
    if "pipeline" in chosen or "pipeline-3p" in chosen:
        warm_up_prefect(settings)
    if "pipeline-core" in chosen:
        warm_up_core(settings)
    runs: dict[str, list[Measurement]] = {name: [] for name in chosen}
    for attempt in range(args.repeat):
        # every other round in reverse (A B, B A, ...): a machine that drifts in one direction over
        # the sitting does not always favour the variant that runs first
        for name in chosen if attempt % 2 == 0 else chosen[::-1]:
            out = settings.work / f"out-{name}-{attempt}"
            print(f"running {name} ({attempt + 1}/{args.repeat}) ...", flush=True)
            runs[name].append(run_variant(name, settings, out))
            shutil.rmtree(out, ignore_errors=True)
    return {name: median_of(measured) for name, measured in runs.items()}


def memory_flatness(args: argparse.Namespace, settings: Settings, short: Measurement | None) -> dict | None:
    if not args.long_factor or short is None:
        return None
    long_s = args.duration * args.long_factor
    print(f"running pipeline-core on a {long_s:g} s master ...", flush=True)
    package = make_package(settings.work / "package-long", long_s, settings.picture_loop)
    out = settings.work / "out-pipeline-core-long"
    long = run_pipeline_core(settings, out, package, variant="pipeline-core-long")
    shutil.rmtree(out, ignore_errors=True)
    return {"short_s": args.duration, "long_s": long_s, "short_mb": short.peak_rss_mb, "long_mb": long.peak_rss_mb,
            "ratio": long.peak_rss_mb / short.peak_rss_mb, "long_wall_s": long.wall_s, "long_cpu_s": long.cpu_s}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-render-"))
    work.mkdir(parents=True, exist_ok=True)
    load_before = [round(value, 1) for value in os.getloadavg()]
    try:
        settings = prepare(args, work)
        results = run_all(args, settings)
        memory = memory_flatness(args, settings, results.get("pipeline-core"))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    document = {
        "benchmark": "bench_render", "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/bench_render.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cores": available_cores(), "platform": platform.platform(), "ffmpeg": capabilities().version,
                    "load_before": load_before, "load_after": [round(value, 1) for value in os.getloadavg()]},
        "settings": {"duration_s": args.duration, "preset": args.preset, "crf": args.crf,
                     "languages": sorted(LANGUAGES), "repeat": args.repeat, "loop_seconds": args.loop_seconds},
        "variants": [asdict(measured) for measured in results.values()],
        "ratios": ratios(results),
        "cpu_ratios": ratios(results, "cpu_s"),
        "pair_ratios": pair_ratios(results),
        "memory_flatness": memory,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench_render-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print_report(document)
    print(f"\nwritten: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
