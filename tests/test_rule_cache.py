"""The parsed-rule-file cache: keyed by content, the same data as parsing, never patient data."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivig_cds import Engine
from ivig_cds.model import yaml_safe
from ivig_cds.model.yaml_safe import CACHE_ENV, YamlRejected, cache_dir, load_rule_yaml, load_yaml

RULES = Path(__file__).resolve().parents[1] / "rules"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    monkeypatch.setattr(yaml_safe, "_MEMORY", {})
    return folder


def test_every_rule_file_reads_back_the_same_from_the_cache(cache: Path) -> None:
    for path in sorted(RULES.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        first = load_rule_yaml(text)
        assert first == load_yaml(text)
        yaml_safe._MEMORY.clear()  # the next read comes from disk
        assert load_rule_yaml(text) == first
    entries = sorted(cache.glob("*.json"))
    assert len(entries) == len(list(RULES.glob("*.yaml")))
    assert all(len(p.stem) == 64 for p in entries)  # named by the SHA-256 of the content


def test_a_changed_file_is_parsed_again(cache: Path) -> None:
    assert load_rule_yaml("a: 1\n") == {"a": 1}
    assert load_rule_yaml("a: 2\n") == {"a": 2}
    assert len(list(cache.glob("*.json"))) == 2


def test_a_corrupt_entry_is_ignored(cache: Path) -> None:
    load_rule_yaml("a: 1\n")
    (entry,) = cache.glob("*.json")
    entry.write_text("{torn", encoding="utf-8")
    yaml_safe._MEMORY.clear()
    assert load_rule_yaml("a: 1\n") == {"a": 1}
    assert json.loads(entry.read_text(encoding="utf-8")) == {"a": 1}  # rewritten


def test_values_json_cannot_carry_are_not_cached(cache: Path) -> None:
    assert load_rule_yaml("when: 2024-01-02\nx: .inf\n")["x"] == float("inf")
    assert list(cache.glob("*.json")) == []


def test_the_strict_reader_still_refuses(cache: Path) -> None:
    with pytest.raises(YamlRejected):
        load_rule_yaml("a: &x 1\nb: *x\n")
    assert list(cache.glob("*.json")) == []


def test_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "off")
    monkeypatch.setattr(yaml_safe, "_MEMORY", {})
    assert cache_dir() is None
    assert load_rule_yaml("a: 1\n") == {"a": 1}


def test_the_disk_cache_is_opt_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() is None
    load_rule_yaml("a: 1\n")
    assert list(tmp_path.rglob("*.json")) == []


def test_entries_are_private(cache: Path) -> None:
    load_rule_yaml("a: 1\n")
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    (entry,) = cache.glob("*.json")
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600


def test_a_folder_others_can_write_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv(CACHE_ENV, str(shared))
    monkeypatch.setattr(yaml_safe, "_MEMORY", {})
    key_text = "a: 1\n"
    load_rule_yaml(key_text)
    assert list(shared.iterdir()) == []  # nothing written
    # nor read: a planted entry in a shared folder cannot change a rule file's meaning
    planted = shared / (yaml_safe._key(key_text) + ".json")
    planted.write_text('{"a": 999}', encoding="utf-8")
    yaml_safe._MEMORY.clear()
    assert load_rule_yaml(key_text) == {"a": 1}


def test_an_engine_from_the_cache_decides_the_same(cache: Path, full_patient_dict: dict[str, Any]) -> None:
    first = Engine().evaluate(full_patient_dict, as_of="2024-06-01").to_json()
    assert list(cache.glob("*.json"))
    yaml_safe._MEMORY.clear()
    assert Engine().evaluate(full_patient_dict, as_of="2024-06-01").to_json() == first


def test_patient_files_are_never_cached(cache: Path, tmp_path: Path, full_patient_dict: dict[str, Any]) -> None:
    full_patient_dict["patient_id"] = "cache-canary-4711"
    path = tmp_path / "patient.yaml"
    path.write_text(yaml.safe_dump(full_patient_dict), encoding="utf-8")
    Engine().evaluate(path, as_of="2024-06-01")
    Engine().evaluate(path.read_text(encoding="utf-8"), as_of="2024-06-01")
    entries = list(cache.glob("*.json"))
    assert entries
    assert not any("cache-canary-4711" in p.read_text(encoding="utf-8") for p in entries)
