"""Third-party plugins run in a worker process with a hard deadline.

In-process containment (an exception handler and a SIGALRM timer, see
:mod:`.containment`) cannot stop a plugin that calls ``os._exit(0)``, resets
SIGALRM and loops, or prints into the report or the language server's stdio
channel. So every plugin that does not come with deploylint itself is imported
and run in one worker process (:mod:`.worker`), and the run talks to it
through :class:`WorkerHost`. Each request has a deadline; a worker that does
not answer in time is killed, one that dies is noticed at once, and either way
the plugin it was running becomes a DL005 and is not run again in this run.
The other plugins go on in a new worker, started the next time one of them is
needed. The built-in rule families stay in-process: they are deploylint's own
code, reviewed and tested with it, and the worker's costs (a process start,
each plan pickled across) buy nothing for them.

What comes back is parsed as JSON (never unpickled: the worker runs code
deploylint does not trust) and checked again like any rule's output
(:mod:`.validation`). The plugin API does not change: a plugin's rules,
accelerators and configure hooks are proxied by objects registered
under the plugin's name, and its rules are :class:`RemoteRule` instances that
carry the same metadata. A source adapter (``deploylint_source``) runs there
too: its Documents come back as JSON, and a Document with a writer of its own
gets a :class:`RemoteWriter`, whose ``apply`` and ``reload`` run the plugin's
writer in the worker, on the Document it kept there.
"""

from __future__ import annotations

# Everything this module needs is imported here: it is imported before a plugin folder is put on sys.path.
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import types
import weakref
from typing import Any, Callable

from .. import records
from ..diagnostics import Diagnostic, Severity
from ..rule import Rule
from .hookspecs import hookimpl
from .validation import PluginFault, one_line
from .frames import HEADER, read_exactly, write_frame
from .wire import diagnostic_from_wire, range_from_wire, related_from_wire
from .worker import READY

#: the largest answer the worker may send (a plan's diagnostics are far smaller)
MAX_ANSWER_BYTES = 64 << 20
#: seconds the worker may take for deploylint's own work: starting (Python, deploylint's imports), taking a plan,
#: looking up a plugin's version (a loaded machine is slow; none of it is counted against a plugin's budget)
START_BUDGET_S = 60.0
#: what the worker runs: the parent's sys.path, set before anything is imported (no current folder in front)
_BOOT = ("import sys; sys.path[:] = sys.argv[1:]; del sys.argv[1:]; import os; "
         "from deploylint.core.host.worker import main; os._exit(main())")
#: set to run third-party plugins in-process (to debug one with pdb); gives up this protection
IN_PROCESS_ENV = "DEPLOYLINT_PLUGINS_IN_PROCESS"


def wanted() -> bool:
    """Whether third-party plugins go to a worker (the default), or stay in-process (``DEPLOYLINT_PLUGINS_IN_PROCESS=1``)."""
    return os.environ.get(IN_PROCESS_ENV, "") in ("", "0")


class _NoAnswer(Exception):
    """The worker did not answer (it died, or ran past the deadline and was killed)."""


class WorkerHost:
    """One worker process for all the third-party plugins of a registry, restarted after a plugin kills it."""

    def __init__(self, budget_s: float, report: Callable[[str, str], None]) -> None:
        self.budget_s = budget_s
        self.report = report                   # report(plugin, message): a DL005 outside any rule
        self._lock = threading.RLock()
        self._proc: subprocess.Popen | None = None
        self._loads: list[dict] = []           # the load requests of the live plugins, in order (replayed on restart)
        self._collected: set[str] = set()      # plugins whose rules the worker holds
        self._configured: dict[str, Any] = {}  # plugin -> the config it was last given
        self._dead: dict[str, str] = {}        # plugin -> why it is not run any more
        self._ctx: Any = None                  # the memo (ctx.cache) of the plan the worker holds
        self._finalizer = None
        self._boot_path = list(sys.path)       # the worker's sys.path: this one, before a plugin folder is added

    # -- the process ---------------------------------------------------------------
    def _start(self) -> None:
        """Start a worker and wait until it is ready (its start-up is deploylint's, not counted against a plugin)."""
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, *self._boot_path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
            start_new_session=True,            # Ctrl-C is the parent's; the group is killed as one
        )
        self._finalizer = weakref.finalize(self, _kill, self._proc)
        self._ctx = None
        try:
            first = read_exactly(self._proc.stdout.fileno(), HEADER.size + len(READY), time.monotonic() + START_BUDGET_S)
            if first[HEADER.size:] != READY:
                raise EOFError
        except (TimeoutError, EOFError):
            proc, self._proc = self._proc, None
            _kill(proc)
            raise _NoAnswer(f"could not be run: the plugin worker process did not start within {START_BUDGET_S:g} s "
                            "(its error, if any, is on standard error)") from None

    def hosts_plugins(self) -> bool:
        """Whether any plugin is (or will be again, after a restart) loaded in the worker."""
        return bool(self._loads)

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                _kill(self._proc)
                self._proc = None

    def _ensure(self) -> None:
        """A running worker that holds every live plugin (their loads replayed after a restart)."""
        if self._proc is not None and self._proc.poll() is None:
            return
        while not self._replay():
            pass       # a plugin failed while loaded again: it is dead now, start over without it

    def _replay(self) -> bool:
        self._start()
        for load in self._loads:
            name = load["name"]
            if name in self._dead:
                continue
            steps = [load] + ([{"op": "rules", "name": name}] if name in self._collected else [])
            if name in self._configured:
                steps.append({"op": "configure", "name": name, "config": self._configured[name]})
            for step in steps:
                try:
                    self._exchange(step, self.budget_s)
                except _NoAnswer as exc:
                    self._dead[name] = str(exc)
                    self.report(name, f"plugin {name!r} {exc} while it was loaded again; it is not run again in this run")
                    _kill_quietly(self._proc)
                    self._proc = None
                    return False
        return True

    def _exchange(self, request: dict, budget_s: float) -> dict:
        """Send one request, wait for its answer until the deadline; kill the worker when none comes."""
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            write_frame(proc.stdin.fileno(), pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:   # BrokenPipeError: the worker is gone
            self._proc = None
            raise _NoAnswer(self._ended(proc)) from None
        deadline = time.monotonic() + budget_s
        fd = proc.stdout.fileno()
        try:
            head = read_exactly(fd, HEADER.size, deadline)
            (size,) = HEADER.unpack(head)
            if size > MAX_ANSWER_BYTES:
                _kill(proc)
                self._proc = None
                raise _NoAnswer(f"sent an answer of {size} bytes (more than {MAX_ANSWER_BYTES >> 20} MiB) and was stopped")
            payload = read_exactly(fd, size, deadline)
        except TimeoutError:
            _kill(proc)
            self._proc = None
            raise _NoAnswer(f"ran past its time budget of {budget_s:g} s and was stopped (its worker process was ended)") from None
        except EOFError:
            message = self._ended(proc)
            self._proc = None
            raise _NoAnswer(message) from None
        try:
            answer = json.loads(payload.decode("ascii"), parse_constant=_refuse)
            if not isinstance(answer, dict):
                raise ValueError("not an object")
        except ValueError:
            _kill(proc)
            self._proc = None
            raise _NoAnswer("sent an answer deploylint cannot read, and its worker process was ended") from None
        return answer

    @staticmethod
    def _ended(proc: subprocess.Popen) -> str:
        try:
            code = proc.wait(5)
        except subprocess.TimeoutExpired:
            _kill(proc)
            code = proc.returncode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"ended its worker process ({name}; out of memory?)"
        return f"ended its worker process (exit status {code}: os._exit() or a crash)"

    # -- one call for one plugin -----------------------------------------------------
    def call(self, plugin: str, request: dict, budget_s: float | None = None, *, what: str = "") -> dict:
        """The answer to ``request`` about ``plugin``; PluginFault when it faulted, died or hung.

        What the plugin printed is reported through ``report`` (``what`` says when: "at import", …)
        unless the caller takes ``answer["stdout"]`` itself.
        """
        with self._lock:
            if plugin in self._dead:
                raise PluginFault(f"was stopped earlier in this run (it {self._dead[plugin]}) and is not run again", plugin)
            try:
                self._ensure()
            except _NoAnswer as exc:
                raise PluginFault(str(exc), plugin) from None
            # One plan per file: the rules of a file get contexts that differ only in their thresholds and share
            # one memo (ctx.cache), so the memo says which plan the worker holds; thresholds go with each request.
            if request["op"] == "check" and self._ctx is not request["ctx_obj"].cache:
                ctx = request["ctx_obj"]
                try:   # the plan once per file (deploylint's own work: not a rule's budget); the rules' memo stays here
                    self._exchange({"op": "context", "ctx": records.replace(ctx, cache={}, thresholds={})}, START_BUDGET_S)
                except _NoAnswer as exc:
                    raise PluginFault(f"could not be given the plan: the worker process {exc}", plugin) from None
                self._ctx = ctx.cache
            wire = {k: v for k, v in request.items() if k != "ctx_obj"}
            try:
                answer = self._exchange(wire, budget_s or self.budget_s)
            except _NoAnswer as exc:
                self._dead[plugin] = str(exc)
                raise PluginFault(str(exc), plugin) from None
        if what and answer.get("stdout"):
            self.report(plugin, f"plugin {plugin!r} {printed(answer['stdout'], what)}")
        if "fault" in answer:
            raise PluginFault(one_line(str(answer["fault"])), plugin)
        return answer

    # -- the hooks ---------------------------------------------------------------------
    def load(self, name: str, module: str, attr: str | None) -> tuple[Any, str, list[str], list[str]]:
        """Import ``module`` in the worker; returns the proxy to register under ``name``, the plugin's version, the
        deploylint hooks it implements and the names of all its hook implementations (a misspelt one included)."""
        request = {"op": "load", "name": name, "module": module, "attr": attr, "sys_path": list(sys.path)}
        with self._lock:
            answer = self.call(name, request, what="at import")
            self._loads.append(request)
        try:   # deploylint's own lookup (it may read every installed distribution's metadata): not the plugin's budget
            version = self.call(name, {"op": "version", "module": module}, START_BUDGET_S).get("version")
        except PluginFault:
            version = ""
        hooks = [str(h) for h in answer.get("hooks") or []]
        return _proxy(self, name, hooks), str(version or ""), hooks, [str(h) for h in answer.get("hook_names") or []]

    def rules(self, name: str) -> list["RemoteRule"]:
        """The plugin's rules, as RemoteRules; invalid ones are reported, not returned."""
        answer = self.call(name, {"op": "rules", "name": name}, what="in deploylint_rules()")
        self._collected.add(name)
        for problem in answer.get("problems") or []:
            self.report(name, f"plugin {name!r} returned an invalid rule: {problem}")
        return [RemoteRule(self, meta) for meta in answer.get("rules") or []]

    def accelerators(self, name: str) -> dict:
        from ..plan.hardware import Accelerator

        answer = self.call(name, {"op": "accelerators", "name": name}, what="in deploylint_accelerators()")
        for problem in answer.get("problems") or []:
            self.report(name, f"plugin {name!r}: deploylint_accelerators() {problem}")
        allowed = {f.name for f in records.fields(Accelerator)}
        out = {}
        for key, fields in (answer.get("entries") or {}).items():
            try:
                out[key] = Accelerator(**{k: v for k, v in fields.items() if k in allowed})
            except TypeError as exc:
                self.report(name, f"plugin {name!r}: deploylint_accelerators() gave {key!r} without {exc}")
        return out

    def configure(self, name: str, config: Any, budget_s: float) -> None:
        self._configured[name] = config
        self.call(name, {"op": "configure", "name": name, "config": config}, budget_s, what="in deploylint_configure()")

    def source(self, name: str, path: str, text: str):
        """The plugin's Document(s) for the file, or None; each with a :class:`RemoteWriter` when it has a writer."""
        answer = self.call(name, {"op": "source", "name": name, "path": path, "text": text}, what="in deploylint_source()")
        if "source_error" in answer:
            from ..document.sources import SourceError

            r = answer.get("range")
            valid = isinstance(r, list) and len(r) == 4 and all(type(v) is int and v > 0 for v in r)
            raise SourceError(one_line(str(answer["source_error"])),
                              range_from_wire(r) if valid else None)
        found = answer.get("documents")
        if found is None:
            return None
        try:
            documents = [document_from_wire(self, name, item, text) for item in found]
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            raise PluginFault("sent a Document deploylint cannot read", name) from None
        return documents[0] if answer.get("single") and len(documents) == 1 else documents

    def check(self, rule: "RemoteRule", ctx: Any, budget_s: float, limit: int) -> tuple[list[Diagnostic], list[str]]:
        """The rule's checked diagnostics for ``ctx``, and what else went wrong (as verb phrases)."""
        answer = self.call(rule.plugin, {"op": "check", "code": rule.code, "limit": limit, "ctx_obj": ctx,
                                         "thresholds": dict(ctx.thresholds or {})}, budget_s)
        noise = [printed(answer["stdout"])] if answer.get("stdout") else []
        try:
            return [diagnostic_from_wire(item) for item in answer.get("items") or []], noise
        except (KeyError, TypeError, ValueError, IndexError):
            raise PluginFault("sent a diagnostic deploylint cannot read", rule.plugin) from None


def printed(stdout: Any, when: str = "") -> str:
    """The DL005 words for a plugin that wrote to standard output (``when``: "at import", …)."""
    head = str(stdout.get("head", "")) if isinstance(stdout, dict) else ""
    size = stdout.get("bytes", 0) if isinstance(stdout, dict) else 0
    quote = one_line(head[:80]) + ("…" if len(head) > 80 or (isinstance(size, int) and size > len(head)) else "")
    return (f"wrote {size} bytes to standard output{' ' + when if when else ''} ({quote!r}); standard output belongs to "
            "deploylint's report and the language server (log to stderr instead)")


class RemoteRule(Rule):
    """A rule that lives in the worker: its metadata here, its ``check`` there."""

    def __init__(self, host: WorkerHost, meta: dict) -> None:
        self.host = host
        for key in ("code", "name", "summary", "explanation", "bad_example", "good_example", "fix_safety"):
            setattr(self, key, str(meta.get(key) or ""))
        self.summary = one_line(self.summary)    # listed one per line by `deploylint rules`
        self.severity = Severity.parse(meta.get("severity") or "warning")
        self.thresholds = dict(meta.get("thresholds") or {})
        self.requires = frozenset(str(r) for r in meta.get("requires") or ())

    def run_isolated(self, ctx, budget_s: float, limit: int):
        return self.host.check(self, ctx, budget_s, limit)

    def check(self, ctx):
        from .containment import MAX_DIAGNOSTICS_PER_RULE

        found, _ = self.host.check(self, ctx, ctx.config.rule_timeout_s, MAX_DIAGNOSTICS_PER_RULE)
        return found


class RemoteWriter:
    """The writer of a Document a source adapter made in the worker: each call runs the plugin's writer there.

    What the plugin's writer cannot do, or a fault of it (an exception, a hang, a dead worker), is a
    :class:`~deploylint.core.document.writers.WriteError`: the fix is not offered, the finding stays.
    Pickled (the plan sent to the worker for the plugin's rules) it keeps only its names, no process.
    """

    def __init__(self, host: WorkerHost | None, plugin: str, doc_id: int) -> None:
        self.host, self.plugin, self.doc_id = host, plugin, doc_id

    def __reduce__(self):
        return (RemoteWriter, (None, self.plugin, self.doc_id))

    def _call(self, request: dict) -> dict:
        from ..document.writers import WriteError

        if self.host is None:
            raise WriteError("this Document's writer lives in the plugin worker")
        try:
            return self.host.call(self.plugin, {**request, "doc": self.doc_id}, what="in its Document's writer")
        except PluginFault as exc:
            raise WriteError(f"the writer of plugin {self.plugin!r} {exc}") from None

    def apply(self, document, change) -> str:
        text = self._call({"op": "write", "change": change}).get("text")
        if not isinstance(text, str):
            from ..document.writers import WriteError

            raise WriteError(f"the writer of plugin {self.plugin!r} gave no text")
        return text

    def reload(self, document, text: str):
        from ..document.writers import WriteError

        answer = self._call({"op": "reload", "text": text})
        try:
            return document_from_wire(self.host, self.plugin, answer["document"], text)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            raise WriteError(f"the writer of plugin {self.plugin!r} read the fixed text back as no Document") from None


def document_from_wire(host: WorkerHost | None, plugin: str, item: dict, text: str):
    """A source adapter's Document from the worker's JSON; anything out of shape raises."""
    from ..document import Derived, Document, NodeSpan, Span

    def span(pair):
        if pair is None:
            return None
        start, end = pair
        if type(start) is not int or type(end) is not int or not 0 <= start <= end:
            raise ValueError("span")
        return Span(start, end)

    spans = {}
    for pointer, (value, key) in item["spans"].items():
        value = span(value)
        if value is None:
            raise ValueError("a span without a value")
        spans[str(pointer)] = NodeSpan(value, span(key))
    related = {str(p): tuple(related_from_wire(r) for r in rs) for p, rs in item["related"].items()}
    writer = RemoteWriter(host, plugin, int(item["writer"])) if item["writer"] is not None else None
    label = item["label"]
    if not isinstance(item["engine"], dict) or not isinstance(item["origins"], dict):
        raise TypeError("engine")
    derived = {}
    for pointer, (factor, degrees, origin) in item.get("derived", {}).items():
        if type(factor) is not int or factor < 1 or not all(type(k) is str for k in degrees):
            raise ValueError("derived")
        derived[str(pointer)] = Derived(factor, tuple(degrees), str(origin))
    startup = None
    if item.get("startup") is not None:
        from ..plan.startup import StartupCheck, StartupProfile

        wired = item["startup"]
        startup = StartupProfile(str(wired["name"]), {
            str(condition): StartupCheck(str(message), str(source), bool(refuses), None if severity is None else str(severity))
            for condition, (message, source, refuses, severity) in wired["checks"].items()})
    return Document(str(item["path"]), text if item["text"] is None else str(item["text"]), str(item["format"]),
                    item["data"], spans, newline=str(item["newline"]), writer=writer,
                    label=None if label is None else str(label), related=related,
                    origins={str(k): str(v) for k, v in item["origins"].items()}, partial=bool(item["partial"]),
                    skipped=[str(s) for s in item["skipped"]], engine=item["engine"], derived=derived,
                    startup=startup)


def _proxy(host: WorkerHost, name: str, hooks: list[str]) -> Any:
    """An object with the hooks ``name`` implements, each forwarding to the worker (registered in its place)."""
    proxy = types.SimpleNamespace()
    if "deploylint_rules" in hooks:
        proxy.deploylint_rules = hookimpl(lambda: host.rules(name))
    if "deploylint_accelerators" in hooks:
        proxy.deploylint_accelerators = hookimpl(lambda: host.accelerators(name))
    if "deploylint_source" in hooks:
        proxy.deploylint_source = hookimpl(lambda path, text: host.source(name, path, text))
    if "deploylint_configure" in hooks:
        proxy.deploylint_configure = hookimpl(lambda config: host.configure(name, config, getattr(config, "rule_timeout_s", host.budget_s)))
    return proxy


def _refuse(constant: str):
    raise ValueError(f"{constant} is not JSON")


def _kill_quietly(proc: subprocess.Popen | None) -> None:
    if proc is not None:
        _kill(proc)


def _kill(proc: subprocess.Popen) -> None:
    """End the worker and anything it started (its own process group)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                proc.kill()
            except ProcessLookupError:
                pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
    for stream in (proc.stdin, proc.stdout):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass
