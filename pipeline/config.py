"""Configuration: `configs/default.toml`, optionally overlaid by a user's file, validated once
into typed models. Every error names the file, the key and the allowed values."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import ConfigError

# The configs ship inside the package (`pipeline.configs`, the repository's configs/ folder), so
# an installed wheel finds them wherever it runs from.
CONFIG_DIR = Path(str(resources.files("pipeline.configs")))
DEFAULT_CONFIG = CONFIG_DIR / "default.toml"

ChannelRole = Literal["mix_l", "mix_r", "mix_c", "mix_lfe", "mix_ls", "mix_rs", "mix_lo", "mix_ro",
                      "me_l", "me_r", "me_c", "me_lfe", "me_ls", "me_rs", "me_lo", "me_ro",
                      "dialogue", "music", "effects", "ad", "mute", "unused"]
"""`mix_*` and `me_*`: a stereo pair (l, r) or a 5.1 set (l, r, c, lfe, ls, rs); `lo`/`ro` is the
stereo version beside a 5.1 one. A stem is mono, stereo or 5.1 (six channels, L R C LFE Ls Rs).
`mute` is a silent channel, `unused` a spare track whatever it carries: both are ignored."""

SURROUND_EXTRAS = ("c", "lfe", "ls", "rs")
STEM_CHANNELS = (1, 2, 6)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PathsConfig(_Strict):
    home: str = "~/versioner"
    """Data root; `VERSIONER_HOME` in the environment wins. inbox/work/outbox/quarantine beneath."""

    def data_root(self) -> Path:
        return Path(os.environ.get("VERSIONER_HOME") or self.home).expanduser()


VIDEO_PROFILES = {"libx264": ("baseline", "main", "high", "high422"),
                  "prores_ks": ("proxy", "lt", "standard", "hq", "4444", "4444xq"),
                  "mpeg2video": ("422", "main", "high")}
"""The profiles each delivery encoder can write, as a profile names them in `video_profile`."""
PIXEL_FORMATS = {"libx264": ("yuv420p", "yuv422p", "yuv420p10le", "yuv422p10le"),
                 "prores_ks": ("yuv422p10le", "yuv444p10le"),
                 "mpeg2video": ("yuv420p", "yuv422p")}
CONTAINERS = {"mp4": ("libx264",), "mov": ("libx264", "prores_ks"), "mxf": ("mpeg2video",)}
"""The encoders each container of a profile can carry."""
MAX_SIZE = {"libx264": (8192, 4320), "prores_ks": (8192, 4320), "mpeg2video": (1920, 1152)}
MAX_BIT_RATE = {"mpeg2video": 300_000_000, "libx264": 800_000_000}
"""Bits per second the encoder's highest level allows (MPEG-2 4:2:2 Profile @ High Level: 300 Mb/s)."""


def bit_rate_of(text: str) -> int:
    """'50M' -> 50_000_000, '192k' -> 192_000 (ffmpeg's suffixes, decimal)."""
    scale = {"k": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if text[-1:] in "kMG" else text) * scale)


RateConversion = Literal["auto", "speed", "blend", "motion", "refuse"]
"""How a profile brings a master at another frame rate to its own (`OutputProfile.frame_rate_conversion`)."""

SPEED_LIMIT = 0.05
"""The most a `speed` conversion changes the duration by (23.976 -> 25 is 4.3 %): beyond it the
programme's length and the sound's tempo change too much to pass for the same programme."""


def rate_family(fps: Fraction | float) -> Fraction:
    """A frame rate as its family names it (23.976... as 24000/1001)."""
    return Fraction(fps).limit_denominator(1001)


SAMPLE_RATE = 48000
"""Every profile's sound, and so every routing of the master's sound, is at 48 kHz."""
LOSSY_AUDIO = ("aac",)
"""Audio codecs whose encoder changes the loudness a little: their sound is confirmed on a trial
encode (pipeline/audio/loudness.py) and the trial's files are the delivered sound."""


class ProfileAudio(_Strict):
    """The sound of a delivery profile: its codec and its track allocation."""

    codec: Literal["aac", "pcm_s24le", "pcm_s16le"] = "pcm_s24le"
    """PCM keeps the gained sound exactly; AAC (lossy) gets a trial encode first."""
    bitrate: str = Field("192k", pattern=r"^\d+(\.\d+)?[kM]?$")
    """AAC only."""
    sample_rate: Literal[48000] = 48000
    tracks: Literal["mono", "stereo"] = "stereo"
    """mono: one mono track per channel (a pair per sound); stereo: one stereo track per sound."""
    allocation: list[Literal["version", "mix", "me", "mix51", "me51", "silent"]] = Field(
        ["mix"], min_length=1, max_length=8)
    """The sounds in track order, a stereo pair each: ["mix", "me", "silent", "silent"] is
    tracks 1-2 full mix, 3-4 M&E, 5-8 silent, in every version. "version": the version's own
    sound (the full mix, the M&E in the international version), as the web profile carries it.
    "mix51", "me51": the master's 5.1 mix or M&E, six channels (L R C LFE Ls Rs): six mono
    tracks, or one 6-channel track (["mix", "me", "mix51", "me51"] in mono is EBU R 123's 16)."""
    without_me: Literal["fail", "drop"] = "fail"
    """A master without a sound the allocation names (an M&E, a 5.1): the deliverable is not
    made (fail), or that sound is left out (drop)."""

    @property
    def lossy(self) -> bool:
        return self.codec in LOSSY_AUDIO

    @model_validator(mode="after")
    def _starts_with_a_sound(self) -> ProfileAudio:
        if self.allocation[0] == "silent":
            raise ValueError("the first pair must be a sound (version, mix or me), not silent")
        if self.lossy and self.tracks != "stereo":
            raise ValueError(f"tracks: {self.codec} tracks are stereo; mono tracks are PCM")
        if self.lossy and {"mix51", "me51"} & set(self.allocation):
            raise ValueError(f"allocation: {self.codec} tracks are stereo; a 5.1 sound goes out as PCM")
        return self


class OutputProfile(_Strict):
    """A delivery profile, [profiles.NAME]: the file a web player, a broadcaster or a post house
    takes (web, broadcast, mezzanine in configs/default.toml). Everything in which two profiles
    differ is a key here; the builders that read them are one each (pipeline/render/outputs.py).
    See docs/configuration.md "Delivery profiles"."""

    container: Literal["mp4", "mov", "mxf"]
    video_codec: Literal["libx264", "prores_ks", "mpeg2video"]
    video_profile: str
    level: str | None = None
    """MPEG-2: "high" (1920x1080); H.264: "4.1"..."""
    pix_fmt: str
    bit_rate: str | None = Field(None, pattern=r"^\d+(\.\d+)?[kMG]?$")
    """Constant bit rate ("50M"): minrate = maxrate = bit rate. None: quality-driven (crf, ProRes)."""
    crf: int = Field(18, ge=0, le=51)
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                    "slower", "veryslow"] = "medium"
    gop: int | None = Field(None, ge=1, le=300)
    b_frames: int | None = Field(None, ge=0, le=16)
    width: int | None = Field(None, ge=16)
    height: int | None = Field(None, ge=16)
    """Both set: the exact frame size (the picture fitted inside, aspect kept, black bars). Neither:
    the master's size within max_width x max_height."""
    max_width: int = Field(1920, ge=16)
    max_height: int = Field(1080, ge=16)
    scan: Literal["progressive", "interlaced", "as-master"] = "progressive"
    """interlaced: an interlaced master keeps its fields; a progressive one goes out as PsF (each
    frame coded as two fields, flagged with `field_order`). as-master: the master's own scan."""
    field_order: Literal["tff", "bff"] = "tff"
    frame_rate: Literal["25", "30000/1001", "24", "24000/1001", "50", "60000/1001", "any"] = "any"
    """A fixed rate: a master at another rate is converted (`frame_rate_conversion`)."""
    frame_rate_conversion: RateConversion = "auto"
    """How a master at another rate than `frame_rate` is brought to it (pipeline/render/conform.py):
    speed (every frame kept, played faster or slower, the sound time-stretched with its pitch
    kept: 23.976/24 <-> 25), blend (the duration kept, neighbouring frames blended), motion (the
    duration kept, motion-compensated frames), refuse (no file in this profile). auto: speed
    where the rates differ by under 5 %, else blend. metadata.yaml may override it per package."""
    deinterlace: Literal["double-rate", "same-rate"] = "double-rate"
    """An interlaced master in a progressive profile: one frame per field (50i -> 50p, the motion
    kept) or one per frame (50i -> 25p)."""
    allow_stream_copy: bool = False
    """Take the master's own picture by stream copy when it already meets this profile."""
    faststart: bool = False
    """MP4/MOV: the index at the front, so a player starts before the download ends."""
    profile_in_names: bool = True
    """Files named <asset_id>_<version>_<profile>.<container>; false: <asset_id>_<version>.<container>
    (the web profile, whose names are older than profiles)."""
    audio: ProfileAudio = ProfileAudio()
    soft_subtitles: bool = False
    """The container carries a soft subtitle track (mov_text: MP4 and MOV only)."""
    timecode: bool = True
    loudness: LoudnessConfig | None = None
    """The loudness this profile's files are held to where it differs from [loudness] (a US
    mezzanine at ATSC A/85's -24 LKFS beside web files at -23 LUFS): the keys given overlay
    [loudness] one by one (`Config.loudness_for`). None: [loudness]."""

    @property
    def fixed_rate(self) -> Fraction | None:
        """The profile's frame rate; None: the master's own."""
        return None if self.frame_rate == "any" else Fraction(self.frame_rate)

    def rate_conversion(self, fps: Fraction | float) -> str | None:
        """How a master at `fps` reaches this profile's frame rate: "speed", "blend", "motion",
        or "refuse" (`conversion_refusal` says why); None: no conversion."""
        target, source = self.fixed_rate, rate_family(fps)
        if target is None or target == source:
            return None
        if self.frame_rate_conversion == "auto":
            return "speed" if abs(target / source - 1) < SPEED_LIMIT else "blend"
        if self.frame_rate_conversion == "speed" and abs(target / source - 1) >= SPEED_LIMIT:
            return "refuse"
        return self.frame_rate_conversion

    def speed_factor(self, fps: Fraction | float) -> Fraction:
        """How much faster this profile's file plays the programme than a master at `fps`:
        25 / 23.976 = 1.0427 for a speed conversion, 1 for any other file."""
        if self.rate_conversion(fps) != "speed":
            return Fraction(1)
        return self.fixed_rate / rate_family(fps)  # type: ignore[operator]

    def conversion_refusal(self, fps: Fraction | float, name: str) -> str | None:
        """Why a master at `fps` cannot go out at this profile's frame rate; None: it can."""
        if self.rate_conversion(fps) != "refuse":
            return None
        rates = f"the {name} profile is {self.frame_rate} frames/s and the master {float(fps):g}"
        if self.frame_rate_conversion == "speed":
            return (f"{rates}: a speed conversion would change the duration by more than {SPEED_LIMIT:.0%}; "
                    "set frame_rate_conversion to blend or motion")
        return (f"{rates} and frame_rate_conversion is refuse: deliver a master at {self.frame_rate} "
                "frames/s, or set frame_rate_conversion (speed, blend, motion)")

    @model_validator(mode="after")
    def _codec_can(self) -> OutputProfile:
        codec = self.video_codec
        if codec not in CONTAINERS[self.container]:
            raise ValueError(f"video_codec {codec} cannot go in {self.container} (allowed there: "
                             f"{', '.join(CONTAINERS[self.container])})")
        if self.video_profile not in VIDEO_PROFILES[codec]:
            raise ValueError(f"video_profile '{self.video_profile}' is not a {codec} profile "
                             f"(allowed: {', '.join(VIDEO_PROFILES[codec])})")
        if self.pix_fmt not in PIXEL_FORMATS[codec]:
            raise ValueError(f"pix_fmt '{self.pix_fmt}' cannot be written by {codec} "
                             f"(allowed: {', '.join(PIXEL_FORMATS[codec])})")
        if (self.width is None) != (self.height is None):
            raise ValueError("width and height go together (an exact frame size), or neither")
        width, height = (self.width, self.height) if self.width and self.height else (self.max_width, self.max_height)
        limit = MAX_SIZE[codec]
        if width > limit[0] or height > limit[1] or width % 2 or height % 2:
            raise ValueError(f"size {width}x{height}: {codec} writes even sizes up to {limit[0]}x{limit[1]}")
        if self.bit_rate is not None:
            if codec == "prores_ks":
                raise ValueError("bit_rate: ProRes has no bit rate setting, its rate follows video_profile")
            if bit_rate_of(self.bit_rate) > MAX_BIT_RATE[codec]:
                raise ValueError(f"bit_rate {self.bit_rate} is over what {codec} allows "
                                 f"({MAX_BIT_RATE[codec] // 1_000_000}M)")
        elif codec == "mpeg2video":
            raise ValueError("bit_rate: MPEG-2 needs one (XDCAM HD422 is \"50M\")")
        if self.soft_subtitles and self.container == "mxf":
            raise ValueError("soft_subtitles: MXF carries no mov_text track; set it false")
        if self.loudness is not None and not {"mix", "version"} & set(self.audio.allocation):
            raise ValueError("loudness: its target is the full mix's, and audio.allocation carries no mix; "
                             "put \"mix\" in the allocation or leave the loudness table out")
        if self.allow_stream_copy and codec != "libx264":
            raise ValueError(f"allow_stream_copy: a master's picture stands in only for H.264, not {codec}")
        if self.audio.lossy and self.container == "mxf":
            raise ValueError(f"audio.codec {self.audio.codec} cannot go in MXF (allowed there: pcm_s24le, pcm_s16le)")
        return self


class ConformConfig(_Strict):
    """What the conform does to a master the same way in every profile (pipeline/render/conform.py)."""

    alpha_background: str = Field("black", pattern=r"^(#?[0-9A-Fa-f]{6}|[A-Za-z]+)$")
    """The colour a picture with alpha (ProRes 4444) is flattened onto: a name or #RRGGBB. One
    colour for every profile: the MP4 and the MXF of a master show the same picture."""


class VersionOutputs(_Strict):
    profiles: list[str]


class OutputsConfig(_Strict):
    """Which profiles each version goes out in: `profiles` for every version, and an override per
    version ([outputs.international] profiles = [...])."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    profiles: list[str] = Field(["web"], min_length=1)
    master_clean: VersionOutputs | None = Field(None, alias="master-clean")
    international: VersionOutputs | None = None
    subtitled: VersionOutputs | None = None
    textless: VersionOutputs | None = None
    textless_picture: list[Literal["textless", "international"]] = ["textless", "international"]
    """The versions that take the textless picture when the package has textless material (the
    clean master and the subtitled versions always keep the texted one)."""

    def profiles_for(self, version: str) -> list[str]:
        """The profiles of a version (master-clean, international, textless, subtitled-<lang>)."""
        override = {"master-clean": self.master_clean, "international": self.international,
                    "textless": self.textless}.get(
            version, self.subtitled if version.startswith("subtitled-") else None)
        return list(override.profiles if override else self.profiles)


GAIN_KEYS = ("target_lufs", "true_peak_dbtp", "limiter_headroom_db")
"""The [loudness] keys that decide the gain (and limiter) a sound gets."""
LOUDNESS_KEYS = ("standard (a name), target_lufs (-40 to -5), tolerance_lu (over 0, up to 3), "
                 "true_peak_dbtp (-10 to 0), limiter_headroom_db (0 to 6), as in [loudness]")


class LoudnessConfig(_Strict):
    standard: str = "EBU R 128"
    target_lufs: float = Field(-23.0, ge=-40, le=-5)
    tolerance_lu: float = Field(0.5, gt=0, le=3)
    true_peak_dbtp: float = Field(-1.0, ge=-10, le=0)
    limiter_headroom_db: float = Field(0.5, ge=0, le=6)
    """Where a true-peak limiter is needed, it first aims this far under the ceiling (the audio
    codec adds overshoot); a trial encode then corrects it (see pipeline/loudness.py)."""


class SubtitleStyle(_Strict):
    font_name: str = "DejaVu Sans"
    size_ratio: float = Field(0.055, gt=0.01, lt=0.2)
    """Font size as a fraction of picture height."""
    outline_ratio: float = Field(0.0035, ge=0, lt=0.05)
    shadow_ratio: float = Field(0.0015, ge=0, lt=0.05)
    bottom_margin_ratio: float = Field(0.08, ge=0.0, lt=0.5)
    """Distance from the bottom edge as a fraction of height: inside the title-safe area."""
    side_margin_ratio: float = Field(0.1, ge=0.0, lt=0.4)
    primary_colour: str = "&H00FFFFFF"
    outline_colour: str = "&H00000000"
    back_colour: str = "&H80000000"


class SubtitleRules(_Strict):
    max_lines: int = Field(2, ge=1)
    max_chars_per_line: int = Field(42, ge=1)
    max_chars_per_second: float = Field(17.0, gt=0)
    min_duration_ms: int = Field(833, ge=0)
    max_duration_ms: int = Field(7000, ge=1)
    min_gap_frames: int = Field(2, ge=0)
    sync_warning_s: float = Field(0.5, gt=0)


class SubtitleConfig(_Strict):
    burn_in: bool = True
    soft_track: bool = False
    """Also carry the subtitles as a mov_text track in the subtitled version."""
    max_srt_bytes: int = Field(2_000_000, ge=1)
    max_cues: int = Field(10_000, ge=1)
    sidecar_formats: list[Literal["srt", "vtt", "ttml", "ebu-tt-d"]] = ["srt", "vtt", "ttml", "ebu-tt-d"]
    """The subtitle sidecars written per language (ttml: IMSC 1.1 Text; ebu-tt-d: EBU Tech 3380)."""
    style: SubtitleStyle = SubtitleStyle()
    rules: SubtitleRules = SubtitleRules()
    font_dirs: list[Path] = []
    """Folders of fonts a desk adds for scripts no shipped font covers (Sinhala, Gujarati...):
    the glyph check and the burn-in both look there after the shipped fonts."""

    @field_validator("font_dirs", mode="after")
    @classmethod
    def _folders_of_fonts(cls, folders: list[Path]) -> list[Path]:
        found = [folder.expanduser() for folder in folders]
        for folder in found:
            if not folder.is_dir():
                raise ValueError(f"'{folder}' is not a folder")
            if not any(path.suffix.lower() in (".ttf", ".otf", ".ttc", ".otc") for path in folder.iterdir()):
                raise ValueError(f"'{folder}' holds no font file (.ttf, .otf, .ttc, .otc)")
        return found


class AudioChecks(_Strict):
    silence_dbfs: float = -60.0
    """An M&E whose RMS is below this is silent."""
    same_as_mix_correlation: float = Field(0.995, gt=0, le=1)
    dialogue_correlation: float = Field(0.3, gt=0, le=1)
    null_test_db: float = Field(-40.0, lt=0)
    """A derived M&E (mix - dialogue) is accepted only when the dialogue left in it is below
    this, relative to the dialogue stem and to the derived M&E (see pipeline/audio_checks.py)."""


class Layout(_Strict):
    description: str = ""
    channels: list[ChannelRole]
    titles: list[str] = []
    """Stream titles that name this layout as a whole (e.g. a house's "EXCHANGE 4CH"); the role
    words of stream titles ("Mix", "M&E", "DX"...) are recognised without being listed here."""

    @model_validator(mode="after")
    def _routable(self) -> Layout:
        counts: dict[str, int] = {role: self.channels.count(role) for role in set(self.channels)}
        for sound in ("mix", "me"):
            for left, right in ((f"{sound}_l", f"{sound}_r"), (f"{sound}_lo", f"{sound}_ro")):
                if counts.get(left, 0) != counts.get(right, 0) or counts.get(left, 0) > 1:
                    raise ValueError(f"'{left}' and '{right}' must each appear once, or neither")
            extras = [f"{sound}_{name}" for name in SURROUND_EXTRAS]
            present = [role for role in extras if role in counts]
            if present and (len(present) < 4 or any(counts[role] > 1 for role in present)
                            or f"{sound}_l" not in counts):
                raise ValueError(f"a 5.1 {sound} needs each of {sound}_l, {sound}_r, "
                                 f"{', '.join(extras)} once")
            if f"{sound}_lo" in counts and not present:
                raise ValueError(f"'{sound}_lo'/'{sound}_ro' is the stereo version beside a 5.1 {sound}; "
                                 f"a stereo {sound} alone is {sound}_l/{sound}_r")
        for stem in ("dialogue", "music", "effects", "ad"):
            if counts.get(stem, 0) not in (0, *STEM_CHANNELS):
                raise ValueError(f"'{stem}' has {counts[stem]} channels; a stem is mono (1), stereo (2) "
                                 "or 5.1 (6)")
        if not {"mix_l", "dialogue", "music", "effects"} & set(counts):
            raise ValueError("no full mix: map mix_l/mix_r, or dialogue, music and effects stems")
        return self


class LimitsConfig(_Strict):
    max_metadata_bytes: int = 1_000_000
    max_master_duration_s: float = 6 * 3600
    stall_s: float = Field(300.0, gt=0)
    """An ffmpeg whose progress has not moved, and that has used no CPU, for this long is stuck,
    and is killed (a transient failure). A busy machine only makes progress slowly: that is never
    a reason to kill."""
    ceiling_factor: float = Field(20.0, gt=0)
    """The backstop: an ffmpeg is killed once it has run this many times what its work (pictures x
    pixels x frames, per codec; pipeline/media/work.py) took on the machine the figures were measured on."""
    ceiling_floor_s: float = Field(120.0, ge=0)
    """Added to every ceiling: start-up, probing, and short runs need a moment."""
    min_free_bytes: int = 500_000_000
    max_attempts: int = Field(3, ge=1)
    """Transient failures (a killed process, a full disk) a package may have before quarantine."""
    stale_claim_hours: float = Field(24.0, gt=0)
    """A claim in work/ from another machine older than this is taken back into the inbox (a
    claim from this machine is taken back as soon as its process is gone)."""


TIME_LIMIT_KEYS = ("stall_s", "ceiling_factor", "ceiling_floor_s")
"""When an ffmpeg is killed: they decide whether a render finishes, not what it makes."""


class MediaConfig(_Strict):
    allowed_containers: list[str] = ["mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "mxf"]


class ScheduleConfig(_Strict):
    cron: str = "0 2 * * *"
    timezone: str = "UTC"
    concurrency: int = Field(1, ge=1)


class WatchConfig(_Strict):
    """`versioner watch`: the dropbox beneath the data root (pipeline/ops/dropbox.py)."""

    stable_seconds: float = Field(30.0, gt=0)
    """A drop is taken once its sizes and modification times have not changed for this long."""
    render: Literal["nightly", "now"] = "nightly"
    """nightly: an accepted drop waits in the inbox for the night; now: it renders at once, one at a time."""
    poll: bool | Literal["auto"] = "auto"
    """Poll instead of file-system events: true on network shares, where inotify does not see
    remote writes; "auto" polls when the dropbox is on a network file system."""
    poll_interval_s: float = Field(2.0, gt=0)
    max_drop_bytes: int = Field(1_000_000_000_000, ge=1)
    max_drop_files: int = Field(100, ge=1)


class ShotsConfig(_Strict):
    """The automatic shot list (pipeline/media/shots.py)."""

    enabled: bool = True
    method: Literal["scene", "scdet"] = "scene"
    threshold: float = Field(0.3, gt=0, lt=1)
    """`scene`: a frame whose scene score (0-1) is over this starts a new shot."""
    scdet_threshold: float = Field(10.0, gt=0, lt=100)
    """`scdet`: the same, in scdet's percent (its own default, 10)."""
    width: int = Field(240, ge=32, le=1920)
    """Width of the reduced-size decode the detection and the thumbnails use."""

    @property
    def threshold_of_method(self) -> float:
        return self.scdet_threshold if self.method == "scdet" else self.threshold


class NotifyConfig(_Strict):
    """Who hears of a delivered, incomplete or quarantined package (pipeline/ops/notify.py).

    The addresses are secrets (a webhook URL carries its token, an Apprise URL its password), so
    the config names only the environment variables that hold them, never the addresses."""

    webhook_env: list[str] = []
    """Environment variables each holding a URL that gets a JSON POST."""
    apprise_env: list[str] = []
    """Environment variables each holding one or more Apprise URLs (mailto://, slack://, msteams://...)."""
    attempts: int = Field(3, ge=1, le=10)
    timeout_s: float = Field(10.0, gt=0)
    retry_delay_s: float = Field(2.0, ge=0)


class Config(_Strict):
    paths: PathsConfig = PathsConfig()
    conform: ConformConfig = ConformConfig()
    loudness: LoudnessConfig = LoudnessConfig()
    subtitles: SubtitleConfig = SubtitleConfig()
    audio_checks: AudioChecks = AudioChecks()
    layouts: dict[str, Layout] = {}
    house_layouts: dict[int, str] = {}
    """Track count -> the layout untitled masters of that many channels follow at this facility,
    used only when the signals agree (pipeline/audio/evidence.py)."""
    limits: LimitsConfig = LimitsConfig()
    media: MediaConfig = MediaConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    watch: WatchConfig = WatchConfig()
    notify: NotifyConfig = NotifyConfig()
    shots: ShotsConfig = ShotsConfig()
    profiles: dict[str, OutputProfile] = {}
    """The delivery profiles by name (web, broadcast, mezzanine and a site's own)."""
    outputs: OutputsConfig = OutputsConfig()
    source: list[str] = []
    """The files this config was read from, in order."""

    @model_validator(mode="after")
    def _house_layouts_known(self) -> Config:
        for count, name in self.house_layouts.items():
            if not name:
                continue  # "" : no convention for this count (a --config file cannot delete a key)
            if name not in self.layouts:
                raise ValueError(f"house_layouts: {count} names '{name}', not a layout; known: "
                                 f"{', '.join(sorted(self.layouts))}")
            if len(self.layouts[name].channels) != count:
                raise ValueError(f"house_layouts: {count} names '{name}', which maps "
                                 f"{len(self.layouts[name].channels)} channels, not {count}")
        return self

    @model_validator(mode="after")
    def _outputs_known(self) -> Config:
        known = list(self.profiles)
        overrides = {"profiles": self.outputs.profiles}
        for name in ("master_clean", "international", "subtitled"):
            if (override := getattr(self.outputs, name)) is not None:
                overrides[f"{name.replace('_', '-')}.profiles"] = override.profiles
        for key, names in overrides.items():
            for name in names:
                if name not in known:
                    raise ValueError(f"outputs.{key}: no profile '{name}' (allowed: {', '.join(known)})")
        return self

    def loudness_for(self, profile: str) -> LoudnessConfig:
        """The loudness a profile's files are held to: [loudness], overlaid key by key by the
        profile's own `loudness` table (a profile without one: [loudness] itself)."""
        own = self.profiles[profile].loudness
        if own is None:
            return self.loudness
        return self.loudness.model_copy(update={key: getattr(own, key) for key in own.model_fields_set})

    def has_own_gain(self, profile: str) -> bool:
        """Whether a profile's sound needs a gain of its own: its target, ceiling or limiter
        headroom differ from [loudness] (a different `standard` name or tolerance alone changes
        only what its files are held to, not the sound)."""
        own = self.loudness_for(profile)
        return any(getattr(own, key) != getattr(self.loudness, key) for key in GAIN_KEYS)

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    def lossy_profile(self) -> str | None:
        """The first profile in use with a lossy sound (AAC): the loudness trial encodes as it
        does, and its files go out in every file encoded the same way."""
        return next((name for name in self.profiles_in_use() if self.profiles[name].audio.lossy), None)

    def profiles_in_use(self) -> list[str]:
        """Every profile some version goes out in, in [outputs] order."""
        names = list(self.outputs.profiles)
        for override in (self.outputs.master_clean, self.outputs.international, self.outputs.subtitled,
                         self.outputs.textless):
            names += override.profiles if override else []
        return list(dict.fromkeys(names))

    def with_rate_conversion(self, method: RateConversion | None) -> Config:
        """This config with every profile converting frame rates by `method` (a package's
        `frame_rate_conversion` in metadata.yaml); None: unchanged."""
        if method is None:
            return self
        profiles = {name: profile.model_copy(update={"frame_rate_conversion": method})
                    for name, profile in self.profiles.items()}
        return self.model_copy(update={"profiles": profiles})

    def digest(self) -> str:
        """A hash of everything that changes the deliverables (not where they were read from)."""
        # The lifecycle's own limits decide when a package is retried, not what is rendered.
        data = self.model_dump(exclude={"source": True, "paths": True, "schedule": True, "watch": True,
                                        "notify": True,
                                        "limits": {"max_attempts", "stale_claim_hours", *TIME_LIMIT_KEYS}})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _merge(base: dict, overlay: dict) -> dict:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(path, "-", "file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, "-", f"not valid TOML: {error}") from None


REMOVED_KEYS = {
    "limits.render_timeout_factor": "removed: an ffmpeg is no longer killed for being slow, only when its "
                                    "progress stops for limits.stall_s, or past limits.ceiling_factor x its work",
    "limits.render_timeout_floor_s": "removed: the time added to every ceiling is now limits.ceiling_floor_s",
}
"""Keys an older config may still hold: refused with what replaced them, never ignored."""


def _config_error(path: Path, error: ValidationError) -> ConfigError:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    allowed = ""
    if first["type"] == "literal_error":
        allowed = str(first.get("ctx", {}).get("expected", ""))
    elif first["type"] == "extra_forbidden" and key in REMOVED_KEYS:
        return ConfigError(path, key, REMOVED_KEYS[key], ", ".join(TIME_LIMIT_KEYS))
    elif first["type"] == "extra_forbidden":
        if ".loudness." in key:  # a profile's loudness table takes the keys of [loudness]
            return ConfigError(path, key, "unknown key in a profile's loudness table", LOUDNESS_KEYS)
        return ConfigError(path, key, "unknown key", "see configs/default.toml for every key")
    problem = first["msg"].removeprefix("Value error, ")
    if ".loudness" in key and not allowed:
        allowed = LOUDNESS_KEYS
    return ConfigError(path, key or "-", problem, allowed)


MOVED_DELIVERY_KEYS = {"audio_codec": "[profiles.web.audio] codec", "audio_bitrate": "[profiles.web.audio] bitrate",
                       "sample_rate": "[profiles.web.audio] sample_rate",
                       "alpha_background": "[conform] alpha_background (one colour for every profile)"}


def _refuse_moved_keys(path: Path, data: dict) -> None:
    """[delivery] became [profiles.web] (the web output is a profile like the others). A config
    still holding it is refused with the new place of its first key, never silently half-read:
    a preset or crf left in [delivery] would otherwise render at the default."""
    delivery = data.get("delivery")
    if delivery is None:
        return
    key = next(iter(delivery), "")
    place = MOVED_DELIVERY_KEYS.get(key, f"[profiles.web] {key}" if key else "[profiles.web]")
    raise ConfigError(path, f"delivery.{key}" if key else "delivery",
                      f"[delivery] is now [profiles.web]; move this key to {place}",
                      "the keys of [profiles.web] in configs/default.toml")


def load_config(path: str | Path | None = None, profiles: list[str] | None = None) -> Config:
    """The default config, overlaid by `path` when given (a user file need only hold changes).
    `profiles` (the `--profiles` option) replaces [outputs]: every version in those profiles."""
    data = _read_toml(DEFAULT_CONFIG)
    sources = [str(DEFAULT_CONFIG)]
    last = DEFAULT_CONFIG
    if path is not None:
        last = Path(path)
        data_of_user = _read_toml(last)
        data = _merge(data, data_of_user)
        sources.append(str(last))
    if path is not None:
        _refuse_moved_keys(last, data_of_user)
    if profiles is not None:
        known = list(data.get("profiles", {}))
        for name in profiles:
            if name not in known:
                raise ConfigError("--profiles", name, "no such delivery profile", ", ".join(known))
        data = {**data, "outputs": {"profiles": profiles}}
    try:
        return Config.model_validate({**data, "source": sources})
    except ValidationError as error:
        raise _config_error(last, error) from None
