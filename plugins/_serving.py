"""What the serving-engine adapters (vllm.py, sglang.py, trtllm.py) share: finding an engine's command in
a shell script or a Kubernetes container, reading its flags the way argparse does, and building the
Document (spans, token bindings for fixes, related locations, origins, what was not read).

Not a plugin (no hooks): each engine module owns its flag table, its world-composition rule and its
start-up checks.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from deploylint.core.records import record, field
from deploylint.core import Document, NodeSpan, Related, Span, SpanWriter
from deploylint.core.document.writers.span_writer import Binding

from ._startup import builtin_profile

_K8S_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


@record
class Word:
    """One command-line word: its value (None when unresolved), where it is written, where to edit it."""

    value: str | None
    span: tuple[int, int] | None          # the word as written in the file
    bind: tuple[int, int] | None = None   # the verbatim text of the value (inside quotes; or a variable's definition)
    related: tuple[Related, ...] = ()
    why: str = ""                          # what made it unresolved
    chars: tuple | None = None            # file offset of each character of value, when known

    def sub(self, i: int) -> "Word":
        """The word from character ``i`` on (``--tp=8`` → ``8``)."""
        value = None if self.value is None else self.value[i:]
        bind = None
        if self.chars is not None and value:
            cs = self.chars[i:]
            if all(c is not None for c in cs) and all(cs[k + 1] == cs[k] + 1 for k in range(len(cs) - 1)):
                bind = (cs[0], cs[-1] + 1)
        span = bind or self.span
        return Word(value, span, bind, self.related, self.why, self.chars[i:] if self.chars else None)


@record
class Invocation:
    """An engine's command: its words from the program on, and where a new flag can go."""

    words: list[Word]
    span: tuple[int, int]
    insert_at: int
    insert: Callable[[str, str], str]     # (flag, value) -> text inserted at insert_at
    container: Any = None                 # the Kubernetes container it runs in, if any
    where: str = ""                       # "script" / "container" (for labels)


# -- words from a shell script or a Kubernetes container ----------------------------------------------
def _mapped(span, chars):
    """A span of a decoded YAML string → file span, through the scalar's offset map."""
    if span is None:
        return None
    s, e = span
    if chars is None:
        return None
    if e <= s or e > len(chars):
        return None
    first, last = chars[s], chars[e - 1]
    if first is None or last is None:
        return None
    return (first, last + 1)


def shell_invocations(text: str, *, base: tuple | None = None, env: dict | None = None,
                      env_items: dict | None = None, container=None) -> list[list[Word]]:
    """The commands of a shell script as lists of Words with file spans.

    ``base`` is the file offset of each character of ``text`` when the script is a YAML string (``sh -c``);
    ``env`` the environment it runs with (a container's ``env``), ``env_items`` where each is written.
    """
    from deploylint.core.document.shell import parse

    script = parse(text, env=env or {})

    def to_file(sp):
        # (a span that the mapping cannot place — a substituted $(VAR) — is None: no position, no fix)
        if sp is None:
            return None
        pair = (sp.start, sp.end)
        return pair if base is None else _mapped(pair, base)

    out = []
    for cmd in script.commands:
        words = []
        for w in cmd.words:
            span = to_file(w.span)
            located = w.locate() if w.value is not None else None
            bind = to_file(located) if located is not None else None
            related = []
            for ref in w.refs:
                if ref.definition is not None:
                    d = to_file(ref.definition)
                    if d:
                        related.append(Related(f"{ref.name} is set here", start=d[0], end=d[1]))
                elif ref.origin == "environment" and env_items and ref.name in env_items:
                    item = env_items[ref.name]
                    related.append(Related(f"{ref.name} is set here (container env)", start=item.inner[0], end=item.inner[1]))
                    if w.value is not None and w.value == str(item.value) and len(w.refs) == 1 and bind is None:
                        bind = item.inner
            chars = None
            if w.value is not None and w.chars:
                chars = tuple((to_file(c)[0] if to_file(c) else None) if c is not None else None for c in w.chars)
            words.append(Word(w.value, span, bind, tuple(related), ", ".join(w.unresolved) if w.unresolved else "", chars))
        out.append((words, to_file(cmd.span)))
    return out


def image_repository(image: str | None) -> str:
    """``vllm/vllm-openai`` of ``docker.io/vllm/vllm-openai:v0.8.5`` (registry host, tag and digest dropped)."""
    if not image:
        return ""
    parts = image.split("@", 1)[0].split("/")
    parts[-1] = parts[-1].split(":", 1)[0]
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]          # a registry host (docker.io, nvcr.io, localhost:5000)
    return "/".join(parts).lower()


def container_invocations(text: str, container, entry: Callable[[list[Word]], int | None],
                          entrypoints: dict[str, tuple[str, ...]] | None = None) -> list[Invocation]:
    """The engine commands a Kubernetes container runs (list form, or a ``sh -c`` / ``bash -c`` string).

    ``entrypoints``: the command an engine's image runs when the container gives none (``args`` alone are
    appended to the image's ENTRYPOINT), by image repository."""
    items = container.words
    values = [str(i.value) for i in items]
    env = {k: str(v.value) for k, v in container.env.items()}
    if container.group_size is not None and isinstance(container.group_size.value, int):
        env.setdefault("LWS_GROUP_SIZE", str(container.group_size.value))
    out: list[Invocation] = []
    for k, v in enumerate(values[:-1]):
        if v.rsplit("/", 1)[-1] in ("sh", "bash", "dash", "zsh") and values[k + 1] in ("-c", "-lc", "-ec", "-xc"):
            if k + 2 >= len(items):
                return out
            script = items[k + 2]
            # The script sees the container's env; Kubernetes expands $(VAR) in it first.
            body, base = _expand_k8s(str(script.value), script.chars, env)
            for words, span in shell_invocations(body, base=base, env=env, env_items=container.env, container=container):
                start = entry(words)
                if start is None:
                    continue
                last = next((w.span for w in reversed(words) if w.span), None) or span or (script.start, script.end)
                out.append(Invocation(words, span or (script.start, script.end), last[1],
                                      lambda flag, value: f" {flag} {value}", container, "container"))
            return out
    words = []
    implied = (entrypoints or {}).get(image_repository(container.image)) if not container.command else None
    if implied and items:
        # the words the image's ENTRYPOINT puts before the args: no place in this file, so never edited
        words += [Word(w, None) for w in implied]
    for i in items:
        raw = str(i.value)
        expanded = _K8S_VAR.sub(lambda m: env.get(m.group(1), "\0"), raw)
        related = tuple(Related(f"{m.group(1)} is set here (container env)", start=container.env[m.group(1)].inner[0],
                                end=container.env[m.group(1)].inner[1])
                        for m in _K8S_VAR.finditer(raw) if m.group(1) in container.env)
        if "\0" in expanded:
            words.append(Word(None, (i.start, i.end), None, related, f"{raw} (a variable Kubernetes does not define here)"))
            continue
        bind = i.inner if expanded == raw else None
        if bind is None and len(related) == 1 and _K8S_VAR.fullmatch(raw):
            bind = (related[0].start, related[0].end)
        chars = tuple(range(i.inner[0], i.inner[1])) if expanded == raw and i.inner[1] - i.inner[0] == len(raw) else None
        words.append(Word(expanded, (i.start, i.end), bind, related, "", chars))
    if entry(words) is not None:
        last = items[-1]
        if text[:last.start].rstrip()[-1:] in ("[", ","):
            # the list the last item is in (args, else command) is a flow list (args: ["--model", "m", …]): a new
            # flag goes after that item, on its line
            out.append(Invocation(words, (items[0].start, last.end), last.end,
                                  lambda flag, value: f", \"{flag}\", \"{value}\"", container, "container"))
        else:
            indent = _list_indent(text, last.start)
            out.append(Invocation(words, (items[0].start, last.end), _line_end(text, last.end),
                                  lambda flag, value, ind=indent: f"\n{ind}- \"{flag}\"\n{ind}- \"{value}\"", container,
                                  "container"))
    return out


def _expand_k8s(raw: str, chars, env: dict) -> tuple[str, tuple | None]:
    """Kubernetes' ``$(VAR)`` expansion of a container's command, keeping the file offset of each character
    (None for the characters a substitution produced)."""
    if chars is None:
        return _K8S_VAR.sub(lambda m: env.get(m.group(1), m.group(0)), raw), None
    out, where, at = [], [], 0
    for m in _K8S_VAR.finditer(raw):
        out.append(raw[at:m.start()])
        where.extend(chars[at:m.start()])
        value = env.get(m.group(1))
        if value is None:
            out.append(m.group(0))
            where.extend(chars[m.start():m.end()])
        else:
            out.append(value)
            where.extend([None] * len(value))
        at = m.end()
    out.append(raw[at:])
    where.extend(chars[at:])
    return "".join(out), tuple(where)


def _list_indent(text: str, offset: int) -> str:
    line_start = text.rfind("\n", 0, offset) + 1
    prefix = text[line_start:offset]
    dash = prefix.find("-")
    return prefix[:dash] if dash >= 0 and prefix[:dash].strip() == "" else " " * (len(prefix) - len(prefix.lstrip()))


def _line_end(text: str, offset: int) -> int:
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    return end - 1 if end > 0 and text[end - 1] == "\r" else end


def script_invocations(text: str, entry: Callable[[list[Word]], int | None]) -> list[Invocation]:
    out = []
    for words, span in shell_invocations(text):
        if entry(words) is None or span is None:
            continue
        last = next((w.span for w in reversed(words) if w.span), span)
        out.append(Invocation(words, span, last[1], lambda flag, value: f" {flag} {value}", None, "script"))
    return out


def commands(path: str, text: str, needle: str, entry, build, entrypoints: dict[str, tuple[str, ...]] | None = None) -> list:
    """Documents for every engine command of a script, or of every container of a manifest.

    ``entrypoints``: for :func:`container_invocations` (a container of the engine's image that gives only args).

    ``build(invocation, label)`` makes one Document. In a LeaderWorkerSet whose leader runs the engine,
    the workers' copies of the command (same engine, another node rank) are not read twice.
    """
    lower = path.lower()
    docs = []
    if lower.endswith((".sh", ".bash")) or text.startswith("#!"):
        for n, inv in enumerate(script_invocations(text, entry)):
            docs.append(build(inv, f"{needle} command #{n + 1}" if n else f"{needle} command"))
        return docs
    if not lower.endswith((".yaml", ".yml")):
        return docs
    from deploylint.core.document.kube import containers

    found = []
    for c in containers(text, must_contain=(needle,)):
        for n, inv in enumerate(container_invocations(text, c, entry, entrypoints)):
            found.append((c, n, inv))
    leaders = {c.doc for c, _, _ in found if c.role == "leader"}
    for c, n, inv in found:
        if c.role == "worker" and c.doc in leaders:
            continue
        where = c.name or (c.pointer.split("/")[3] if c.pointer.startswith("/spec/services/") else c.pointer)
        label = f"{c.kind or 'object'} {c.object_name or ''} container {where}".replace("  ", " ")
        docs.append(build(inv, label + (f" #{n + 1}" if n else "")))
    return docs


# -- flags, the way argparse reads them ---------------------------------------------------------------
@record(frozen=True)
class Flag:
    """One engine option: its names (the first is how deploylint writes it) and how its value is read."""

    dest: str
    names: tuple[str, ...]
    kind: str = "str"          # int, float, str, bool (store_true), optbool (--x / --no-x), json
    used: bool = True          # False: known to the engine, read only to skip its value (no check uses it)


@record
class Parsed:
    values: dict[str, Any] = field(default_factory=dict)
    words: dict[str, Word] = field(default_factory=dict)        # the value word (or the flag word for a bool)
    flags: dict[str, Word] = field(default_factory=dict)        # the flag word
    positionals: list[Word] = field(default_factory=list)
    skipped: list[tuple[str, tuple[int, int] | None]] = field(default_factory=list)


def _norm(name: str) -> str:
    return name.replace("_", "-")


def parse_flags(words: list[Word], table: list[Flag], *, abbreviations: bool, engine: str) -> Parsed:
    """Read ``words`` (after the program and subcommand) against ``table``; unknown flags and unresolved
    values become ``skipped`` entries naming what was not read."""
    names: dict[str, tuple[Flag, bool]] = {}
    for f in table:
        for n in f.names:
            names[_norm(n)] = (f, False)
            if f.kind == "optbool":
                names["--no-" + _norm(n)[2:]] = (f, True)
    out = Parsed()
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if w.value is None:
            out.skipped.append((f"the word {w.why or 'at this place'} (not resolved)", w.span))
            continue
        if not w.value.startswith("-") or w.value == "-":
            out.positionals.append(w)
            continue
        name, eq, inline = w.value.partition("=")
        key = _norm(name)
        found = names.get(key)
        if found is None and abbreviations and key.startswith("--"):
            matches = {names[n][0].dest: n for n in names if n.startswith(key)}
            if len(matches) == 1:
                found = names[next(iter(matches.values()))]
            elif len(matches) > 1:
                out.skipped.append((f"{name}: ambiguous for {engine} (could be {', '.join(sorted(matches.values()))})", w.span))
                if not eq and i < len(words) and words[i].value is not None and not words[i].value.startswith("-"):
                    i += 1
                continue
        if found is None:
            out.skipped.append((f"{name} (a flag deploylint does not read for {engine})", w.span))
            if not eq and i < len(words) and (words[i].value is None or not words[i].value.startswith("-")) \
                    and not _looks_positional(words, i):
                i += 1
            continue
        flag, negated = found
        if flag.kind in ("bool", "optbool"):
            value: Any = not negated
            if eq:
                value = inline.lower() in ("1", "true", "yes", "on")
            out.values[flag.dest], out.words[flag.dest], out.flags[flag.dest] = value, w, w
            continue
        if eq:
            vword = w.sub(len(name) + 1)
        elif i < len(words):
            vword = words[i]
            i += 1
        else:
            out.skipped.append((f"{name} has no value", w.span))
            continue
        out.flags[flag.dest] = w
        if not flag.used:
            continue
        if vword.value is None:
            out.skipped.append((f"{name} {vword.why or 'value'} (not resolved)", vword.span))
            continue
        converted = _convert(vword.value, flag.kind)
        if converted is None:
            out.skipped.append((f"{name} {vword.value!r} (not a {flag.kind})", vword.span))
            continue
        out.values[flag.dest], out.words[flag.dest] = converted, vword
    return out


def _looks_positional(words, i) -> bool:
    return False


def _convert(raw: str, kind: str):
    import json

    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "json":
            return json.loads(raw)
    except ValueError:
        return None
    return raw


# -- the Document --------------------------------------------------------------------------------------
class Builder:
    """Collects one plan's data, spans, token bindings and related places, then makes its Document."""

    def __init__(self, text: str, span: tuple[int, int], head: tuple[int, int]) -> None:
        self.text = text
        self.data: dict[str, Any] = {}
        self.spans: dict[str, NodeSpan] = {"": NodeSpan(Span(*span))}
        for table in ("/model", "/parallelism", "/hardware", "/workload", "/serving"):
            self.spans[table] = NodeSpan(Span(*head))
        self.bindings: dict[str, Binding] = {}
        self.related: dict[str, tuple] = {}
        self.origins: dict[str, str] = {}
        self.skipped: list = []
        self.inserts: dict[str, Callable[[Any], tuple[int, str] | None]] = {}
        self.engine: dict[str, Any] = {}

    def set(self, pointer: str, value: Any, word: Word | None = None, *, bind: bool = True,
            render: Callable[[Any], str | None] | None = None) -> None:
        node = self.data
        tokens = pointer.strip("/").split("/")
        for t in tokens[:-1]:
            node = node.setdefault(t, {})
        node[tokens[-1]] = value
        if word is not None and word.related:
            self.related[pointer] = word.related     # also for a value written in another file (no span here)
        if word is not None and word.span is not None:
            self.spans[pointer] = NodeSpan(Span(*word.span))
            if bind and word.bind is not None:
                self.bindings[pointer] = Binding(word.bind[0], word.bind[1], render)

    def at(self, pointer: str, start: int, end: int) -> None:
        self.spans[pointer] = NodeSpan(Span(start, end))

    def skip(self, text: str, span: tuple[int, int] | None) -> None:
        self.skipped.append((text, ""))
        if span is not None:
            # a span the info can point at: keyed by a pseudo-pointer under the command
            pointer = f"/serving/not_read/{len(self.skipped) - 1}"
            self.spans[pointer] = NodeSpan(Span(*span))
            self.skipped[-1] = (text, pointer)

    def document(self, path: str, fmt: str, label: str, reload: Callable[[str], Any]) -> Document:
        doc = Document(path, self.text, fmt, self.data, self.spans, label=label, related=self.related,
                       origins=self.origins, partial=True, skipped=self.skipped, engine=self.engine)
        # the engine's own start-up semantics, through the public attribute a third-party adapter also sets
        doc.startup = builtin_profile((self.data.get("serving") or {}).get("engine"))

        def insert(pointer: str, value: Any):
            make = self.inserts.get(pointer)
            return make(value) if make else None

        doc.writer = SpanWriter(self.bindings, reload=reload, insert=insert)
        return doc


def same_plan(documents, label: str):
    """The Document with ``label`` among an adapter's answer for a changed text (for SpanWriter.reload)."""
    from deploylint.core import SourceError

    for d in documents or ():
        if d.label == label:
            return d
    raise SourceError(f"after the change, the file no longer holds the plan {label!r}")


def k8s_hardware(b: Builder, container, text: str, registry_names=None) -> None:
    """GPUs and accelerator a Kubernetes container's pod (group) says, recorded with their origin."""
    from deploylint.core.document.kube import accelerator_from_label, gpu_count, line_of

    if container is None:
        return
    if container.group_gpus is not None and container.group_gpus > 0:
        b.data.setdefault("hardware", {})["num_devices"] = container.group_gpus
        if container.gpus is not None:
            b.at("/hardware/num_devices", container.gpus.start, container.gpus.end)
        b.origins["/hardware/num_devices"] = (f"hardware.num_devices = {container.group_gpus}: the GPUs the pods request "
                                              f"({container.group_gpus_origin})")
        per_pod = gpu_count(container.gpus)
        if per_pod:
            b.data["hardware"]["devices_per_node"] = per_pod
            b.origins["/hardware/devices_per_node"] = (f"hardware.devices_per_node = {per_pod}: nvidia.com/gpu of one pod "
                                                      f"(line {line_of(text, container.gpus.start)})")
    from deploylint.core.plan.hardware import CATALOG

    for key, label in container.node_labels.items():
        name = accelerator_from_label(str(label.value), CATALOG)
        if name:
            b.data.setdefault("hardware", {})["accelerator"] = name
            b.at("/hardware/accelerator", label.start, label.end)
            b.origins["/hardware/accelerator"] = (f"hardware.accelerator = {name!r}: from the node label {key} = "
                                                  f"{label.value!r} (line {line_of(text, label.start)})")
            break


DTYPES = {"half": "fp16", "float16": "fp16", "fp16": "fp16", "bfloat16": "bf16", "bf16": "bf16", "float": "fp32",
          "float32": "fp32", "fp32": "fp32"}
