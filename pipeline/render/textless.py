"""The textless picture, composed in the render's own filter graph (docs/design.md section 12).

The programme's decode (input 0, read from programme_start for the programme's duration) is
the base; each textless insert is laid over it, whole frame, for exactly the frames it replaces:
`overlay` enabled on the base's frame numbers `between(n, first, last)`, so both edges are
frame-exact whatever the timestamps (the overlay's default eof_action, repeat, matters: with
`pass` the insert's last frame would be dropped, its stream ending at that frame's start).

Each insert is one more input: its file (the master again for an insert at the tail, or the
file of inserts) read over the insert's own frames only, from half a frame before its first so
that the seek lands on that frame and no other. The tail is decoded, never the programme a
second time. One input per insert, not one per file: an overlay waits for the base to reach its
insert, and an input shared by several inserts would be decoded ahead to the later inserts
while the earlier ones wait, every decoded frame held in memory until its place comes (measured:
3.4 GB for three 4 s inserts of a 1080p ProRes master); an input of its own is decoded only as
its overlay takes the frames. A whole textless programme is that file's picture read like the
programme, and needs no overlay at all.

The composition runs on the decoded frames, before the conform: every profile then conforms
the textless picture exactly as it conforms the texted one, and nothing downstream (a burn-in,
a deinterlace, a frame-rate change) has to know. Pure builders: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.intake.textless import TextlessMaterial
from pipeline.media import ffmpeg

TEXTLESS_LABEL = "textless"
"""The label of the composed textless picture, before any conform."""


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
    args: list[str] = []
    chains: list[str] = []
    windows: list[tuple[str, int, int]] = []
    for number, insert in enumerate(material.inserts):
        # Half a frame early: the seek keeps the first frame at or after it, which is then exactly
        # the insert's first frame, whatever the rounding of its time; `trim` keeps it to its frames.
        args += ffmpeg.input_args(insert.file or master, seek_s=max(0.0, (insert.source_start - 0.5) / fps),
                                  duration_s=insert.frames / fps,
                                  demuxer=insert.demuxer if insert.file else master_demuxer)
        # Moved to where it lands, half a frame early: the overlay takes the latest insert frame
        # at or before each base frame, whatever the rounding of the times.
        lands_s = (insert.replaces - programme_first_frame - 0.5) / fps
        chains.append(f"[{first_input + number}:v]trim=end_frame={insert.frames},"
                      f"setpts=PTS-STARTPTS+{lands_s:.6f}/TB[tli{number}]")
        windows.append((f"tli{number}", insert.replaces - programme_first_frame,
                        insert.replaces_end - programme_first_frame - 1))
    return TextlessComposition(args, chains, windows)
