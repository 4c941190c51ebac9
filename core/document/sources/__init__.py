"""Loaders: file bytes → :class:`~deploylint.core.document.Document`.

One module per format. Each exposes ``load(path: str, text: str) -> Document``
and raises :class:`SourceError` (with a position) for text it cannot read.
Heavy parsers (PyYAML, libcst) are imported inside their loader only.
"""

from __future__ import annotations

import os

from ...diagnostics import Range


class SourceError(Exception):
    """A file that cannot be read as a plan: the message and where it went wrong."""

    def __init__(self, message: str, range: Range | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.range = range


#: file suffix → loader module name (inside this package)
FORMATS = {
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".py": "python",
}


def format_for(path: str) -> str | None:
    """The built-in format of a path, by its suffix; None when no built-in loader reads it."""
    lower = path.lower()
    for suffix, name in FORMATS.items():
        if lower.endswith(suffix):
            return name
    return None


def load(path: str, text: str, fmt: str | None = None):
    """Parse ``text`` (already decoded, BOM removed) as the format of ``path``."""
    import importlib

    fmt = fmt or format_for(path)
    if fmt is None:
        raise SourceError(f"no loader reads {path!r} (known suffixes: {', '.join(FORMATS)})")
    module = importlib.import_module(f"{__name__}.{fmt}_source")
    return module.load(path, text)


def decode(raw: bytes) -> tuple[str, bool]:
    """UTF-8 bytes → (text without BOM, had_bom). Invalid UTF-8 is a SourceError at the bad byte."""
    bom = raw.startswith(b"\xef\xbb\xbf")
    if bom:
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), bom
    except UnicodeDecodeError as exc:
        good = raw[: exc.start].decode("utf-8", errors="replace")
        line = good.count("\n") + 1
        column = len(good) - (good.rfind("\n") + 1) + 1
        raise SourceError(
            f"the file is not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start + (3 if bom else 0)}",
            Range.at(line, column),
        ) from None


def read_regular_file(path: str, limit: int, error: type[Exception], *, what: str) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them; ``error`` says why not.

    A FIFO, a device such as /dev/zero, a socket or a folder is refused
    before anything is read from it (opened without blocking, checked with
    fstat), and a file longer than ``limit`` is refused after reading one byte
    past it, so no path can hang a check or fill its memory.
    """
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"no such file: {path}") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise error(f"{path} is a folder, not {what}")
        if not stat.S_ISREG(mode):
            raise error(f"{path} is not a regular file (a FIFO, device or socket); only regular files are read")
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise error(f"{path} is larger than {limit >> 20} MiB, too large to be {what}")
        return b"".join(chunks)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
