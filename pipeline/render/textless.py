"""The textless picture, composed in the render's own filter graph (docs/design.md section 12).

The programme's decode (input 0, read from programme_start for the programme's duration) is
the base; each textless insert is laid over it, whole frame, for exactly the frames it replaces:
`overlay` enabled on the base's frame numbers `between(n, first, last)`, so both edges are
frame-exact whatever the timestamps (the overlay's default eof_action, repeat, matters: with
`pass` the insert's last frame would be dropped, its stream ending at that frame's start). The inserts come from one more input per source: the
master's tail (the same file again, read only over the inserts' span: the tail is decoded, not
the programme a second time) or a file of inserts, each read from half a frame before its
first insert so that the seek lands on that frame and no other. A whole textless programme is
that file's picture read like the programme, and needs no overlay at all.

The composition runs on the decoded frames, before the conform: every profile then conforms
the textless picture exactly as it conforms the texted one, and nothing downstream (a burn-in,
a deinterlace, a frame-rate change) has to know. Pure builders: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.intake.textless import TextlessInsert, TextlessMaterial
from pipeline.media import ffmpeg

TEXTLESS_LABEL = "textless"
"""The label of the composed textless picture, before any conform."""


@dataclass(frozen=True)
class InsertSource:
    """One input of the render holding inserts: a file and the span of frames read from it."""

    path: Path
    first_frame: int
    frames: int
    demuxer: str | None


@dataclass(frozen=True)
class TextlessComposition:
    """The inputs and chains that make the textless picture (`label`)."""

    input_args: list[str]
    insert_chains: list[str]
    """Each insert cut from its input and moved to where it lands."""
    windows: list[tuple[str, int, int]]
    """Each insert's label and the first and last programme frames it covers."""
    whole_programme: str | None = None
    """The input pad of a whole textless programme (then there is nothing to compose)."""

    @property
    def needs_base(self) -> bool:
        """The composition lays the inserts over the programme's own decode."""
        return self.whole_programme is None

    @property
    def label(self) -> str:
        """Where the textless picture comes out, before the conform."""
        return self.whole_programme or TEXTLESS_LABEL

    def chains(self, base: str) -> list[str]:
        """The chains laying each insert over `base` (the programme's decode) for its frames."""
        if self.whole_programme is not None:
            return []
        chains, current = list(self.insert_chains), base
        for index, (label, first, last) in enumerate(self.windows):
            out = TEXTLESS_LABEL if index == len(self.windows) - 1 else f"tlx{index}"
            chains.append(f"[{current}][{label}]overlay=format=auto:enable='between(n\\,{first}\\,{last})'[{out}]")
            current = out
        return chains


def insert_sources(material: TextlessMaterial, master: Path, master_demuxer: str | None) -> list[InsertSource]:
    """The inputs the inserts come from, in order of first use: one per file, each read over the
    span of its inserts only."""
    spans: dict[Path, list[TextlessInsert]] = {}
    for insert in material.inserts:
        spans.setdefault(insert.file or master, []).append(insert)
    sources = []
    for path, inserts in spans.items():
        first = min(insert.source_start for insert in inserts)
        last = max(insert.source_start + insert.frames for insert in inserts)
        demuxer = master_demuxer if path == master else inserts[0].demuxer
        sources.append(InsertSource(path, first, last - first, demuxer))
    return sources


def composition(material: TextlessMaterial, master: Path, master_demuxer: str | None, fps: float,
                programme_first_frame: int, programme_s: tuple[float, float], first_input: int) -> TextlessComposition:
    """The textless picture from the programme's decode and the inserts, read by inputs numbered
    from `first_input`. `programme_s`: the programme's start and duration as input 0 reads them
    (a whole textless programme is read the same way)."""
    if material.whole_programme:
        whole = material.inserts[0]
        assert whole.file is not None
        return TextlessComposition(
            ffmpeg.input_args(whole.file, seek_s=programme_s[0], duration_s=programme_s[1], demuxer=whole.demuxer),
            [], [], whole_programme=f"{first_input}:v")
    sources = insert_sources(material, master, master_demuxer)
    args: list[str] = []
    for source in sources:
        # Half a frame early: the seek keeps the first frame at or after it, which is then exactly
        # the span's first frame, whatever the rounding of its time.
        args += ffmpeg.input_args(source.path, seek_s=max(0.0, (source.first_frame - 0.5) / fps),
                                  duration_s=source.frames / fps, demuxer=source.demuxer)
    chains, labels = _insert_chains(material, sources, master, fps, programme_first_frame, first_input)
    windows = [(label, insert.replaces - programme_first_frame, insert.replaces_end - programme_first_frame - 1)
               for insert, label in zip(material.inserts, labels)]
    return TextlessComposition(args, chains, windows)


def _insert_chains(material: TextlessMaterial, sources: list[InsertSource], master: Path, fps: float,
                   programme_first_frame: int, first_input: int) -> tuple[list[str], list[str]]:
    """Each insert cut from its input by frame number and moved to where it lands in the
    programme (half a frame early, so the overlay takes it for that frame whatever the
    rounding). Returns the chains and each insert's label, in the inserts' order."""
    by_path = {source.path: index for index, source in enumerate(sources)}
    users: dict[int, list[int]] = {}
    for number, insert in enumerate(material.inserts):
        users.setdefault(by_path[insert.file or master], []).append(number)
    chains: list[str] = []
    taps: dict[int, str] = {}
    for source_index, numbers in users.items():
        pad = f"{first_input + source_index}:v"
        if len(numbers) == 1:
            taps[numbers[0]] = pad
            continue
        names = [f"tls{source_index}_{count}" for count in range(len(numbers))]
        chains.append(f"[{pad}]split={len(numbers)}" + "".join(f"[{name}]" for name in names))
        taps.update(zip(numbers, names))
    labels = []
    for number, insert in enumerate(material.inserts):
        source = sources[by_path[insert.file or master]]
        start = insert.source_start - source.first_frame
        lands_s = (insert.replaces - programme_first_frame - 0.5) / fps
        chains.append(f"[{taps[number]}]trim=start_frame={start}:end_frame={start + insert.frames},"
                      f"setpts=PTS-STARTPTS+{lands_s:.6f}/TB[tli{number}]")
        labels.append(f"tli{number}")
    return chains, labels
