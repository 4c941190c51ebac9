"""The plugin worker: third-party plugins run here, in a process of their own.

:mod:`.isolation` starts it with the parent's ``sys.path`` (the current folder
is not put in front, so a ``json.py`` in a linted repository is not imported
here) and waits for its ``ready`` frame.
Requests come on fd 0, pickled by the parent (which this process trusts);
answers go out as JSON frames (which the parent reads without trusting them)
on the pipe that was fd 1. Before any plugin is imported, fd 1 is pointed at a
capture file and fd 0 at ``/dev/null``: what a plugin prints is caught and
reported as DL005, never mixed into the answers, a report or the language
server's channel.

Each request names one plugin and runs one of its hooks. Whatever the hook
does — raise, ``sys.exit()``, return garbage — becomes an answer with a
``fault``; what the parent cannot get an answer to in time (``os._exit``, an
endless loop, a reset SIGALRM) it ends by killing this process.
"""

from __future__ import annotations

# Everything this module needs is imported here, before any plugin folder is on sys.path.
import dataclasses
import importlib
import json
import os
import pickle
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import Any

from .. import records
from .frames import read_frame, write_frame
from .wire import diagnostic_to_wire, range_to_wire, related_to_wire

#: the first frame, sent once the worker can take requests
READY = b'{"ready": true}'
#: what a plugin printed, quoted in the DL005 (the rest is counted, not copied)
STDOUT_QUOTE = 200


class Worker:
    """The plugins of this process and the plan they are looking at."""

    def __init__(self, capture_fd: int) -> None:
        import pluggy

        from . import hookspecs

        self.capture_fd = capture_fd
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.rules: dict[str, Any] = {}
        self.ctx = None
        #: the Documents a source adapter gave that have a writer of their own, by id: a fix is written here
        self.documents: dict[int, Any] = {}

    # -- one request ----------------------------------------------------------------
    def handle(self, request: dict) -> dict:
        op = request["op"]
        os.ftruncate(self.capture_fd, 0)
        os.lseek(self.capture_fd, 0, os.SEEK_SET)
        try:
            answer = getattr(self, "op_" + op)(request)
        except BaseException as exc:   # a plugin's exception, sys.exit() or KeyboardInterrupt is an answer
            from .validation import exception_text

            answer = {"fault": exception_text(exc)}
        printed = self._printed()
        if printed:
            answer["stdout"] = printed
        return answer

    def _printed(self) -> dict | None:
        for stream in (sys.stdout, sys.__stdout__):
            try:
                stream.flush()
            except Exception:  # a plugin may have replaced or closed sys.stdout
                pass
        size = os.fstat(self.capture_fd).st_size
        if not size:
            return None
        head = os.pread(self.capture_fd, STDOUT_QUOTE, 0).decode("utf-8", "replace")
        return {"bytes": size, "head": head}

    def _impl(self, plugin: str, hook: str):
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            if impl.plugin_name == plugin:
                return impl.function
        raise LookupError(f"plugin {plugin!r} has no {hook}()")

    # -- operations -------------------------------------------------------------------
    def op_load(self, request: dict) -> dict:
        # The plugin is imported with the parent's sys.path (its folder in front); afterwards that folder goes
        # to the end, so what the plugin imports later finds it, and nothing else finds a module shadowed there.
        boot = list(sys.path)
        sys.path[:] = request["sys_path"]
        try:
            obj = importlib.import_module(request["module"])
        finally:
            sys.path[:] = boot + [p for p in request["sys_path"] if p not in boot]
        for part in (request.get("attr") or "").split(".") if request.get("attr") else ():
            obj = getattr(obj, part)
        self.pm.register(obj, name=request["name"])
        hooks = [h for h in ("deploylint_rules", "deploylint_accelerators", "deploylint_source", "deploylint_configure")
                 if any(i.plugin_name == request["name"] for i in getattr(self.pm.hook, h).get_hookimpls())]
        return {"hooks": hooks, "hook_names": sorted({c.name for c in (self.pm.get_hookcallers(obj) or [])})}

    def op_version(self, request: dict) -> dict:
        from .registry import _module_version

        return {"version": _module_version(request["module"])}

    def op_rules(self, request: dict) -> dict:
        from .registry import MAX_RULES_PER_PLUGIN, _rule_problem, bounded_list
        from .validation import json_problem, utf8_problem

        rules = bounded_list(self._impl(request["name"], "deploylint_rules")(), MAX_RULES_PER_PLUGIN, "rules")
        described, problems = [], []
        for rule in rules:
            problem = _rule_problem(rule)
            meta = None if problem else _rule_metadata(rule)
            if meta is not None:
                problem = (next(filter(None, (utf8_problem(meta[k], f"a {k}") for k in _TEXT_FIELDS)), None)
                           or json_problem(meta["thresholds"], "thresholds"))
                problem = f"{rule.code}: {problem}" if problem else None
            if problem:
                problems.append(problem)
                continue
            self.rules[rule.code] = rule
            described.append(meta)
        return {"rules": described, "problems": problems}

    def op_accelerators(self, request: dict) -> dict:
        from ..plan.hardware import Accelerator
        from .registry import MAX_ACCELERATORS_PER_PLUGIN, bounded_list

        found = self._impl(request["name"], "deploylint_accelerators")() or {}
        pairs = bounded_list(found.items() if isinstance(found, Mapping) else found, MAX_ACCELERATORS_PER_PLUGIN, "accelerators")
        entries, problems = {}, []
        for name, acc in pairs:
            if not isinstance(name, str) or not isinstance(acc, Accelerator):
                problems.append(f"the entry {name!r:.60} is not a name and a deploylint.core.Accelerator")
                continue
            entries[name] = dataclasses.asdict(acc)
        return {"entries": entries, "problems": problems}

    def op_configure(self, request: dict) -> dict:
        self._impl(request["name"], "deploylint_configure")(config=request["config"])
        return {}

    def op_context(self, request: dict) -> dict:
        self.ctx = request["ctx"]
        return {}

    def op_source(self, request: dict) -> dict:
        from ..document import Document
        from .registry import bounded_list

        from ..document.sources import SourceError

        try:
            found = self._impl(request["name"], "deploylint_source")(path=request["path"], text=request["text"])
        except SourceError as exc:   # the file is the adapter's, and broken: a DL001 at its position
            return {"source_error": str(exc.message), "range": range_to_wire(exc.range)}
        if found is None:
            return {"documents": None}
        single = isinstance(found, Document)
        documents = [found] if single else bounded_list(found, MAX_DOCUMENTS, "documents")
        return {"documents": [self._document(d, request["text"]) for d in documents], "single": single}

    def op_write(self, request: dict) -> dict:
        document = self.documents[request["doc"]]
        return {"text": _text(document.writer.apply(document, request["change"]), "writer.apply()")}

    def op_reload(self, request: dict) -> dict:
        document = self.documents[request["doc"]]
        return {"document": self._document(document.writer.reload(document, request["text"]), request["text"])}

    def _document(self, document, text: str) -> dict:
        """A source adapter's Document as plain JSON values (see :func:`.isolation.document_from_wire`)."""
        from ..document import Document
        from .validation import BadOutput

        if not isinstance(document, Document):
            raise BadOutput(f"returned {type(document).__name__}, not a deploylint.core.Document")
        doc_id = None
        if document.writer is not None:
            doc_id = len(self.documents) + 1
            self.documents[doc_id] = document

        def place(s):
            return None if s is None else [int(s.start), int(s.end)]

        return {
            "path": str(document.path), "text": None if document.text == text else _text(document.text, "a Document text"),
            "format": str(document.format), "data": document.data, "newline": str(document.newline),
            "spans": {str(p): [place(n.value), place(n.key)] for p, n in document.spans.items()},
            "label": None if document.label is None else str(document.label),
            "related": {str(p): [related_to_wire(r) for r in rs]
                        for p, rs in document.related.items()},
            "origins": {str(p): str(o) for p, o in document.origins.items()}, "partial": bool(document.partial),
            "skipped": [str(s) for s in document.skipped], "engine": dict(document.engine), "writer": doc_id,
            "derived": {str(p): _derived(d) for p, d in (document.derived or {}).items()},
            "startup": _startup(document.startup),
        }

    def op_check(self, request: dict) -> dict:
        from .containment import collect
        from .validation import checked_results

        rule = self.rules[request["code"]]
        ctx = records.replace(self.ctx, thresholds=request.get("thresholds") or {})   # the memo stays shared
        produced = collect(rule, ctx, request["limit"])
        return {"items": [diagnostic_to_wire(d) for d in checked_results(produced, rule, ctx.document, request["limit"])]}


_TEXT_FIELDS = ("name", "summary", "explanation", "bad_example", "good_example", "fix_safety")


def _rule_metadata(rule) -> dict:
    from ..diagnostics import Severity

    meta = {k: getattr(rule, k, "") or "" for k in _TEXT_FIELDS}
    meta.update(code=rule.code, severity=Severity.parse(rule.severity).value,
                thresholds=dict(getattr(rule, "thresholds", {}) or {}),
                requires=sorted(str(r) for r in getattr(rule, "requires", ()) or ()))
    return meta


#: plans one source adapter may find in one file
MAX_DOCUMENTS = 1000


def _startup(profile) -> dict | None:
    """A source adapter's StartupProfile as plain data (its checks normalised to StartupCheck's four fields)."""
    if profile is None:
        return None
    checks = {}
    for condition in profile.checks:
        check = profile.check(condition)
        checks[str(condition)] = [str(check.message), str(check.source), bool(check.refuses),
                                  None if check.severity is None else str(getattr(check.severity, "value", check.severity))]
    return {"name": str(profile.name), "checks": checks}


def _derived(value) -> list:
    """A ``Document.derived`` entry as ``[factor, degrees, origin]``."""
    from ..document import Derived
    from .validation import BadOutput

    if not isinstance(value, Derived):
        raise BadOutput(f"gave a Document.derived entry of type {type(value).__name__}, not a deploylint.core.Derived")
    return [value.factor, list(value.degrees), _text(value.origin, "a Derived origin")]


def _text(value, what: str) -> str:
    from .validation import BadOutput

    if not isinstance(value, str):
        raise BadOutput(f"gave {what} of type {type(value).__name__}, not a string")
    return value


def _watch_parent(parent: int) -> None:
    """End this process when the parent is gone (a plugin stuck in a loop would otherwise outlive it)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(70)


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle
    parent = os.getppid()
    requests = os.dup(0)
    answers = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    capture = tempfile.TemporaryFile()
    os.dup2(capture.fileno(), 1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="deploylint-watchdog").start()
    worker = Worker(1)
    write_frame(answers, READY)
    while True:
        frame = read_frame(requests)
        if frame is None:
            return 0
        answer = worker.handle(pickle.loads(frame))
        try:
            payload = json.dumps(answer, allow_nan=False, ensure_ascii=True).encode("ascii")
        except (TypeError, ValueError, RecursionError) as exc:
            payload = json.dumps({"fault": f"gave an answer that is not plain, finite JSON ({type(exc).__name__})"}).encode()
        write_frame(answers, payload)


if __name__ == "__main__":
    os._exit(main())
