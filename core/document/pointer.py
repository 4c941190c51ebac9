"""JSON pointers (RFC 6901): how rules, spans and fixes name a place in a plan.

A pointer is a string such as ``/parallelism/ep`` or ``/claims/memory_per_device_mib/0``;
the empty string is the whole document.
"""

from __future__ import annotations

from typing import Any, Iterable

_MISSING = object()


def escape(token: str | int) -> str:
    token = str(token)
    if "~" not in token and "/" not in token:      # nearly every key: nothing to replace
        return token
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~") if "~" in token else token


def join(*tokens: str | int) -> str:
    """``join("parallelism", "ep") == "/parallelism/ep"``."""
    return "".join("/" + escape(t) for t in tokens)


def child(pointer: str, token: str | int) -> str:
    return pointer + "/" + escape(token)


def split(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"a JSON pointer starts with '/': {pointer!r}")
    tokens = pointer[1:].split("/")
    return [unescape(t) for t in tokens] if "~" in pointer else tokens


def parent(pointer: str) -> str:
    cut = pointer.rfind("/")
    return pointer[:cut] if cut > 0 else ""


def ancestors(pointer: str) -> Iterable[str]:
    """The pointer itself, then each enclosing pointer up to the root ``""``."""
    while True:
        yield pointer
        if pointer == "":
            return
        pointer = parent(pointer)


def resolve(data: Any, pointer: str, default: Any = _MISSING) -> Any:
    """The value at ``pointer`` in ``data``; ``default`` (or KeyError) when absent."""
    node = data
    for token in split(pointer):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            if default is _MISSING:
                raise KeyError(pointer)
            return default
    return node


def exists(data: Any, pointer: str) -> bool:
    return resolve(data, pointer, _MISSING_SENTINEL) is not _MISSING_SENTINEL


_MISSING_SENTINEL = object()
