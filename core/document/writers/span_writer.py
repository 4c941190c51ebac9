"""A writer for source adapters: plan values bound to the tokens of the original file.

A source adapter (a ``vllm serve`` command in a manifest, an engine's YAML
config) knows, for each plan value it produced, which token of the file holds
it: the ``2`` of ``--tensor-parallel-size 2``, the ``"16"`` list item of a
container's ``args``, the ``value:`` of the environment variable a ``$TP_SIZE``
refers to. It records that as a :class:`Binding`, and the fixes of every rule
(``Fix.set("/parallelism/tp", 2)``) become an edit of exactly that token: the
quotes around it, the flag's spelling and everything else stay byte for byte.

A value the file does not state (a flag left at the engine's default) can be
added through ``insert``: a function the adapter gives that says where and how
a new flag goes (``(offset, text)``), e.g. ``" --max-model-len 8192"`` after the
command's last word, or a new list item under ``args:``.

A plan value the adapter computed from several tokens (vLLM's expert-parallel
size is tp·dp) has no binding; a fix of it is then not offered — never a guess
at which token to change.
"""

from __future__ import annotations

from typing import Any, Callable

from ...records import record
from . import WriteError


@record(frozen=True, slots=True)
class Binding:
    """Where one plan value is written: ``start``/``end`` of the value token (inside any quotes).

    ``render`` turns a plan value into the token's new text (default: the
    number or string as written; booleans and other values are refused).
    ``remove_start``/``remove_end`` delimit what removing the value deletes
    (the flag and its value with the space before them); -1 = cannot remove.
    """

    start: int
    end: int
    render: Callable[[Any], str | None] | None = None
    remove_start: int = -1
    remove_end: int = -1


def plain_token(value: Any) -> str | None:
    """A number or a word as a command-line or YAML token; None for anything that would need quoting."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    if isinstance(value, str) and value and all(c.isalnum() or c in "-_./:@+" for c in value):
        return value
    return None


class SpanWriter:
    """``apply(document, change)`` and ``reload(document, text)`` for a Document whose values are bound to tokens.

    ``reload(text)`` is the adapter's own reader for the same plan of the
    file (it must return the Document of the same plan, with its writer), so
    a fix of several changes sees correct positions after each one.
    """

    def __init__(self, bindings: dict[str, Binding], reload: Callable[[str], Any],
                 insert: Callable[[str, Any], tuple[int, str] | None] | None = None) -> None:
        self.bindings = bindings
        self._reload = reload
        self._insert = insert

    def apply(self, document, change) -> str:
        text = document.text
        binding = self.bindings.get(change.path)
        if change.op in ("set", "insert"):
            if binding is not None:
                new = (binding.render or plain_token)(change.value)
                if new is None:
                    raise WriteError(f"cannot write {change.value!r} at {change.path} in this file")
                return text[:binding.start] + new + text[binding.end:]
            if self._insert is not None:
                placed = self._insert(change.path, change.value)
                if placed is not None:
                    offset, new = placed
                    return text[:offset] + new + text[offset:]
            raise WriteError(f"{change.path} is not written in this file as one token deploylint can change")
        if change.op == "remove":
            if binding is None or binding.remove_start < 0:
                raise WriteError(f"cannot remove {change.path} from this file")
            return text[:binding.remove_start] + text[binding.remove_end:]
        raise WriteError(f"{change.op} of {change.path} is not supported in this file")

    def reload(self, document, text: str):
        return self._reload(text)
