"""Delivery defaults, audio layouts, loudness targets, subtitle rules and the sidecar schema:
data, shipped inside the package as `pipeline.configs` and read through importlib.resources."""
