"""Sound: audio layouts and routing, the M&E checks, loudness, and the audio-only analysis
that decides the gain every deliverable gets."""
