"""The render: one ffmpeg process decodes the master once and encodes the picture once for the
clean master and once per burned-in language, through a split filter graph (DESIGN.md
section 9). The international version then takes the clean master's encoded picture by stream
copy. Python never touches a video frame here; the builders below are pure.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

from . import ffmpeg
from .config import Config, DeliveryProfile
from .deliverables import DeliverableSpec
from .layouts import me_pan, merged_audio, mix_pan
from .loudness import GainPlan
from .probe import VideoInfo

log = logging.getLogger(__name__)

FONTS_LINK = "fonts"
"""Name of the link to the font folder inside the work dir: filter arguments stay plain names."""


def fonts_dir() -> Path:
    """DejaVu fonts shipped inside matplotlib (Latin, Cyrillic, Arabic...): no system font needed."""
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def scaled_size(video: VideoInfo, profile: DeliveryProfile) -> tuple[int, int] | None:
    """The delivery size when the master is larger than the profile allows, aspect kept."""
    ratio = min(profile.max_width / video.width, profile.max_height / video.height, 1.0)
    width, height = video.width, video.height
    if ratio < 1.0:
        width, height = int(video.width * ratio), int(video.height * ratio)
    width, height = width - width % 2, height - height % 2  # 4:2:0 needs even sizes
    return None if (width, height) == (video.width, video.height) else (width, height)


@dataclass(frozen=True)
class RenderInputs:
    master: Path
    video: VideoInfo
    roles: list[str]
    audio_streams: list
    start_s: float
    duration_s: float


@dataclass
class RenderPlan:
    command: list[str]
    outputs: dict[str, Path]
    """Deliverable key -> file written by `command` (international comes from `mux_command`)."""
    me_audio: Path | None = None
    mux_commands: dict[str, list[str]] = field(default_factory=dict)
    video_encodes: int = 0


def _video_graph(inputs: RenderInputs, profile: DeliveryProfile, burns: list[tuple[str, str]]) -> tuple[list[str], str, dict[str, str]]:
    """Chains from [0:v] to one label per picture; `burns` is (language, ass file name)."""
    conform = ["setsar=1"]
    size = scaled_size(inputs.video, profile)
    if size:
        conform.insert(0, f"scale={size[0]}:{size[1]}:flags=lanczos")
    conform.append(f"format={profile.pix_fmt}")
    count = 1 + len(burns)
    labels = [f"v{i}" for i in range(count)]
    chains = [f"[0:v]{','.join(conform)},split={count}{''.join(f'[{label}]' for label in labels)}"]
    pictures = {"clean": labels[0]}
    for (language, ass_name), label in zip(burns, labels[1:]):
        chains.append(f"[{label}]ass=filename={ass_name}:fontsdir={FONTS_LINK}:shaping=complex[burn_{label}]")
        pictures[language] = f"burn_{label}"
    return chains, labels[0], pictures


def _audio_graph(inputs: RenderInputs, gain: GainPlan, mix_copies: int, with_me: bool,
                 sample_rate: int) -> tuple[list[str], list[str], str | None]:
    chains, merged = merged_audio(inputs.audio_streams, sample_rate=sample_rate)
    gain_chain = ",".join(gain.filters())
    splits = 2 if with_me else 1
    chains.append(f"[{merged}]asplit={splits}[pre_mix]" + ("[pre_me]" if with_me else ""))
    mix_labels = [f"mix{i}" for i in range(mix_copies)]
    chains.append(f"[pre_mix]pan={mix_pan(inputs.roles)},{gain_chain},"
                  f"asplit={mix_copies}{''.join(f'[{label}]' for label in mix_labels)}")
    me_label = None
    if with_me:
        me_label = "me0"
        chains.append(f"[pre_me]pan={me_pan(inputs.roles)},{gain_chain}[{me_label}]")
    return chains, mix_labels, me_label


def _video_codec_args(profile: DeliveryProfile, threads: int) -> list[str]:
    args = ["-c:v", profile.video_codec, "-threads", str(threads)]
    if profile.video_codec == "libx264":
        args += ["-profile:v", profile.video_profile, "-crf", str(profile.crf), "-preset", profile.preset]
    return args


def _audio_codec_args(profile: DeliveryProfile) -> list[str]:
    args = ["-c:a", profile.audio_codec, "-ar", str(profile.sample_rate), "-ac", "2"]
    if profile.audio_codec == "aac":
        args += ["-b:a", profile.audio_bitrate]
    return args


def _container_args(profile: DeliveryProfile) -> list[str]:
    # use_metadata_tags keeps custom keys (asset_id, usage_rights...) in MP4/MOV.
    return ["-movflags", "+faststart+use_metadata_tags"]


def encoder_threads(video_encodes: int) -> int:
    """Threads per picture encode, so that parallel encodes share the cores instead of fighting."""
    cores = os.cpu_count() or 2
    return max(1, round(cores * 1.5 / max(1, video_encodes)))


def build_render_command(inputs: RenderInputs, specs: list[DeliverableSpec], gain: GainPlan,
                         config: Config, work_dir: Path, asset_id: str,
                         metadata: dict[str, list[str]]) -> RenderPlan:
    """The single ffmpeg command making every encoded deliverable. Pure: no I/O."""
    profile = config.delivery
    encoded = [spec for spec in specs if spec.picture in ("encode", "burn")]
    burns = [(spec.subtitle_language, f"subtitles-{spec.subtitle_language}.ass")
             for spec in encoded if spec.picture == "burn"]
    with_me = any(spec.audio == "me" for spec in specs)
    video_chains, _clean, pictures = _video_graph(inputs, profile, burns)
    audio_chains, mix_labels, me_label = _audio_graph(inputs, gain, len(encoded), with_me, profile.sample_rate)
    threads = encoder_threads(len(encoded))
    command = (ffmpeg.base_args() + ffmpeg.input_args(inputs.master, seek_s=inputs.start_s,
                                                      duration_s=inputs.duration_s)
               + ["-filter_complex", ";".join(video_chains + audio_chains)])
    outputs: dict[str, Path] = {}
    for spec, mix_label in zip(encoded, mix_labels):
        picture = pictures["clean"] if spec.picture == "encode" else pictures[spec.subtitle_language]
        path = work_dir / spec.filename(asset_id, profile.container)
        command += (["-map", f"[{picture}]", "-map", f"[{mix_label}]"]
                    + _video_codec_args(profile, threads) + ["-pix_fmt", profile.pix_fmt]
                    + _audio_codec_args(profile) + metadata.get(spec.key, [])
                    + _container_args(profile) + [str(path)])
        outputs[spec.key] = path
    plan = RenderPlan(command=command, outputs=outputs, video_encodes=len(encoded))
    if me_label:
        plan.me_audio = work_dir / "me-audio.m4a" if profile.audio_codec == "aac" else work_dir / "me-audio.mov"
        command += ["-map", f"[{me_label}]"] + _audio_codec_args(profile) + [str(plan.me_audio)]
    command += ffmpeg.progress_args()
    return plan


def build_copy_command(picture_source: Path, audio_source: Path, output: Path,
                       metadata: list[str]) -> list[str]:
    """A deliverable made by stream copy: the picture of one file, the sound of another."""
    return (ffmpeg.base_args() + ffmpeg.input_args(picture_source) + ffmpeg.input_args(audio_source)
            + ["-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-map_metadata", "-1"]
            + metadata + ["-movflags", "+faststart+use_metadata_tags", str(output)])


def render_timeout(duration_s: float, config: Config) -> float:
    return 60 + duration_s * config.limits.render_timeout_factor


def prepare_work_dir(work_dir: Path) -> None:
    """The work dir holds the ASS files and a `fonts/` folder of links to the burn-in fonts, so
    the filter graph names only plain relative paths (nothing there needs escaping)."""
    fonts = work_dir / FONTS_LINK
    fonts.mkdir(parents=True, exist_ok=True)
    for font in sorted(fonts_dir().glob("DejaVuSans*.ttf")):
        link = fonts / font.name
        if not link.exists():
            link.symlink_to(font)
