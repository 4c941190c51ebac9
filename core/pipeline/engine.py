"""Run the flow of ARCHITECTURE.md for one file: load, validate, resolve, analyze, check, suppress.

The engine knows no file format and no rule: loaders, the schema, the
estimator and the rule plugins each do their one job, and the engine moves the
data between them in one direction. Its output, :class:`FileResult`, is what
every front door (CLI, language server, fixer, test kit) consumes.
"""

from __future__ import annotations

import os
from typing import Any

from ..records import record, field, replace
from ..document import pointer as jp
from . import suppression
from .config import CONFIG_FILES, Config, rule_thresholds
from ..host.containment import MAX_DIAGNOSTICS_PER_RULE, RuleTimeout, budget_scope, run_rule
from ..diagnostics import Diagnostic, Fix, Range, Severity, sort_key
from ..document import Document, Span
from ..host.registry import CORE_CODES, Registry, core_diagnostic, plugin_failure
from ..host.validation import checked_results, exception_text
from ..rule import Context
from ..document.sources import SourceError, decode, load, read_regular_file

#: what a rule may need that an adapter's plan can lack (see ``Rule.requires``)
ALL_INPUTS = frozenset({"hardware", "workload"})


@record
class FileResult:
    """Everything known about one checked file."""

    path: str
    text: str | None = None
    document: Document | None = None
    plan: Any = None
    analysis: Any = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    suppressed: int = 0
    incomplete: bool = False          # a plugin or rule failed: the findings may be missing some
    #: every finding of the run before select/ignore and suppressions (configured severities, fixes not rendered):
    #: what the fixer compares to decide whether a fix made the plan worse
    unfiltered: list[Diagnostic] = field(default_factory=list)
    claimed: bool = True              # False: a candidate file that no source adapter reads (not a plan)
    documents: list[Document] = field(default_factory=list)   # every plan of the file (adapters may give several)

    def portable(self) -> "FileResult":
        """What the reports read of this result, small enough to send to another process or store: the findings
        and the text they point into (the documents, plan and estimate stay behind)."""
        text = self.document.text if self.document is not None else self.text
        return FileResult(self.path, text, diagnostics=self.diagnostics, suppressed=self.suppressed,
                          incomplete=self.incomplete, claimed=self.claimed)

    @property
    def worst(self) -> Severity | None:
        return min((d.severity for d in self.diagnostics), key=lambda s: s.rank, default=None)


class Engine:
    """Checks files with one registry and one configuration.

    ``render_fixes`` says whether the value-level changes of each fix are
    rendered into text edits as part of the check. Rendering re-parses the file
    once per change, so front doors that only show findings turn it off and
    call :func:`render_fixes` on the results whose edits they need (``--fix``,
    ``--diff``, JSON and SARIF output, an editor's code action).
    """

    def __init__(self, registry: Registry, config: Config | None = None, *, render_fixes: bool = True) -> None:
        self.registry = registry
        self.config = config or Config()
        self.render_fixes = render_fixes
        self._render_now = render_fixes
        #: each rule's own thresholds (a ConfigError when the configuration sets one no rule owns)
        self._thresholds = rule_thresholds(self.registry.rules, self.config)
        self._rule_table: tuple | None = None

    # -- entry points ----------------------------------------------------------
    def check_path(self, path: str, *, candidate: bool = False) -> FileResult:
        """Check the plan file at ``path``: only a regular file, and at most ``max-file-size-mib`` of it, is read."""
        try:
            raw = self.read(path)
        except SourceError as exc:
            result = FileResult(path)
            result.diagnostics.append(self._core("DL001", exc.message, ""))
            return self._finish(result, [])
        return self.check_bytes(path, raw, candidate=candidate)

    def read(self, path: str) -> bytes:
        """The bytes of the plan file at ``path`` as :meth:`check_path` reads them (SourceError: why it cannot)."""
        return read_regular_file(path, self._size_limit(), SourceError, what=f"a plan ({self._limit_hint()})")

    def _size_limit(self) -> int:
        return int(self.config.max_file_size_mib * (1 << 20))

    def _limit_hint(self) -> str:
        return f"the limit is max-file-size-mib = {self.config.max_file_size_mib:g} in [tool.deploylint]"

    def check_bytes(self, path: str, raw: bytes, *, candidate: bool = False) -> FileResult:
        try:
            text, bom = decode(raw)
        except SourceError as exc:
            if candidate:       # a binary file that merely has a candidate's name: not ours
                return FileResult(path, claimed=False)
            result = FileResult(path)
            result.diagnostics.append(self._core("DL001", exc.message, "", exc.range))
            return self._finish(result, [])
        return self.check_text(path, text, bom=bom, candidate=candidate)

    def check_text(self, path: str, text: str, *, bom: bool = False, every_rule: bool = False,
                   candidate: bool = False) -> FileResult:
        """Check one text. With ``every_rule`` the rules that select/ignore leave out run too, and their findings
        land only in ``result.unfiltered`` (the fixer's safety check), never in ``result.diagnostics``. A
        ``candidate`` (a file found in a folder only because a source adapter might read it) that no adapter
        claims is left alone: ``result.claimed`` is False, no diagnostics."""
        self._configure_plugins()
        if len(text) > self._size_limit():
            # an editor's buffer or a caller's text: the same bound as a file on disk
            result = FileResult(path)
            result.diagnostics.append(self._core(
                "DL001", f"the text is larger than {self.config.max_file_size_mib:g} MiB, too large to be a plan "
                         f"({self._limit_hint()})", "", Range.at(1, 1)))
            return self._finish(result, [])
        result = FileResult(path, text)
        documents = self._load(path, text, result, candidate)
        if documents is None:
            return self._finish(result, [])
        if not documents:
            result.claimed = False
            return result
        result.documents = documents
        result.document = documents[0]
        # a file holding several plans renders its fixes now: only here is each finding's own plan known
        self._render_now = self.render_fixes or len(documents) > 1
        sups = suppression.from_comments(text, documents[0].format)
        hidden: list[Diagnostic] = []
        for document in documents:
            document.bom = bom
            found: list[Diagnostic] = []
            diags = self._check_document(document, result, sups, every_rule, found)
            result.diagnostics += self._place(document, diags)
            hidden += self._place(document, found)
        return self._finish(result, sups, hidden)

    def _check_document(self, document: Document, result: FileResult, sups: list, every_rule: bool = False,
                        hidden: list | None = None) -> list[Diagnostic]:
        """The flow for one plan of the file: validate, resolve, analyze, rules. Returns its diagnostics
        (with ``every_rule``, the findings of the unselected rules go to ``hidden``)."""
        hidden = [] if hidden is None else hidden
        out: list[Diagnostic] = []
        data = document.data
        if isinstance(data, dict) and suppression.META_KEY in data:
            data = {k: v for k, v in data.items() if k != suppression.META_KEY}
            meta_sups, problems = suppression.from_meta(document.data[suppression.META_KEY], document)
            sups += meta_sups
            out += problems
        if problems_stop(out):
            return out
        unknown: frozenset[str] = frozenset()
        supplied: dict = {}
        if document.partial:
            from .fill import fill

            data, filled, unknown, supplied = fill(document, data, self.config)
            out += filled
            if "model" in unknown:
                return out
        out = self._checked(document, data, unknown, result, sups, every_rule, hidden, out)
        if supplied:
            from .fill import attribute

            out = attribute(out, supplied)
        return out

    def _checked(self, document: Document, data: Any, unknown: frozenset, result: FileResult, sups: list,
                 every_rule: bool, hidden: list, out: list[Diagnostic]) -> list[Diagnostic]:
        """Validate, resolve, analyze and run the rules on one plan's (filled) data."""

        validated = Document(document.path, document.text, document.format, data, document.spans, document.newline,
                             document.bom, writer=document.writer, label=document.label, related=document.related,
                             origins=document.origins, partial=document.partial, skipped=document.skipped,
                             engine=document.engine, derived=document.derived, startup=document.startup, _index=document.lines,
                             layout=document.layout)
        from .schema import validate

        schema_diags = validate(validated)
        out += schema_diags
        if any(d.severity is Severity.ERROR and d.code != "DL003" for d in schema_diags):
            # An unknown key is reported but ignored by resolution; anything else makes the plan unusable.
            return out

        from ..plan.resolve import resolve

        try:
            plan, resolve_diags = resolve(data, plan_path=document.path, accelerators=self.registry.accelerators(),
                                          model_paths=tuple(self.config.model_paths), models=self.config.models,
                                          models_base=self.config.root, unknown=unknown)
        except Exception as exc:  # core code, but a crash must still be a diagnostic, never a traceback
            out.append(plugin_failure("deploylint.core.plan.resolve", None,
                                      f"resolving the plan failed: {type(exc).__name__}: {exc}"))
            result.incomplete = True
            return out
        out += resolve_diags
        if plan is None:
            return out
        if result.plan is None:
            result.plan = plan

        try:
            from ..estimate.analysis import analyze

            analysis = analyze(plan)
        except Exception as exc:  # the estimator is core code; a crash here is still contained
            out.append(plugin_failure("deploylint.core.estimate", None,
                                      f"the estimator failed on this plan: {type(exc).__name__}: {exc}"))
            result.incomplete = True
            return out
        if result.analysis is None:
            result.analysis = analysis

        if "hardware" not in plan.unknown:
            for key in analysis.missing:
                out.append(core_diagnostic(
                    "DL008", f"the communication bound was skipped: set hardware.{key} (GB/s per device, one direction) "
                    "or name a catalog accelerator that has it", "/hardware", data={"missing": key}))

        cache: dict = {}     # the per-plan memo the rules share (ctx.cache)
        skipped: list[str] = []
        with budget_scope():
            for rule, needs, thresholds, selected, own in self._rules():
                if selected is None:      # per-file-ignores: the file decides
                    selected = self.config.is_selected(rule.code, document.path)
                if not selected and not every_rule:
                    continue
                if needs & plan.unknown or ("architecture" in plan.unknown and "hardware" in needs):   # estimates need it
                    if selected:
                        skipped.append(rule.code)
                    continue
                # each rule reads its own thresholds; the memo (ctx.cache) stays shared
                rule_ctx = Context(validated, plan, analysis, self.config, thresholds, cache)
                if selected:
                    out += self._run_rule(rule, rule_ctx, result, own)
                else:
                    # seen by the fixer's safety check only: neither reported nor making this run incomplete
                    hidden += self._run_rule(rule, rule_ctx, FileResult(document.path), own)
        if skipped and plan.unknown:
            from .fill import skipped_rules

            out.append(skipped_rules(plan.unknown, skipped))
        return out

    def _rules(self) -> list[tuple]:
        """``(rule, what it requires, its thresholds, whether it is selected, whether it is deploylint's own)`` for
        each rule of the registry, in its order (worked out once per registry's list of rules and selection, not for
        every plan; "selected" is None when per-file-ignores make it depend on the file)."""
        rules, config = self.registry.rules, self.config
        key = (rules, len(rules), tuple(config.select), tuple(config.ignore), bool(config.per_file_ignores))
        table = self._rule_table
        if table is None or table[0][0] is not rules or table[0][1:] != key[1:]:
            by_file = bool(config.per_file_ignores)
            table = self._rule_table = (key, [
                (rule, frozenset(getattr(rule, "requires", ALL_INPUTS)), self._thresholds.get(rule.code, {}),
                 None if by_file else config.is_selected(rule.code), self._own(rule)) for rule in rules])
        return table[1]

    def _own(self, rule) -> bool:
        is_own = getattr(self.registry, "is_own", None)
        return bool(is_own and is_own(rule.plugin))

    def _place(self, document: Document, diags: list[Diagnostic]) -> list[Diagnostic]:
        """Give each diagnostic of one plan its range, its rendered fixes, its related places and its plan label."""
        from ..diagnostics import Related

        placed = []
        for d in diags:
            if d.range is None:
                d = d.with_(range=document.range_of(d.path))
            if d.fixes and self._render_now and (self.config.is_selected(d.code, document.path) or d.code == "DL005"):
                d = _with_rendered_fixes(document, d)
            related = list(d.related)
            if d.path:
                related += [r for r in _related_for(document, d.path) if r not in related]
            if related:
                related = [r if r.range is not None or r.start < 0 else
                           Related(r.message, document.lines.range(Span(r.start, r.end)), r.file, r.start, r.end)
                           for r in related]
                d = d.with_(related=tuple(related))
            if document.label and not d.message.startswith(f"[{document.label}]"):
                d = d.with_(message=f"[{document.label}] {d.message}")
            placed.append(d)
        return placed

    def _configure_plugins(self) -> None:
        # Plugins keep their options per run; re-announce when files with another configuration interleave.
        if self.registry.configured_with is not self.config:
            self.registry.configure(self.config)

    # -- steps -----------------------------------------------------------------
    def _load(self, path: str, text: str, result: FileResult, candidate: bool = False) -> list[Document] | None:
        """The plans of the file (an empty list: a candidate no adapter claims), or None when it cannot be read."""
        try:
            failures: list[Diagnostic] = []
            found = self.registry.source(path, text, failures)
            if failures:
                result.diagnostics += failures
                result.incomplete = True
            if found is None:
                if candidate:
                    return []
                return self._load_plan(path, text, result)
            documents = [found] if isinstance(found, Document) else list(found)
            bad = [d for d in documents if not isinstance(d, Document)]
            if bad:
                result.diagnostics.append(plugin_failure("deploylint_source", None, "a source plugin returned "
                                                         f"{type(bad[0]).__name__}, not a Document"))
                result.incomplete = True
                return None
            return documents
        except SourceError as exc:
            result.diagnostics.append(self._core("DL001", exc.message, "", exc.range))
        except (Exception, SystemExit) as exc:  # a Document's contents broke the engine: still a diagnostic
            result.diagnostics.append(plugin_failure("deploylint_source", None, f"a source plugin failed on this file: {exception_text(exc)}"))
            result.incomplete = True
        return None

    def _load_plan(self, path: str, text: str, result: FileResult) -> list[Document] | None:
        """A file named explicitly that no source adapter reads: a plan, or (DL011) a file that is none. A name
        the ``include`` patterns match (``*.plan.toml``, ``deploy*.yaml``) says it is a plan: it is read as one."""
        from ..document.sources import not_a_plan

        if self.config.matches_include(path):
            return [load(path, text)]
        try:
            document = load(path, text)
        except SourceError:
            why = not_a_plan(path, text)
            if why is None:
                raise
        else:
            why = not_a_plan(path, text, document)
            if why is None:
                return [document]
        adapters = ", ".join(sorted({name.rsplit(".", 1)[-1] for name in self.registry.source_plugins()})) or "none"
        result.diagnostics.append(self._core(
            "DL011", f"not checked: not a deploylint plan ({why}), and no source adapter reads it (asked: {adapters}). "
                     "deploylint reads plans (TOML, YAML, JSON or Python; docs/plan-format.md) and, through the "
                     "adapters, serving commands, engine configs and launch scripts it recognises by their content "
                     "(docs/adapters.md)", "", Range.at(1, 1)))
        return None

    def _run_rule(self, rule, ctx: Context, result: FileResult, own: bool = False) -> list[Diagnostic]:
        budget = self.config.rule_timeout_s
        try:
            produced, noise = run_rule(rule, ctx, budget, MAX_DIAGNOSTICS_PER_RULE, own=own)
            out = checked_results(produced, rule, ctx.document, MAX_DIAGNOSTICS_PER_RULE)
        except RuleTimeout:
            result.incomplete = True
            return [plugin_failure(rule.plugin, rule.code, f"{_who(rule)} ran past its time budget of {budget:g} s and was stopped")]
        except (Exception, SystemExit) as exc:   # SystemExit: a rule's sys.exit() must not end the run
            result.incomplete = True
            return [plugin_failure(rule.plugin, rule.code, f"{_who(rule)} {exception_text(exc)}")]
        failures = [plugin_failure(rule.plugin, rule.code, f"{_who(rule)} {problem}") for problem in noise]
        if failures:
            result.incomplete = True
        return [d.with_(severity=self.config.severity_for(d.code, d.severity), plugin=rule.plugin) for d in out] + failures

    def _finish(self, result: FileResult, sups: list[suppression.Suppression], hidden: list[Diagnostic] = ()) -> FileResult:
        document = result.document

        def place(d: Diagnostic) -> Diagnostic:
            if d.range is None and document is not None:
                d = d.with_(range=document.range_of(d.path))
            return d.with_(file=result.path)

        placed = [place(d) for d in result.diagnostics]
        result.unfiltered = [d.with_(severity=self.config.severity_for(d.code, d.severity))
                             for d in placed + [place(d) for d in hidden]]
        selected = [d for d in placed if self.config.is_selected(d.code, result.path) or d.code == "DL005"]
        if document is not None and self._render_now:
            selected = [_with_rendered_fixes(document, d) if d.fixes else d for d in selected]
        kept = suppression.apply(selected, sups)
        result.suppressed = len(selected) - len(kept)
        if sups and self.config.is_selected("DL006", result.path):
            evaluated = {r.code for r in self.registry.rules if self.config.is_selected(r.code, result.path)} | set(CORE_CODES)
            kept += [d.with_(file=result.path) for d in suppression.audit(sups, self.registry.known_codes(), evaluated)]
        kept = [d.with_(severity=self.config.severity_for(d.code, d.severity)) for d in kept]
        result.diagnostics = sorted(kept, key=sort_key)
        if any(d.code == "DL005" for d in result.diagnostics):
            result.incomplete = True
        return result

    def _core(self, code: str, message: str, path: str, range=None) -> Diagnostic:
        return core_diagnostic(code, message, path, range=range)

def _who(rule) -> str:
    return f"rule {rule.code} ({rule.name}) of plugin {rule.plugin!r}"


def problems_stop(diags: list[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diags)


def _related_for(document: Document, pointer: str) -> list:
    """The related places the source adapter recorded for ``pointer``."""
    return list(document.related.get(pointer, ()))


def render_fixes(result: FileResult) -> FileResult:
    """Render the fixes of a result checked without them (``Engine(render_fixes=False)``) into text edits.

    Fixes already rendered are kept as they are; a fix its format's writer
    cannot express in this file is dropped, exactly as a rendering check does.
    """
    result.diagnostics = [rendered(result.document, d) for d in result.diagnostics]
    return result


def rendered(document: Document | None, d: Diagnostic) -> Diagnostic:
    """``d`` with its fixes rendered into text edits against ``document`` (see :func:`render_fixes`)."""
    if not d.fixes or document is None or all(f.edits or not f.changes for f in d.fixes):
        return d
    return _with_rendered_fixes(document, d)


def _with_rendered_fixes(document: Document, d: Diagnostic) -> Diagnostic:
    """``d`` with its fixes rendered; when the file's writer can express none of them, the message says why
    (a source adapter's writer explains, e.g. that Megatron-LM has no flag for dp)."""
    reasons: list[str] = []
    fixes = _render_fixes(document, d.fixes, reasons)
    if d.fixes and not fixes and reasons and not d.refusal:
        return d.with_(fixes=(), message=f"{d.message}; no fix offered: {reasons[0]}", refusal=reasons[0])
    return d.with_(fixes=tuple(fixes))


def _render_fixes(document: Document, fixes: tuple[Fix, ...], reasons: list | None = None) -> list[Fix]:
    """Turn each fix's value changes into text edits; a fix that cannot be rendered is not offered (why: ``reasons``)."""
    from ..diagnostics import Edit
    from ..document import Span
    from ..document.writers import WriteError, render_changes

    out: list[Fix] = []
    for fix in fixes:
        if fix.edits:
            # Text edits a rule built itself: the offsets follow from the range (host.validation checked both).
            # Which plan values raw text touches is unknown whatever ``changes`` claims, so they are dropped: the
            # fixer then treats the fix as raw text (applied alone in its round).
            if all(e.start is not None for e in fix.edits):      # offsets known (rendered here before, say)
                if fix.changes or type(fix.edits) is not tuple:
                    fix = replace(fix, changes=(), edits=tuple(fix.edits))
                out.append(fix)
                continue
            lines = document.lines
            edits = [e if e.start is not None else Edit(e.range, e.new_text, lines.offset(e.range.start), lines.offset(e.range.end))
                     for e in fix.edits]
            out.append(replace(fix, changes=(), edits=tuple(edits)))
            continue
        if not fix.changes:
            out.append(fix)
            continue
        try:
            edits = [Edit(document.lines.range(Span(te.start, te.end)), te.new_text, te.start, te.end)
                     for te in render_changes(document, fix.changes)]
        except WriteError as exc:
            if reasons is not None and getattr(exc, "explained", False):
                reasons.append(str(exc))
            continue
        if edits:
            out.append(fix.with_edits(edits))
    return out


_SKIPPED_DIRS = ("node_modules", "__pycache__", "venv", ".venv", "build", "dist")


def discover(paths: list[str], config_for) -> tuple[list[str], list[str], set[str]]:
    """Files to check from the command line's paths; returns (files, problems, candidates).

    A file named explicitly is checked whatever its name (but a
    configuration file is not a plan); folders are walked for files matching
    the ``include`` patterns of the configuration that applies to each file
    (hidden folders and virtualenvs are skipped). Files matching only the
    ``candidates`` patterns (``*.sh``, ``*.yaml``, ``*.json``, … — where
    serving commands and launch scripts live) are offered to the source
    adapters: a candidate no adapter claims is left alone, silently. A problem is a sentence
    about a path that could not be used: missing, unreadable, a folder in
    which nothing is found (a run that checked nothing is never "all clear").
    """
    files: list[str] = []
    problems: list[str] = []
    candidates: set[str] = set()
    for p in paths:
        if os.path.isfile(p) or (os.path.exists(p) and not os.path.isdir(p)):
            if os.path.basename(p) in CONFIG_FILES:
                problems.append(f"{p} is deploylint's configuration, not a plan")
            else:
                files.append(p)
        elif os.path.isdir(p):
            unreadable: list[str] = []
            found = 0
            for root, dirs, names in os.walk(p, onerror=lambda exc: unreadable.append(
                    f"cannot read the folder {exc.filename}: {exc.strerror}")):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
                for name in sorted(names):
                    full = os.path.join(root, name)
                    if name in CONFIG_FILES:
                        continue
                    cfg = config_for(full)
                    if cfg.matches_include(full):
                        files.append(full)
                        found += 1
                    elif cfg.matches_candidate(full):
                        files.append(full)
                        candidates.add(full)
                        found += 1
            problems.extend(unreadable)
            if not found and not unreadable:
                patterns = ", ".join(config_for(os.path.join(p, "x")).include)
                problems.append(f"no plan file in the folder {p} (files are matched by the include patterns: "
                                f"{patterns})")
        else:
            problems.append(f"no such file or folder: {p}")
    return files, problems, candidates
