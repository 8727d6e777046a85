"""How a profile's sound is encoded: the one builder of audio codec arguments, used by the
render and by the loudness trial, which must encode exactly as the render does (its files are
the delivered sound, pipeline/analysis.py)."""

from __future__ import annotations

from pipeline.config import OutputProfile


def audio_codec_args(profile: OutputProfile) -> list[str]:
    """The codec of every audio stream of one of the profile's files. An AAC track is stereo
    (`-ac 2`); PCM tracks keep the channels the graph gives them (a mono track, a 5.1 one)."""
    audio = profile.audio
    args = ["-c:a", audio.codec, "-ar", str(audio.sample_rate)]
    if audio.lossy:
        args += ["-ac", "2", "-b:a", audio.bitrate]
    return args


def same_encoding(one: OutputProfile, other: OutputProfile) -> bool:
    """Whether the two profiles encode a sound to the same bytes (the trial's files serve both)."""
    return audio_codec_args(one) == audio_codec_args(other)


def sound_file_suffix(profile: OutputProfile) -> str:
    """The extension of a file holding only the profile's encoded sound."""
    return ".m4a" if profile.audio.lossy else ".mov"
