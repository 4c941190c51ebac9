"""What the training-framework adapters share: building a plan Document bound to the tokens of the original file.
(The start-up checks of each framework, which the generic rules quote, are looked up by ``_startup.py``.)

Not part of the plugin API (``deploylint.core`` is); the built-in adapters in
``megatron.py``, ``torchtitan.py``, ``deepspeed.py`` and ``accelerate.py`` use it.
"""

from __future__ import annotations

from typing import Any, Callable

from deploylint.core import Derived, Document, NodeSpan, Related, Span, SpanWriter
from deploylint.core.document import pointer as jp
from deploylint.core.document.writers.span_writer import Binding


class PlanBuilder:
    """Collects the plan an adapter reads from one file: values, their spans, bindings for fixes, notes."""

    def __init__(self, path: str, text: str, framework: str, fmt: str, label: str | None = None) -> None:
        self.path, self.text, self.format, self.label = path, text, fmt, label
        self.data: dict[str, Any] = {"model": {}, "hardware": {}, "parallelism": {},
                                     "workload": {"mode": "training"}, "training": {"framework": framework}}
        self.spans: dict[str, NodeSpan] = {}
        self.bindings: dict[str, Binding] = {}
        self.related: dict[str, tuple] = {}
        self.origins: dict[str, str] = {}
        self.derived: dict[str, Derived] = {}     # values the fill step computes once dp is known
        self.skipped: list[tuple[str, str]] = []
        self.unknown: set[str] = set()
        self.engine: dict[str, Any] = {}      # the file's own options as written, for the framework's own rules

    def anchor(self, span: Span, *sections: str) -> None:
        """Findings about values the file leaves to their defaults land on ``span`` (the command word, the file)."""
        self.spans.setdefault("", NodeSpan(span))
        for section in sections or ("model", "hardware", "parallelism", "workload", "training"):
            self.spans.setdefault("/" + section, NodeSpan(span))

    def put(self, pointer: str, value: Any, span: Span | None = None, *, key: Span | None = None,
            binding: Binding | Span | None = None, related: tuple = (), origin: str | None = None) -> None:
        tokens = jp.split(pointer)
        node = self.data
        for t in tokens[:-1]:
            node = node.setdefault(t, {})
        node[tokens[-1]] = value
        if span is not None:
            self.spans[pointer] = NodeSpan(span, key)
        if isinstance(binding, Span):
            binding = Binding(binding.start, binding.end)
        if binding is not None:
            self.bindings[pointer] = binding
        if related:
            self.related[pointer] = tuple(related)
        if origin:
            self.origins[pointer] = origin

    def get(self, pointer: str, default: Any = None) -> Any:
        node: Any = self.data
        for t in jp.split(pointer):
            if not isinstance(node, dict) or t not in node:
                return default
            node = node[t]
        return node

    def skip(self, what: str, pointer: str = "") -> None:
        self.skipped.append((what, pointer))

    def placeholders(self, names: dict[str, str], why: str = "not given as a number") -> None:
        """Stand-ins for the required model sizes the file does not state (``names``: plan key → how the file
        spells it); call it after the parallelism is read. The stand-ins (layers = pp, heads = tp) divide by the
        layout, so no check fires on them and every size check that does not depend on them still runs;
        the architecture is marked unknown, so no estimate (memory, compute, claims) is made from them, and an info
        names what was missing."""
        model = self.data["model"]
        missing = [k for k in ("layers", "hidden_size", "num_attention_heads", "vocab_size")
                   if not isinstance(model.get(k), int)]
        if not missing:
            return
        par = self.data["parallelism"]
        tp = par.get("tp") if isinstance(par.get("tp"), int) else 1
        pp = par.get("pp") if isinstance(par.get("pp"), int) else 1
        if "num_attention_heads" in missing:
            model["num_attention_heads"] = tp
            model.pop("num_kv_heads", None)
        if "hidden_size" in missing:
            model["hidden_size"] = 128 * model["num_attention_heads"]
            model.setdefault("ffn_hidden_size", 4 * model["hidden_size"])
        if "layers" in missing:
            model["layers"] = pp
        model.setdefault("vocab_size", 1)
        self.unknown.add("architecture")
        shown = [names.get(k, k) for k in missing if k in names]
        if shown:
            self.skip(f"{', '.join(shown)}: {why}; the layer and head checks and the estimates say nothing about this "
                      "file", "/model")

    def document(self, reload: Callable[[str], Document], insert=None) -> Document:
        data = {k: v for k, v in self.data.items() if v != {} or k in ("model", "hardware", "parallelism", "workload")}
        doc = Document(self.path, self.text, self.format, data, dict(self.spans), label=self.label,
                       related=dict(self.related), origins=dict(self.origins), partial=True, skipped=list(self.skipped),
                       engine=dict(self.engine), derived=dict(self.derived))
        doc.writer = SpanWriter(dict(self.bindings), reload=reload, insert=insert)
        doc.unknown = frozenset(self.unknown)   # read by the engine's fill step: no estimate without the architecture
        return doc


def related_for(word, what: str = "") -> tuple:
    """Related places of a shell word whose value came from variables: where each one is set."""
    out, seen = [], set()
    for ref in word.definitions:
        if (ref.name, ref.definition) in seen or ref.definition.start <= word.span.start < ref.definition.end:
            continue   # already named, or the word is written inside that definition (an array element)
        seen.add((ref.name, ref.definition))
        out.append(Related(f"{ref.name} is set here{what}", start=ref.definition.start, end=ref.definition.end))
    return tuple(out)


def world_gives_dp(par: dict, world: Any, dp: Any) -> bool:
    """Whether a fix's dp follows from the world where the framework has no dp setting (dp = world / (tp·pp·cp)).

    A value is changed one at a time in the fix's order (tp, pp, dp, cp: ``LAYOUT_KEYS`` of
    ``deploylint.core.estimate.layouts``), so tp and pp are already the fix's and cp may still change: the dp
    follows when dp·tp·pp divides the world (a layout fix is one of the same devices). Without a world in the
    file, the world the plan was checked with gives it."""
    if not isinstance(world, int) or isinstance(world, bool):
        return True
    tp, pp = (par.get(k, 1) if isinstance(par.get(k, 1), int) else 1 for k in ("tp", "pp"))
    return isinstance(dp, int) and not isinstance(dp, bool) and dp >= 1 and world % (dp * tp * pp) == 0


def refuse(message: str):
    """A fix the file cannot hold: raised from a writer's binding or insert, the finding ends with the message."""
    from deploylint.core.document.writers import WriteError

    raise WriteError(message, explained=True)


def shard_size(dp: Any, replicate: int, framework: str, replicate_key: str, shard_key: str) -> str:
    """The shard degree a fix's dp needs where dp = replicate × shard (TorchTitan, Accelerate): the token to write,
    or an explained refusal."""
    if isinstance(dp, int) and not isinstance(dp, bool) and dp >= replicate and dp % replicate == 0:
        return str(dp // replicate)
    refuse(f"{framework}'s dp is {replicate_key} × {shard_key}, and dp = {dp} is not a multiple of {replicate_key} = "
           f"{replicate}: set the two so that their product is {dp}")


def as_int(text: Any) -> int | None:
    """A decimal integer written as text in ASCII digits (or an int), else None: ``int`` reads ``２`` (U+FF12) as
    2, the shell and the launchers do not."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text
    if isinstance(text, str):
        t = text.strip()
        if t.isascii() and (t.isdigit() or (t.startswith("-") and t[1:].isdigit())):
            return int(t)
    return None
