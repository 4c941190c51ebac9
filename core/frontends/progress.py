"""The progress line of a long ``deploylint check``: one line on stderr, redrawn in place, gone at the end.

Shown only when stderr is a terminal (never in a pipe, a file or CI logs) and
``--quiet`` is not given, and only when there is more than one file. It is
redrawn at most ten times a second, so checking thousands of small plans is
not slowed by the terminal.
"""

from __future__ import annotations

import time

#: seconds between two redraws of the line
INTERVAL = 0.1


class Progress:
    def __init__(self, stream, total: int, *, enabled: bool) -> None:
        self.stream = stream
        self.total = total
        self.enabled = enabled and total > 1 and _isatty(stream)
        self._last = float("-inf")
        self._shown = False

    def step(self, done: int, path: str) -> None:
        """``done`` files checked so far; ``path`` the one being checked now."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < INTERVAL:
            return
        self._last = now
        import shutil   # here, not at the top: shutil brings zlib, bz2 and lzma, and most runs draw no line

        width = shutil.get_terminal_size((80, 24)).columns
        head = f"deploylint: checking {done + 1}/{self.total} "
        room = max(0, width - len(head) - 1)
        shown = path if len(path) <= room else "…" + path[-(room - 1):] if room > 1 else ""
        self.stream.write("\r\x1b[K" + head + shown)
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erase the line (before anything else is printed, and at the end)."""
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False
            self._last = float("-inf")


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
