"""Prefect flows and the `versioner` CLI around the plain `pipeline` library."""
