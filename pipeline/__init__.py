"""The master versioning pipeline as a plain library (no Prefect import here)."""

__version__ = "0.1.0"
