"""Every finished output read back: its streams, its duration, its loudness, its technical facts."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

from pipeline.analysis import AudioAnalysis
from pipeline.audio import loudness
from pipeline.audio.signals import base_signal
from pipeline.config import Config, OutputProfile, rate_family
from pipeline.deliverables import Deliverable
from pipeline.delivery.contact_sheets import ContactSheets
from pipeline.delivery.measure import MasterFacts, measured_problems
from pipeline.delivery.profile_checks import pair_loudness, profile_problems, track_roles
from pipeline.delivery.results import DeliverableResult, DeliverableState, TechnicalFacts
from pipeline.delivery.surround import surround_problems
from pipeline.delivery.textless_check import InsertMatch, measure_inserts
from pipeline.files import sha256_of
from pipeline.intake.submission import Submission
from pipeline.media.ffmpeg import TimeLimit
from pipeline.media.probe import MediaInfo, probe, sound_digest
from pipeline.parallel import SideBySide
from pipeline.render.commands import RenderedSheet, RenderInputs, render_timeout
from pipeline.render.conform import out_interlaced


def verify_outputs(submission: Submission, deliverables: list[Deliverable], outputs: dict[str, Path],
                   config: Config, analysis: AudioAnalysis | None = None,
                   sheets: Mapping[str, RenderedSheet] | None = None) -> list[DeliverableResult]:
    """Read every finished output back, the files side by side (one per core: after the render
    the cores are free, and each read-back mostly waits on its own ffmpeg), and give each file
    its contact sheet for the QC report (pipeline.delivery.contact_sheets): the one the render cut
    from its own decode (`sheets`, by key), else one cut from the file beside the read-backs.

    Their loudness: where an output's sound is, packet for packet, what the loudness trial encoded
    and measured (the render copies it in), that measurement; the others measured in one
    audio-only ffmpeg run (not one per file)."""
    by_key = {deliverable.key: deliverable for deliverable in deliverables}
    limit = render_timeout(RenderInputs.of(submission), config, reads=len(outputs))
    spent = dict.fromkeys(outputs, 0.0)  # each file's own read-back, for the provenance's timings
    by_pair = [key for key in outputs if _measured_by_pair(by_key[key], config)]

    def measure_pairs(key: str) -> dict[str, loudness.Loudness]:
        with _timed(spent, key):
            return pair_loudness(outputs[key], config.profiles[by_key[key].profile], by_key[key], limit)

    # the sheets' folder outlives the threads: leaving the pool waits for every sheet being cut
    with tempfile.TemporaryDirectory(prefix="versioner-sheets-") as scratch, SideBySide(name="verify") as workers:
        contact = ContactSheets(submission, Path(scratch), config.limits, workers, rendered=sheets)
        pairs = dict(zip(by_pair, workers.map(measure_pairs, by_pair)))
        known = _known_loudness({key: path for key, path in outputs.items() if key not in pairs}, analysis)
        known |= {key: measured[by_key[key].sound.signal] for key, measured in pairs.items()}
        unknown = {key: path for key, path in outputs.items() if key not in known}
        if unknown:  # one pass for all of them: counted in the step, not in a file
            known |= dict(zip(unknown, loudness.measure_files(list(unknown.values()), limit=limit)))

        def verify(key: str) -> DeliverableResult:
            with _timed(spent, key):
                result = verify_output(submission, by_key[key], outputs[key], config, measured=known[key])
            contact.ask(result, outputs[key])  # cut beside the other files' read-backs
            return result

        results = workers.map(verify, outputs)
        cut = contact.collect()
    for result in results:
        result.contact_sheet = cut.get(result.key)
    for result in results:
        if result.key in pairs:  # each delivered pair's loudness, by the sound it carries
            result.loudness["tracks"] = {base_signal(signal): value.to_dict()
                                         for signal, value in pairs[result.key].items()}
    _check_textless(submission, results, outputs, limit, spent)
    for result in results:
        result.verify_s = round(spent[result.key], 2)
    return results


@contextmanager
def _timed(spent: dict[str, float], key: str) -> Iterator[None]:
    begun = time.monotonic()
    try:
        yield
    finally:
        spent[key] += time.monotonic() - begun


def _check_textless(submission: Submission, results: list[DeliverableResult], outputs: dict[str, Path],
                    limit: TimeLimit, spent: dict[str, float]) -> None:
    """Each textless insert measured where it landed (pipeline.delivery.textless_check), once per
    profile: a profile's textless versions carry the one encoded textless picture. A misplaced
    insert fails the file, with the offset measured."""
    measured: dict[str, list[InsertMatch]] = {}
    for result in results:
        deliverable = result.deliverable
        if deliverable is None or not deliverable.textless or not result.delivered or submission.textless is None:
            continue
        if deliverable.profile not in measured:
            with _timed(spent, result.key):
                measured[deliverable.profile] = measure_inserts(submission, outputs[result.key], limit)
        result.textless_inserts = [match.to_dict() for match in measured[deliverable.profile]]
        problems = [problem for match in measured[deliverable.profile] if (problem := match.problem(submission.fps))]
        if problems:
            result.state = DeliverableState.FAILED
            result.reason = "; ".join(([result.reason] if result.reason else []) + problems)


def _measured_by_pair(deliverable: Deliverable, config: Config) -> bool:
    """A file of several tracks (or of mono tracks) is measured pair by pair; a file of one stereo
    track whole, by the trial's measurement where its packets are the trial's."""
    profile = config.profiles[deliverable.profile]
    return len(deliverable.tracks) > 1 or profile.audio.tracks == "mono"


def _known_loudness(outputs: dict[str, Path], analysis: AudioAnalysis | None) -> dict[str, loudness.Loudness]:
    if analysis is None or not analysis.sound_digests:
        return {}
    by_digest = {digest: analysis.gain.trial[label] for label, digest in analysis.sound_digests.items()
                 if label in analysis.gain.trial}
    digests = {key: sound_digest(path) for key, path in outputs.items()}
    return {key: by_digest[digest] for key, digest in digests.items() if digest in by_digest}


def verify_output(submission: Submission, deliverable: Deliverable, path: Path, config: Config,
                  measured: loudness.Loudness | None = None) -> DeliverableResult:
    """Read a finished output back: it must have its streams and the programme's duration.
    `measured`: its loudness when already measured (`verify_outputs`)."""
    info = probe(path)
    master = MasterFacts.of(submission, config.profiles[deliverable.profile])
    frame = max(submission.media.picture.frame_s, info.video.frame_s if info.video else 0.0)
    problems = []
    if info.video is None or not info.audio:
        problems.append("missing its video or audio stream")
    if abs(info.duration_s - master.delivered_duration_s) > frame * 1.5:
        problems.append(f"lasts {info.duration_s:.3f} s instead of {master.delivered_duration_s:.3f} s")
    interlaced, frame_aspect = False, None
    if submission.media.video is not None:
        profile = config.profiles[deliverable.profile]
        problems += profile_problems(deliverable.profile, profile, deliverable, path, submission.media.video,
                                     info.video)
        problems += surround_problems(master, path, profile, deliverable, submission.media.audio,
                                      list(submission.layout.roles), limit=render_timeout(RenderInputs.of(submission), config))
        interlaced = out_interlaced(submission.media.video, profile)  # its field flags are checked there
        if profile.width and profile.height:
            frame_aspect = Fraction(profile.width, profile.height)
    problems += measured_problems(master, path, info,
                                  limit=render_timeout(RenderInputs.of(submission), config), interlaced_delivery=interlaced,
                                  frame_aspect=frame_aspect)
    if measured is None:
        measured = loudness.measure_file(path, limit=render_timeout(RenderInputs.of(submission), config))
    technical = technical_facts(path, info, deliverable.sound.roles)
    if deliverable.tracks:
        for stream, roles in zip(technical.audio, track_roles(deliverable, config.profiles[deliverable.profile])):
            stream["roles"] = roles
    state = DeliverableState.FAILED if problems else DeliverableState.DELIVERED
    return DeliverableResult(deliverable.key, state, path.name, "; ".join(problems) or None, technical,
                             measured.to_dict(), short_term=measured.short_term, deliverable=deliverable,
                             conversion=conversion_facts(submission, config.profiles[deliverable.profile], master))


def conversion_facts(submission: Submission, profile: OutputProfile, master: MasterFacts) -> dict:
    """How a file came to another frame rate than the master, for the sidecar (empty: it did not)."""
    video = submission.media.video
    method = profile.rate_conversion(video.fps) if video is not None else None
    if video is None or method in (None, "refuse") or profile.fixed_rate is None:
        return {}
    source, target = rate_family(video.fps), profile.fixed_rate
    return {"method": method, "from_fps": f"{source.numerator}/{source.denominator}",
            "to_fps": f"{target.numerator}/{target.denominator}", "speed": round(master.speed, 6),
            "duration_s": round(master.delivered_duration_s, 3), "start_timecode": master.timecode}


CHANNEL_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


def technical_facts(path: Path, info: MediaInfo, sound_roles: tuple[str, ...] = ()) -> TechnicalFacts:
    """What an output is, read back from the file itself, for the sidecar and the QC report.
    `sound_roles`: the channel roles of the deliverable's sound (its first audio stream)."""
    audio = [stream.__dict__ | {"channel_layout": CHANNEL_LAYOUTS.get(stream.channels, f"{stream.channels} channels"),
                                "roles": list(sound_roles) if position == 0 else []}
             for position, stream in enumerate(info.audio)]
    return TechnicalFacts(container=path.suffix.lstrip("."), format=info.container, size_bytes=path.stat().st_size,
                          duration_s=round(info.duration_s, 3), sha256=sha256_of(path),
                          video=info.to_dict()["video"], audio=audio, subtitle_streams=info.subtitle_streams)
