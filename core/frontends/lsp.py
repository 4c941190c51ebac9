"""``deploylint lsp``: the language server (pygls 2, stdio).

The editor front door runs the same engine as the CLI, on the buffer's text:
diagnostics on open, on change (debounced) and on save; each fix as a
quick-fix code action (safe fixes preferred) and a "fix all safe problems"
source action; hover on a key shows the schema's description of it, hover on
a diagnostic the rule's explanation and its figures. Positions go out in
UTF-16 code units, as LSP requires, converted in one place
(:meth:`~deploylint.core.document.LineIndex.utf16_position`). A plugin that
crashes becomes a DL005 diagnostic; nothing a plan or a plugin does stops the
server. pygls is imported by this module only.
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from ..records import record, field
from .. import __version__
from ..document import pointer as jp
from ..pipeline.config import Config, load_config
from ..diagnostics import Applicability, Severity
from ..document import LineIndex

#: seconds the server waits after a change before linting (typing bursts collapse into one run)
DEBOUNCE_S = 0.15

_SCHEMA_VERSION = re.compile(r"""^\s*["']?schema_version["']?\s*[=:]""", re.MULTILINE)
_PLAN_SECTION = re.compile(r"""["']?(hardware|workload|parallelism)["']?\s*[\]=:]""")
_SEVERITY = {Severity.ERROR: lsp.DiagnosticSeverity.Error, Severity.WARNING: lsp.DiagnosticSeverity.Warning,
             Severity.INFO: lsp.DiagnosticSeverity.Information, Severity.HINT: lsp.DiagnosticSeverity.Hint}
FIX_ALL_KIND = "source.fixAll.deploylint"


@record
class _Linted:
    version: int | None
    text: str
    result: Any            # engine.FileResult
    lines: LineIndex
    diagnostics: list = field(default_factory=list)   # (lsp.Diagnostic, core Diagnostic) pairs
    verdicts: Any = None   # fixing.AloneVerdicts for this text: which quick fixes leave the plan no worse


class DeploylintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("deploylint", __version__)
        self._registries: dict[tuple, Any] = {}
        self._allowed: set[str | None] = set()   # folders whose local plugins the user allowed in this session
        self._asked: set[str | None] = set()
        self._configs: dict[str, Config] = {}
        self.linted: dict[str, _Linted] = {}
        self._pending: dict[str, asyncio.Task] = {}

    # -- engine ---------------------------------------------------------------------
    def registry_for(self, cfg: Config):
        """Installed plugins plus, when trusted, the ``plugins = [...]`` of the file's configuration (cached).

        Local plugin modules are code from the opened repository: like an editor's workspace trust, the
        server asks once per folder (allow once, always, or not) and until then lints without them, with
        DL009 saying so (``core/host/trust.py``).
        """
        allowed = bool(cfg.plugins) and (cfg.root in self._allowed or self._trusted(cfg.root))
        # everything the registry is built from: the configuration's folder and file, the plugins it names, their
        # time budget, and whether they may run — two folders, or one configuration before and after an edit,
        # never share a registry
        key = (cfg.root, cfg.source, tuple(cfg.plugins), cfg.rule_timeout_s, allowed)
        if key not in self._registries:
            from ..host.registry import Registry

            # a folder has one configuration at a time: the registry of what it said before is superseded, and
            # its worker process (the plugins it imported) ends now rather than when the editor closes
            for old in [k for k in self._registries if k[0] == cfg.root]:
                self._registries.pop(old).close()

            modules = list(cfg.plugins) if allowed else []
            registry = Registry(budget_s=cfg.rule_timeout_s).load(autoload=True, config_modules=modules, config_source=cfg.source,
                                                                  module_dirs=[cfg.root] if cfg.root and modules else [])
            if cfg.plugins and not allowed:
                from ..host.trust import untrusted

                registry.notices = [untrusted(list(cfg.plugins), cfg.source, cfg.root)]
                self._ask_trust(cfg)
            self._registries[key] = registry
        return self._registries[key]

    @staticmethod
    def _trusted(folder: str | None) -> bool:
        from ..host.trust import is_trusted

        return is_trusted(folder)

    def _ask_trust(self, cfg: Config) -> None:
        """Ask the editor, once per folder, whether the configuration's local plugins may run."""
        if cfg.root in self._asked:
            return
        self._asked.add(cfg.root)

        async def ask() -> None:
            once, always = "Allow once", "Always trust this folder"
            try:
                answer = await self.window_show_message_request_async(lsp.ShowMessageRequestParams(
                    type=lsp.MessageType.Warning,
                    message=(f"{cfg.source} names local deploylint plugins ({', '.join(cfg.plugins)}): importing them "
                             "runs code from this repository. Run them?"),
                    actions=[lsp.MessageActionItem(once), lsp.MessageActionItem(always),
                             lsp.MessageActionItem("Don't run")]))
            except Exception:  # a client without message requests: the plugins stay off
                return
            title = getattr(answer, "title", None)
            if title not in (once, always):
                return
            if title == always:
                from ..host.trust import trust

                trust(cfg.root)
            self._allowed.add(cfg.root)
            for uri in list(self.linted):
                self.refresh(uri)

        try:
            asyncio.ensure_future(ask())
        except RuntimeError:  # no event loop (the server is driven without one, as in unit tests)
            pass

    def config_for(self, path: str) -> Config:
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in self._configs:
            try:
                self._configs[folder] = load_config(start_dir=folder)
            except Exception:  # a broken config file: lint with the defaults rather than not at all
                self._configs[folder] = Config()
        return self._configs[folder]

    def configs_changed(self) -> None:
        """Forget the configurations read so far (a saved deploylint.toml or pyproject.toml may have changed them);
        the next lint reads them again, and a configuration that says something new gets its own registry."""
        self._configs.clear()

    def is_plan(self, path: str, text: str = "") -> bool:
        """A plan file: matched by the include patterns, or (any name) a file that declares ``schema_version``
        next to a plan section — so an opened example is linted but an unrelated pyproject.toml is not."""
        from ..document.sources import format_for

        if format_for(path) is None:
            return False
        if self.config_for(path).matches_include(path):
            return True
        return bool(_SCHEMA_VERSION.search(text)) and bool(_PLAN_SECTION.search(text))

    def lint(self, uri: str, text: str, version: int | None, *, candidate: bool = False) -> _Linted:
        from ..pipeline.engine import Engine
        from ..host.registry import plugin_failure

        path = to_fs_path(uri) or uri
        cfg = self.config_for(path)
        try:
            # fixes are rendered into edits only when the editor asks for a code action
            result = Engine(self.registry_for(cfg), cfg, render_fixes=False).check_text(path, text, candidate=candidate)
        except Exception as exc:  # never let a plan or a plugin stop the server
            from ..pipeline.engine import FileResult

            result = FileResult(path, text)
            d = plugin_failure("deploylint.core.frontends.lsp", None, f"linting failed: {type(exc).__name__}: {exc}")
            result.diagnostics.append(d.with_(file=path))
        registry = self.registry_for(cfg)
        result.diagnostics = list(result.diagnostics) + [d.with_(file=path) for d in (*registry.failures, *registry.notices)]
        lines = result.document.lines if result.document is not None else LineIndex(text)
        linted = _Linted(version, text, result, lines)
        for i, d in enumerate(result.diagnostics):
            linted.diagnostics.append((self.to_lsp(d, lines, i), d))
        self.linted[uri] = linted
        return linted

    # -- conversions ----------------------------------------------------------------
    @staticmethod
    def lsp_range(lines: LineIndex, rng) -> lsp.Range:
        if rng is None:
            return lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
        s = lines.utf16_position(lines.offset(rng.start))
        e = lines.utf16_position(lines.offset(rng.end))
        return lsp.Range(lsp.Position(*s), lsp.Position(*e))

    def to_lsp(self, d, lines: LineIndex, index: int) -> lsp.Diagnostic:
        related = None
        if d.related:
            from pygls.uris import from_fs_path

            related = [lsp.DiagnosticRelatedInformation(
                location=lsp.Location(uri=from_fs_path(os.path.abspath(r.file or d.file or "")) or "",
                                      range=self.lsp_range(lines, r.range) if not r.file or r.file == d.file
                                      else lsp.Range(lsp.Position(r.range.start.line - 1, r.range.start.column - 1),
                                                     lsp.Position(r.range.end.line - 1, r.range.end.column - 1))),
                message=r.message) for r in d.related if r.range is not None]
        return lsp.Diagnostic(
            range=self.lsp_range(lines, d.range),
            message=d.message,
            severity=_SEVERITY[d.severity],
            code=d.code,
            source="deploylint",
            # the figures stay here (hover shows them): a 1,024-device plan's per-device figures would add some
            # 30 KB to every publish, serialised and parsed on each keystroke
            data={"index": index, "rule": d.rule},
            related_information=related or None,
        )

    def publish(self, uri: str, linted: _Linted | None) -> None:
        diagnostics = [pair[0] for pair in linted.diagnostics] if linted else []
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri=uri, version=linted.version if linted else None, diagnostics=diagnostics))

    def refresh(self, uri: str) -> None:
        doc = self.workspace.get_text_document(uri)
        path = to_fs_path(uri) or uri
        plan = self.is_plan(path, doc.source)
        if not plan and not self.config_for(path).matches_candidate(path):
            self.linted.pop(uri, None)
            self.publish(uri, None)
            return
        # A candidate (a script, a manifest, an engine's YAML) is linted only when a source adapter reads it.
        linted = self.lint(uri, doc.source, doc.version, candidate=not plan)
        if not linted.result.claimed:
            self.linted.pop(uri, None)
            self.publish(uri, None)
            return
        self.publish(uri, linted)

    def schedule(self, uri: str) -> None:
        old = self._pending.pop(uri, None)
        if old is not None:
            old.cancel()

        async def later() -> None:
            try:
                await asyncio.sleep(DEBOUNCE_S)
            except asyncio.CancelledError:
                return
            self._pending.pop(uri, None)
            self.refresh(uri)

        self._pending[uri] = asyncio.ensure_future(later())


server = DeploylintServer()


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: DeploylintServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.refresh(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: DeploylintServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: DeploylintServer, params: lsp.DidSaveTextDocumentParams) -> None:
    ls.configs_changed()
    ls.refresh(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: DeploylintServer, params: lsp.DidCloseTextDocumentParams) -> None:
    ls.linted.pop(params.text_document.uri, None)
    ls.publish(params.text_document.uri, None)


def _edits(ls: DeploylintServer, linted: _Linted, fix) -> list[lsp.TextEdit]:
    return [lsp.TextEdit(range=ls.lsp_range(linted.lines, e.range), new_text=e.new_text) for e in fix.edits]


@server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix, FIX_ALL_KIND]))
def code_action(ls: DeploylintServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    uri = params.text_document.uri
    linted = ls.linted.get(uri)
    if linted is None:
        return []
    wanted = params.context.only
    actions: list[lsp.CodeAction] = []
    if not wanted or lsp.CodeActionKind.QuickFix in wanted:
        asked = {(d.code, d.range.start.line, d.range.start.character) for d in params.context.diagnostics}
        for lsp_d, d in linted.diagnostics:
            key = (lsp_d.code, lsp_d.range.start.line, lsp_d.range.start.character)
            if asked and key not in asked:
                continue
            if not asked and not _overlap(lsp_d.range, params.range):
                continue
            d = _rendered(linted, lsp_d, d)
            offered = [f for f in d.fixes if f.edits and f.applicability is not Applicability.DISPLAY]
            reason = d.refusal if not offered and _disabled_support(ls) else None
            if reason:
                # the file holds no token the fix could edit (Megatron-LM has no dp flag, …): the menu says why
                actions.append(lsp.CodeAction(title=f"{d.code}: no fix offered", kind=lsp.CodeActionKind.QuickFix,
                                              diagnostics=[lsp_d], disabled=lsp.CodeActionDisabled(reason=reason)))
            for n, fix in enumerate(f for f in offered if not _alone_problems(ls, uri, linted, f)):
                safe = fix.applicability is Applicability.SAFE
                title = f"{d.code}: {fix.message}" + ("" if safe else " (unsafe)")
                actions.append(lsp.CodeAction(
                    title=title, kind=lsp.CodeActionKind.QuickFix, diagnostics=[lsp_d],
                    is_preferred=safe and n == 0,
                    edit=lsp.WorkspaceEdit(changes={uri: _edits(ls, linted, fix)})))
    if not wanted or any(k in (FIX_ALL_KIND, lsp.CodeActionKind.Source, lsp.CodeActionKind.SourceFixAll) for k in wanted):
        edit = _fix_all(ls, uri, linted)
        if edit is not None:
            actions.append(lsp.CodeAction(title="deploylint: fix all safe problems", kind=FIX_ALL_KIND, edit=edit))
    return actions


def _disabled_support(ls: DeploylintServer) -> bool:
    """The client shows disabled code actions with their reason (LSP 3.16 codeAction.disabledSupport)."""
    caps = getattr(ls, "client_capabilities", None)
    action = getattr(getattr(caps, "text_document", None), "code_action", None)
    return bool(getattr(action, "disabled_support", False))


def _alone_problems(ls: DeploylintServer, uri: str, linted: _Linted, fix) -> list:
    """What ``fix`` alone would break in the plan: a quick fix that would is not offered (the fix loop's rule)."""
    if linted.verdicts is None:
        from ..pipeline.engine import Engine
        from ..pipeline.fixing import AloneVerdicts

        path = to_fs_path(uri) or uri
        cfg = ls.config_for(path)
        linted.verdicts = AloneVerdicts(Engine(ls.registry_for(cfg), cfg), path, linted.text)
    return linted.verdicts.problems(fix)


def _rendered(linted: _Linted, lsp_d: lsp.Diagnostic, d):
    """The diagnostic with its fixes as text edits, rendered on the first code action that shows them."""
    from ..pipeline.engine import rendered

    done = rendered(linted.result.document, d)
    if done is not d:
        linted.diagnostics = [(l, done if l is lsp_d else c) for l, c in linted.diagnostics]
    return done


def _fix_all(ls: DeploylintServer, uri: str, linted: _Linted) -> lsp.WorkspaceEdit | None:
    if not any((f.edits or f.changes) and f.applicability is Applicability.SAFE
               for _, d in linted.diagnostics for f in d.fixes):
        return None
    from ..pipeline.engine import Engine
    from ..pipeline.fixing import fix_text
    from ..document.writers import minimal_edits

    path = to_fs_path(uri) or uri
    cfg = ls.config_for(path)
    new_text, _, applied, problems = fix_text(Engine(ls.registry_for(cfg), cfg), path, linted.text, unsafe=False)
    if new_text == linted.text:
        return None
    edits = []
    for te in minimal_edits(linted.text, new_text):
        s = linted.lines.utf16_position(te.start)
        e = linted.lines.utf16_position(te.end)
        edits.append(lsp.TextEdit(lsp.Range(lsp.Position(*s), lsp.Position(*e)), te.new_text))
    return lsp.WorkspaceEdit(changes={uri: edits})


def _overlap(a: lsp.Range, b: lsp.Range) -> bool:
    def key(p):
        return (p.line, p.character)

    return not (key(a.end) < key(b.start) or key(b.end) < key(a.start))


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def hover(ls: DeploylintServer, params: lsp.HoverParams) -> lsp.Hover | None:
    uri = params.text_document.uri
    linted = ls.linted.get(uri)
    if linted is None:
        return None
    lines = linted.lines
    offset = lines.offset_from_utf16(params.position.line, params.position.character)
    parts: list[str] = []
    document = linted.result.document
    if document is not None:
        pointer = _pointer_at(document, offset)
        if pointer:
            from ..pipeline.schema import property_description

            generic = jp.join(*(("0" if t.isdigit() else t) for t in jp.split(pointer)))
            desc = property_description(generic) or property_description(pointer)
            if desc:
                parts.append(f"**{'.'.join(t for t in jp.split(pointer))}** — {desc}")
    for lsp_d, d in linted.diagnostics:
        r = lsp_d.range
        if (r.start.line, r.start.character) <= (params.position.line, params.position.character) <= (r.end.line, r.end.character):
            rule = ls.registry_for(ls.config_for(to_fs_path(uri) or uri)).rule(d.code)
            text = f"**{d.code} {d.rule}** — {d.message}"
            if rule is not None and rule.explanation:
                import textwrap

                text += "\n\n" + textwrap.dedent(rule.explanation).strip()
            if d.data:
                figures = ", ".join(f"`{k}` = {v}" for k, v in list(d.data.items())[:12])
                text += f"\n\nFigures: {figures}"
            parts.append(text)
    if not parts:
        return None
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="\n\n---\n\n".join(parts)))


def _pointer_at(document, offset: int) -> str | None:
    """The innermost plan value whose key or value span holds ``offset``."""
    best = None
    best_len = None
    for pointer, node in document.spans.items():
        for span in (node.key, node.value):
            if span is not None and span.start <= offset <= span.end:
                length = span.end - span.start
                if pointer and (best_len is None or length < best_len):
                    best, best_len = pointer, length
    return best


def serve() -> int:
    """Serve over stdio. The protocol keeps its own copies of fds 0 and 1; fd 1 itself then points at stderr and
    fd 0 at /dev/null, so nothing else in this process (a library, a plugin run in-process) can write into the
    channel or read from it."""
    import sys

    channel_in = os.fdopen(os.dup(0), "rb")
    channel_out = os.fdopen(os.dup(1), "wb")
    sys.stdout.flush()
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    server.start_io(channel_in, channel_out)
    return 0
