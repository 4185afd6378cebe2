"""docs/service.md keeps up with the service configuration: its examples validate and every key is documented."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import BaseModel

from ivig_cds.service.config import ServiceConfig, TrustEntry, parse_config

DOC = (Path(__file__).resolve().parents[1] / "docs" / "service.md").read_text(encoding="utf-8")
TOML_BLOCKS = re.findall(r"```toml\n(.*?)```", DOC, flags=re.S)


def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        if name == "dev":
            continue
        kind = TrustEntry if name == "trust" else field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out += keys(kind, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


def test_the_examples_are_valid_configurations() -> None:
    assert len(TOML_BLOCKS) >= 2
    for block in TOML_BLOCKS:
        parse_config(tomllib.loads(block), source="docs/service.md")


def test_the_reference_shows_every_key() -> None:
    reference = tomllib.loads(TOML_BLOCKS[0])
    for key in keys(ServiceConfig):
        node: object = reference
        for part in key.split("."):
            node = node[0] if isinstance(node, list) else node
            assert isinstance(node, dict) and part in node, f"docs/service.md does not show {key}"
            node = node[part]
