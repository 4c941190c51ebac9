"""Length-prefixed frames on a pipe: what the plugin worker and the check's worker processes send each other.

A frame is its payload's length (8 bytes, big-endian) and the payload. The
plugin worker (:mod:`.worker`, :mod:`.isolation`) and the pool of ``check``
(:mod:`deploylint.core.frontends.pool`) both read and write them here; this
module imports nothing the start-up of a check does not already have.
"""

from __future__ import annotations

import os
import select
import struct
import time

HEADER = struct.Struct(">Q")


def read_frame(fd: int) -> bytes | None:
    """The next frame's payload, or None when the other end closed the pipe (before or inside a frame)."""
    try:
        (size,) = HEADER.unpack(read_exactly(fd, HEADER.size))
        return read_exactly(fd, size)
    except EOFError:
        return None


def read_exactly(fd: int, size: int, deadline: float | None = None) -> bytes:
    """``size`` bytes from ``fd``; EOFError when it closes first, TimeoutError past ``deadline`` (time.monotonic)."""
    chunks, need = [], size
    while need:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(need, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        need -= len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, payload: bytes) -> None:
    """``payload`` as one frame, written whole (OSError when the other end is gone)."""
    data = HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
