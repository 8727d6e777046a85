"""The JSON Schema of `<asset_id>_metadata.json` (configs/metadata.schema.json), and the check
run on every sidecar before it is published.

The sidecar is built by this pipeline from checked data, so a document that breaks the schema
is a bug in the pipeline (or a schema left behind by a change), never the submitter's fault:
it raises, and nothing is published.
"""

from __future__ import annotations

import functools
import json

import jsonschema

from pipeline.config import CONFIG_DIR
from pipeline.errors import VersionerError

SCHEMA_FILE = CONFIG_DIR / "metadata.schema.json"


class SidecarSchemaError(VersionerError):
    """The metadata sidecar does not match its schema: a pipeline bug, not bad input."""


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def sidecar_problems(document: dict) -> list[str]:
    """Every place where `document` breaks the schema, as 'path: message' lines. The document is
    checked as it will be written (through JSON, as `pipeline.files.write_json` writes it)."""
    written = json.loads(json.dumps(document, ensure_ascii=False, default=str))
    errors = sorted(_validator().iter_errors(written), key=lambda error: [str(p) for p in error.absolute_path])
    return [f"{'/'.join(str(part) for part in error.absolute_path) or '(top)'}: {error.message}"
            for error in errors]


def validate_sidecar(document: dict) -> None:
    problems = sidecar_problems(document)
    if problems:
        listed = "\n  ".join(problems[:20])
        raise SidecarSchemaError(f"bug: the metadata sidecar of '{document.get('asset_id')}' breaks "
                                 f"{SCHEMA_FILE.name}:\n  {listed}")
