"""Running ffmpeg and reading media: the one process runner, the probe, timecode, fault naming."""
