"""The exception tree of ivig-cds: every error the library raises on purpose.

::

    IvigCdsError                  root: catch this to catch everything below
    ├── InputError                a patient file is unreadable or breaks the contract
    ├── RuleFileError             a rule, threshold or bibliography file is invalid
    ├── EngineError               the rules engine failed while evaluating
    └── PluginError               a plugin failed to load or raised in a hook

``InputError.errors`` keeps one entry per problem with the field path
(``therapies[1].stop``) so an EHR integration can point at the exact field.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EngineError",
    "FieldError",
    "InputError",
    "IvigCdsError",
    "PluginError",
    "RuleFileError",
]


class IvigCdsError(Exception):
    """Root of every error raised by ivig-cds."""


@dataclass(frozen=True)
class FieldError:
    """One problem in a patient file.

    Attributes:
        loc: The field path, e.g. ``therapies[1].stop`` (empty for the whole document).
        msg: What is wrong, in words a clinician or integrator can act on.
        type: A short machine-readable error type (pydantic's, or ``parse``).
    """

    loc: str
    msg: str
    type: str = "value_error"

    def to_dict(self) -> dict[str, str]:
        return {"loc": self.loc, "msg": self.msg, "type": self.type}


class InputError(IvigCdsError):
    """A patient file could not be read or does not follow the patient-file contract.

    Attributes:
        source: Where the input came from (a file name, ``<stdin>:3``, ``<dict>``).
        errors: One :class:`FieldError` per problem, in document order.
        what: What the input was read as, for headings (``patient file``; FHIR input errors say ``FHIR input``).
    """

    what = "patient file"

    def __init__(self, source: str, errors: list[FieldError]) -> None:
        self.source = source
        self.errors = list(errors)
        first = self.errors[0] if self.errors else FieldError("", "invalid input")
        more = f" (+{len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        where = f"{first.loc}: " if first.loc else ""
        super().__init__(f"{source}: {where}{first.msg}{more}")


class RuleFileError(IvigCdsError):
    """A rule file (or thresholds / bibliography file) is invalid.

    Attributes:
        path: The file that is wrong.
        rule_id: The rule concerned, when the problem is inside one rule.
    """

    def __init__(self, path: str, message: str, rule_id: str | None = None) -> None:
        self.path = path
        self.rule_id = rule_id
        self.message = message
        where = f"{path} [{rule_id}]" if rule_id else path
        super().__init__(f"{where}: {message}")


class EngineError(IvigCdsError):
    """The rules engine failed: a rule action raised, a session could not be created, and so on."""


class PluginError(IvigCdsError):
    """A plugin failed to import, or raised inside a hook, in strict mode.

    Attributes:
        plugin: The plugin's name.
        hook: The hook that failed, or ``"load"`` for an import failure.
    """

    def __init__(self, plugin: str, hook: str, message: str) -> None:
        self.plugin = plugin
        self.hook = hook
        super().__init__(f"plugin {plugin!r} failed in {hook}: {message}")
