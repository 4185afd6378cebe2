"""Facts as JSON text durable-rules reads exactly, and durable's action messages read back (no durable import).

durable's JSON number parser knows no exponent without a fraction (``1e+20``) nor NaN/Infinity, and a
batch whose object fails to parse is dropped *silently* from that object on: numbers are written so
durable reads them exactly; NaN is refused with :class:`~ivig_cds.EngineError`.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from json import encoder as _json_encoder
from typing import Any

from ivig_cds.errors import EngineError

__all__ = ["IDENTIFIER", "SID", "SID_JSON", "dumps", "encode_json", "fact_json", "message_frames", "number_text"]

_LLONG = 2**63
SID = "\x01"  # placeholder session id in fact dicts; json writes the property as below
SID_JSON = '"sid": "\\u0001"'
_ENCODER = json.JSONEncoder(ensure_ascii=False)
# The C encoder behind json.dumps, built once (JSONEncoder.encode builds one per call: half the cost).
_MAKE_ENCODER: Any = getattr(_json_encoder, "c_make_encoder", None)
_C_ENCODE: Any = (
    _MAKE_ENCODER(None, None, _json_encoder.encode_basestring, None, ": ", ", ", False, False, True)
    if _MAKE_ENCODER is not None
    else None
)


def encode_json(value: Any) -> str:
    if _C_ENCODE is not None:
        return "".join(_C_ENCODE(value, 0))
    return _ENCODER.encode(value)  # pragma: no cover - CPython always has the C encoder


Node = tuple[str, str]  # ("t", fact type) or ("c", rule id of a conclusion)


def number_text(value: float | int) -> str:
    """A JSON number durable's parser reads back as the same value (no bare exponent, no NaN)."""
    if isinstance(value, int):
        if -_LLONG <= value < _LLONG:
            return str(value)
        value = math.copysign(sys.float_info.max, value) if abs(value) >= 2**1024 else float(value)
    if math.isnan(value):
        raise EngineError("a fact holds NaN, which durable-rules cannot compare")
    if math.isinf(value):
        value = math.copysign(sys.float_info.max, value)  # compares like infinity with any finite literal
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"
    return text


def _plain(value: Any) -> bool:
    """Whether ``json`` writes this value so that durable reads it back exactly."""
    kind = type(value)
    if kind is float:  # repr switches to an exponent below 1e-4 and from 1e16; NaN/inf fail too
        return bool(1e-4 <= value < 1e16 or -1e16 < value <= -1e-4 or value == 0)
    if kind is int:
        return bool(-_LLONG <= value < _LLONG)
    return True


def fact_json(fact: Mapping[str, Any]) -> str:
    """One flat fact as JSON: raw UTF-8 like durable's rule text, numbers durable can parse."""
    for v in fact.values():  # _plain, inlined: this runs for every value of every fact
        kind = type(v)
        if kind is float:
            if not (1e-4 <= v < 1e16 or -1e16 < v <= -1e-4 or v == 0):
                break
        elif kind is int and not -_LLONG <= v < _LLONG:
            break
    else:
        return encode_json(fact)
    raws: list[str] = []
    fixed: dict[str, Any] = {}
    for key, value in fact.items():
        if _plain(value):
            fixed[key] = value
        else:
            fixed[key] = f"\x00{len(raws)}"
            raws.append(number_text(value))
    text = encode_json(fixed)
    for i, raw in enumerate(raws):
        text = text.replace(f'"\\u0000{i}"', raw, 1)
    return text


def dumps(payload: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    """A fact, or a list of facts, as durable-safe JSON (see :func:`_fact_json`)."""
    if isinstance(payload, Mapping):
        return fact_json(payload)
    return "[" + ", ".join([fact_json(f) for f in payload]) + "]"


# In an action message durable writes each frame as {"alias":<the fact's JSON as asserted>,...},
# with no space after the colon, and every fact's JSON here starts with its id. Inside a fact, keys
# are followed by ": " and string values escape their quotes, so this marker only occurs right
# after an alias. (json.loads of the whole message, facts and all, was ~90 us per evaluation.)
_FRAME_MARK = '":{"id": "'


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def message_frames(message: str, fast: bool = True) -> tuple[str, list[dict[str, str]]]:
    """The rule name and its frames (alias -> fact id) from a durable action message.

    ``fast`` needs every alias to be an identifier (checked when the rules are compiled).
    """
    end = message.index('"', 2)  # '{"RULE":{...}}': rule names hold no quote
    rule_id = message[2:end]
    if fast and message.startswith("{", end + 2):
        frame: dict[str, str] = {}
        pos = end + 2
        while (mark := message.find(_FRAME_MARK, pos)) >= 0:
            start = mark + len(_FRAME_MARK)
            pos = message.index('"', start)
            frame[message[message.rindex('"', 0, mark) + 1 : mark]] = message[start:pos]
        return rule_id, [frame]
    # several frames at once ('{"RULE":[...]}', rules with count/cap; not used here): parse it all
    frames = json.loads(message)[rule_id]
    listed = frames if isinstance(frames, list) else [frames]
    return rule_id, [{alias: str(fact["id"]) for alias, fact in frame.items()} for frame in listed]
