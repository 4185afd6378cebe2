"""Output files written whole or not at all: a temporary file beside the target, renamed when complete.

A run that fails (disk full, Ctrl-C, a crash) leaves the target as it was - never a torn last record,
never an empty summary that looks like a result. Every ``OSError`` names the target file, not the
temporary one, so the message reads ``results.ndjson: No space left on device``. A symbolic link is
written through (its target is replaced); a target that is not a regular file (``/dev/stdout``, a
pipe) is written directly, as nothing can be renamed over it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["FILE_WIDTH", "AtomicFile", "write_atomic"]

FILE_WIDTH = 100
"""The width of a console view written to a file (there is no terminal to measure)."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class AtomicFile:
    """A text file at ``path``, written to a temporary file in the same directory until :meth:`commit`.

    Use as a context manager: leaving the block without :meth:`commit` (an exception, Ctrl-C) discards
    the temporary file. Writes go through :attr:`stream`, whose ``OSError`` names ``path``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.done = False
        real = Path(os.path.realpath(self.path))
        self._target = real
        self._tmp: Path | None = None
        try:
            if real.exists() and not real.is_file():  # a device or a pipe: nothing to rename over
                self._file: IO[str] = open(real, "w", encoding="utf-8", newline="")  # noqa: SIM115
            else:
                fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".part")
                self._tmp = Path(tmp)
                self._file = os.fdopen(fd, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise self._named(exc) from None
        self.stream: IO[str] = _Named(self._file, self)  # type: ignore[assignment]

    def _named(self, exc: OSError) -> OSError:
        return OSError(exc.errno, exc.strerror or type(exc).__name__, str(self.path))

    def commit(self) -> None:
        """Flush to disk and rename over the target (raises ``OSError`` naming the target; nothing is left)."""
        try:
            self._file.flush()
            if self._tmp is not None:
                os.fsync(self._file.fileno())
            self._file.close()
            if self._tmp is not None:
                os.chmod(self._tmp, 0o666 & ~_umask())
                os.replace(self._tmp, self._target)
        except OSError as exc:
            self.discard()
            raise self._named(exc) from None
        self.done = True

    def discard(self) -> None:
        """Remove the temporary file; the target is left as it was."""
        with contextlib.suppress(OSError):
            self._file.close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.unlink()

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.done:
            self.discard()


class _Named:
    """A text stream whose ``OSError`` names the target file (what rich and the writers write to)."""

    def __init__(self, file: IO[str], owner: AtomicFile) -> None:
        self._file, self._owner = file, owner

    def write(self, text: str) -> int:
        try:
            return self._file.write(text)
        except OSError as exc:
            raise self._owner._named(exc) from None

    def flush(self) -> None:
        try:
            self._file.flush()
        except OSError as exc:
            raise self._owner._named(exc) from None

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._file.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` whole, or leave ``path`` as it was (``OSError`` names ``path``)."""
    with AtomicFile(path) as out:
        out.stream.write(text)
        out.commit()
