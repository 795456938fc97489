"""JSON Schema files for producers written in other languages."""

from __future__ import annotations

from pathlib import Path

import orjson

from schemas.events import MODELS, envelope_model


def documents() -> dict[str, bytes]:
    """File name → JSON Schema document, for every family's event and envelope."""
    out: dict[str, bytes] = {}
    for family, model in MODELS.items():
        for name, schema in (
            (f"{family}.v1.schema.json", model.model_json_schema()),
            (f"{family}.envelope.v1.schema.json", envelope_model(family).model_json_schema()),
        ):
            schema = {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": f"citybrain/{name}",
                **schema,
            }
            out[name] = orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    return out


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, body in documents().items():
        path = directory / name
        path.write_bytes(body)
        written.append(path)
    return written
