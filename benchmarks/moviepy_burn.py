"""What a newcomer writes to burn subtitles into a video: moviepy 2, one TextClip per cue laid
over the picture, written with the same x264 and AAC settings as the other variants of
bench_render.py. Every frame goes through Python (decoded to numpy, composited, piped back to
ffmpeg): the cost the pipeline's single ffmpeg process avoids.

    python benchmarks/moviepy_burn.py MASTER SRT OUT --preset veryfast --crf 23
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import pysrt
from moviepy import CompositeVideoClip, TextClip, VideoFileClip

FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def subtitle_clips(srt: Path, width: int, height: int) -> list[TextClip]:
    clips = []
    for cue in pysrt.open(str(srt), encoding="utf-8"):
        start, end = cue.start.ordinal / 1000, cue.end.ordinal / 1000
        text = TextClip(font=str(FONT), text=cue.text, font_size=round(height * 0.055), color="white",
                        stroke_color="black", stroke_width=max(1, round(height * 0.0035)),
                        method="caption", size=(round(width * 0.8), None), text_align="center")
        clips.append(text.with_start(start).with_end(end).with_position(("center", 0.78), relative=True))
    return clips


def burn(master: Path, srt: Path, out: Path, preset: str, crf: int) -> None:
    video = VideoFileClip(str(master))
    composite = CompositeVideoClip([video, *subtitle_clips(srt, video.w, video.h)])
    composite.write_videofile(str(out), codec="libx264", preset=preset, audio_codec="aac",
                              audio_bitrate="192k", audio_fps=48000, pixel_format="yuv420p",
                              ffmpeg_params=["-crf", str(crf), "-profile:v", "high"], logger=None,
                              # moviepy would otherwise leave its temporary sound in the cwd
                              temp_audiofile=str(out.with_name(out.stem + "-temp-audio.m4a")))
    video.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("master", type=Path)
    parser.add_argument("srt", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--crf", type=int, default=23)
    args = parser.parse_args()
    burn(args.master, args.srt, args.out, args.preset, args.crf)


if __name__ == "__main__":
    main()
