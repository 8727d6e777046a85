"""The render: pure ffmpeg command builders, the metadata embedded in every file, and the
render step that runs them."""
