"""The textless picture, composed in the render's own filter graph (docs/design.md section 12).

The programme's decode (input 0, read from programme_start for the programme's duration) is
the base; each textless insert is laid over it, whole frame, for exactly the frames it replaces:
`overlay` enabled on the base's frame numbers `between(n, first, last)`, so both edges are
frame-exact whatever the timestamps (the overlay's default eof_action, repeat, matters: with
`pass` the insert's last frame would be dropped, its stream ending at that frame's start).

The inserts are read by one more input per run (`_runs`): the inserts of one file (the master
again, for its tail, or the file of inserts) lying in it in the programme's order, each input
read over their frames only, from half a frame before the first so that the seek lands on that
frame and no other; `select` takes the inserts' frames and `setpts` moves each where it lands.
The tail is decoded, never the programme a second time, and a run is decoded as the programme
reaches each of its inserts. A whole textless programme is that file's picture read like the
programme, and needs no overlay at all.

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
class TextlessComposition:
    """The inputs and chains that make the textless picture (`label`)."""

    input_args: list[str]
    insert_chains: list[str]
    """Each insert cut from its input and moved to where it lands."""
    windows: list[tuple[str, list[tuple[int, int]]]]
    """Each run's label and the first and last programme frames of each of its inserts."""
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
        for index, (label, ranges) in enumerate(self.windows):
            out = TEXTLESS_LABEL if index == len(self.windows) - 1 else f"tlx{index}"
            chains.append(f"[{current}][{label}]overlay=format=auto:enable='{_frames_in(ranges, 'n')}'[{out}]")
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
    windows: list[tuple[str, list[tuple[int, int]]]] = []
    for number, run in enumerate(_runs(material, fps)):
        first, end = run[0].source_start, run[-1].source_start + run[-1].frames
        # Half a frame early: the seek keeps the first frame at or after it, which is then exactly
        # the run's first frame, whatever the rounding of its time.
        args += ffmpeg.input_args(run[0].file or master, seek_s=max(0.0, (first - 0.5) / fps),
                                  duration_s=(end - first) / fps,
                                  demuxer=run[0].demuxer if run[0].file else master_demuxer)
        taken = [(insert.source_start - first, insert.source_start - first + insert.frames - 1) for insert in run]
        chains.append(f"[{first_input + number}:v]select='{_frames_in(taken, 'n')}',"
                      f"setpts='{_landing(run, programme_first_frame, fps)}'[tli{number}]")
        windows.append((f"tli{number}", [(insert.replaces - programme_first_frame,
                                          insert.replaces_end - programme_first_frame - 1) for insert in run]))
    return TextlessComposition(args, chains, windows)


MAX_GAP_S = 2.0
"""Inserts of one file further apart than this are read by inputs of their own (the frames
between them are decoded and dropped otherwise)."""


def _runs(material: TextlessMaterial, fps: float) -> list[list[TextlessInsert]]:
    """The inserts in runs read by one input each: from one file, in the order they lie in it,
    each landing after the one before and lying close after it. One input for a run, not one per
    insert: every input of the graph holds a few decoded frames from the start (16 frames of a
    1080p ProRes master, 130 MB, measured), and one input for all the inserts of a file would be
    decoded ahead to the later inserts while the earlier wait (3.4 GB for three 4 s inserts).
    A run's frames are taken in the order the programme needs them."""
    runs: list[list[TextlessInsert]] = []
    for insert in sorted(material.inserts, key=lambda item: (str(item.file or ""), item.source_start)):
        last = runs[-1][-1] if runs else None
        if (last is not None and last.file == insert.file and insert.replaces >= last.replaces_end
                and 0 <= insert.source_start - (last.source_start + last.frames) <= MAX_GAP_S * fps):
            runs[-1].append(insert)
        else:
            runs.append([insert])
    return runs


def _frames_in(ranges: list[tuple[int, int]], variable: str) -> str:
    """An expression true for the frame numbers `variable` in the ranges (first, last), escaped
    for a quoted filter option."""
    return "+".join(f"between({variable}\\,{first}\\,{last})" for first, last in ranges)


def _landing(run: list[TextlessInsert], programme_first_frame: int, fps: float) -> str:
    """The setpts expression moving the run's taken frames (counted by N) to where they land in
    the programme, half a frame early: the overlay takes the latest insert frame at or before
    each base frame, whatever the rounding of the times."""
    expression, taken = "", 0
    branches = []
    for insert in run:
        shift = insert.replaces - programme_first_frame - taken
        branches.append((taken + insert.frames, f"N+{shift}" if shift >= 0 else f"N-{-shift}"))
        taken += insert.frames
    expression = branches[-1][1]
    for limit, value in reversed(branches[:-1]):
        expression = f"if(lt(N\\,{limit})\\,{value}\\,{expression})"
    return f"({expression}-0.5)/{fps:.6f}/TB"
