"""Apply fixes without ever losing or corrupting a file, and without ever writing a plan worse than it was.

The loop, one round at a time: check → pick one applicable fix per diagnostic
(the first one the rule offers that the chosen applicability allows) → build
the round → apply → check the new text again → keep the round only if it made
nothing worse. A round is either

* one *isolated* fix alone — a fix that reshapes the deployment (any value
  under ``/parallelism``, the device count, the accelerator, the batch; see
  :data:`ISOLATED`) or one made of raw text edits whose keys nobody knows —
  because two such fixes, each right on its own, are computed for the plan as
  it was and can contradict each other once combined (ruff isolates fixes the
  same way); or
* every other fix whose edits do not overlap (the rest get their turn later).

A round is undone when the plan after it has a problem it did not have before
(:func:`new_problems`): it no longer parses, it has a schema problem
(DL002/DL003), an unresolved reference (DL004) or a plugin failure (DL005) it
did not have, or an error of any rule that was not there — counted over every
rule and every finding, whatever ``--select``, ``ignore`` or suppressions hide,
so a fix cannot slip a broken plan past a narrow selection. The fixes of an
undone round are then tried one at a time and each one that breaks the plan on
its own is named (DL007) and not tried again. A fix whose diagnostic comes
back unchanged after it was applied did nothing useful: the round is undone and
the fix named (DL007, no progress), so a fix can never apply itself again and
again. The loop stops when nothing more applies, when a text repeats (a cycle),
or after ``fix-loop-limit`` rounds (DL007, never an endless loop).

Writing is atomic and exclusive: the file is locked, re-read and compared with
what was checked (a file changed on disk meanwhile is an error, not an
overwrite), the new bytes go to a temporary file in the same folder which is
fsynced and renamed over the original, keeping its mode, BOM and line endings.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections import Counter

from ..records import record, field
from ..diagnostics import Applicability, Diagnostic, Edit, Fix, Severity
from .engine import Engine, FileResult

_BLOCKING_CODES = {"DL001"}   # a file that does not parse is never fixed; schema problems (DL002, DL003) are fixable
#: problems of the document itself: any new one, of any severity, makes a round worse
DOCUMENT_CODES = ("DL001", "DL002", "DL003", "DL004", "DL005")
#: plan values that shape the whole deployment; a fix that changes one is applied alone in its round
ISOLATED = ("/parallelism", "/hardware/num_devices", "/hardware/devices_per_node", "/hardware/accelerator",
            "/workload/batch_size")


@record
class FixOutcome:
    result: FileResult
    fixed: int = 0
    applied: list[str] = field(default_factory=list)   # "CODE: fix message" of each applied fix
    diff: str = ""
    written: bool = False


def applicable(fix: Fix, unsafe: bool) -> bool:
    if not fix.edits:
        return False
    if fix.applicability is Applicability.SAFE:
        return True
    return unsafe and fix.applicability is Applicability.UNSAFE


def isolated(fix: Fix) -> bool:
    """Whether ``fix`` must be applied alone in its round (see the module docstring)."""
    if not fix.changes:
        return True   # raw text edits: which plan values they touch is unknown
    return any(c.path == p or c.path.startswith(p + "/") for c in fix.changes for p in ISOLATED)


def choose_fixes(diagnostics: list[Diagnostic], unsafe: bool) -> list[tuple[Diagnostic, Fix]]:
    """One fix per diagnostic, in file order, without overlapping edits (isolation aside: see :func:`plan_round`)."""
    chosen: list[tuple[Diagnostic, Fix]] = []
    taken: list[tuple[int, int]] = []
    for d in diagnostics:
        fix = next((f for f in d.fixes if applicable(f, unsafe)), None)
        if fix is None:
            continue
        spans = [(e.start, e.end) for e in fix.edits]
        if any(_overlaps(s, t) for s in spans for t in taken):
            continue  # deferred to the next round
        chosen.append((d, fix))
        taken.extend(spans)
    return chosen


def plan_round(candidates: list[tuple[Diagnostic, Fix]], *, solo: bool = False) -> list[tuple[Diagnostic, Fix]]:
    """The fixes of one round: the first candidate alone when it is isolated (or ``solo``), else every candidate
    that is not isolated."""
    if not candidates:
        return []
    first = candidates[0]
    if solo or isolated(first[1]):
        return [first]
    return [c for c in candidates if not isolated(c[1])]


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    if a[0] == a[1] and b[0] == b[1]:
        return a[0] == b[0]  # two insertions at one point would interleave
    return a[0] < b[1] and b[0] < a[1] or (a[0] == a[1] and b[0] < a[0] < b[1]) or (b[0] == b[1] and a[0] < b[0] < a[1])


def apply_edits(text: str, edits: list[Edit]) -> str:
    for e in edits:
        if e.start is None or e.end is None:
            raise ValueError("an edit reached the fixer without offsets; the engine derives them from its range")
    from ..document.writers import splice

    return splice(text, edits)


def _document_errors(result: FileResult) -> int:
    return sum(1 for d in result.diagnostics if d.code in _BLOCKING_CODES and d.severity is Severity.ERROR)


def _problems(result: FileResult, rules_ran: bool) -> Counter:
    """What counts against a plan, by (code, path): every document problem, and every error when rules ran."""
    return Counter((d.code, d.path) for d in result.unfiltered
                   if d.code in DOCUMENT_CODES or (rules_ran and d.severity is Severity.ERROR and not d.code.startswith("DL")))


def new_problems(before: FileResult, after: FileResult) -> list[Diagnostic]:
    """The problems ``after`` has that ``before`` did not (all rules, all findings, nothing hidden).

    Rule errors are compared only when the rules ran on ``before`` too: a plan
    whose schema problem is fixed is checked by the rules for the first time,
    and what they find was there all along."""
    if after.document is None:
        return [d for d in after.unfiltered if d.code == "DL001"] or [_dl007(None, "the result does not load")]
    rules_ran = before.plan is not None
    fresh = _problems(after, rules_ran) - _problems(before, rules_ran)
    out = []
    for d in after.unfiltered:
        if fresh[(d.code, d.path)] > 0:
            fresh[(d.code, d.path)] -= 1
            out.append(d)
    return out


def _stuck(d: Diagnostic, after: FileResult) -> bool:
    """The fixed diagnostic came back unchanged (same code, place and message): applying its fix made no progress."""
    return any(x.code == d.code and x.path == d.path and x.message == d.message for x in after.diagnostics)


def _refusal(d: Diagnostic, f: Fix, problems: list[Diagnostic]) -> Diagnostic:
    shown = "; ".join(f"{p.code} at {p.path or 'the file'}: {p.message}" for p in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return _dl007(d, f"fix of {d.code} ({f.message}) was not applied: the plan would get a new problem: {shown}{more}")


class AloneVerdicts:
    """Whether each fix, applied on its own to ``text``, leaves the plan without a new problem.

    What an editor's quick fix does (one fix, nothing else): the language
    server offers only the fixes this finds harmless. Each verdict costs one
    check and is kept for the text it was made for."""

    def __init__(self, engine: Engine, path: str, text: str, *, bom: bool = False) -> None:
        self.engine, self.path, self.text, self.bom = engine, path, text, bom
        self._before: FileResult | None = None
        self._verdicts: dict[tuple, list[Diagnostic]] = {}

    def problems(self, fix: Fix) -> list[Diagnostic]:
        """The new problems ``fix`` alone would give the plan (empty: it may be applied)."""
        key = (fix.message, fix.changes, tuple((e.start, e.end, e.new_text) for e in fix.edits))
        if key not in self._verdicts:
            if self._before is None:
                self._before = self.engine.check_text(self.path, self.text, bom=self.bom, every_rule=True)
            after = self.engine.check_text(self.path, apply_edits(self.text, list(fix.edits)), bom=self.bom, every_rule=True)
            self._verdicts[key] = new_problems(self._before, after)
        return self._verdicts[key]


def fix_text(engine: Engine, path: str, text: str, *, unsafe: bool, bom: bool = False,
             candidate: bool = False) -> tuple[str, FileResult, list[str], list[Diagnostic]]:
    """Run the fix-point loop on ``text``; returns (new text, final result, applied fixes, loop problems)."""
    def check(attempt: str) -> FileResult:
        return engine.check_text(path, attempt, bom=bom, every_rule=True, candidate=candidate)

    result = original = check(text)
    if result.document is None or _document_errors(result):
        return text, result, [], []  # never fix a file that does not load and validate
    applied: list[str] = []
    problems: list[Diagnostic] = []
    seen = {text}
    limit = engine.config.fix_loop_limit
    refused: set[tuple[str, str, str]] = set()
    solo = False     # after a round that broke the plan only as a whole: one fix per round from then on

    def offered(res: FileResult) -> list[tuple[Diagnostic, Fix]]:
        return [(d, f) for d, f in choose_fixes(res.diagnostics, unsafe) if (d.code, d.path, f.message) not in refused]

    def refuse(d: Diagnostic, f: Fix, problem: Diagnostic) -> None:
        refused.add((d.code, d.path, f.message))
        problems.append(problem)

    for _ in range(limit):
        chosen = plan_round(offered(result), solo=solo)
        if not chosen:
            break
        attempt = apply_edits(text, [e for _, f in chosen for e in f.edits])
        after = check(attempt)
        worse = new_problems(result, after)
        if worse:
            if len(chosen) == 1:
                refuse(*chosen[0], _refusal(*chosen[0], worse))
                continue
            # Name the fixes that break the plan on their own; the others go one per round from now on.
            for d, f in chosen:
                alone = new_problems(result, check(apply_edits(text, list(f.edits))))
                if alone:
                    refuse(d, f, _refusal(d, f, alone))
            solo = True
            continue
        stuck = [(d, f) for d, f in chosen if _stuck(d, after)]
        if stuck:
            for d, f in stuck:
                refuse(d, f, _dl007(d, f"fix of {d.code} ({f.message}) made no progress: after it was applied the "
                                       "same finding came back unchanged; it was undone and not applied"))
            continue
        if attempt in seen:
            problems.append(_dl007(None, "fixes undo each other (a cycle); stopped: " + ", ".join(d.code for d, _ in chosen)))
            break
        seen.add(attempt)
        applied += [f"{d.code}: {f.message}" for d, f in chosen]
        text, result = attempt, after
    else:
        left = offered(result)
        if left:
            problems.append(_dl007(None, f"fixes did not converge after {limit} rounds (fix-loop-limit); "
                                         "still offered by: " + ", ".join(sorted({d.code for d, _ in left}))))
    if applied:
        text, result = _tidy(check, original, text, result)
    if refused:
        # A refused fix is no longer offered: "fixable with --fix" must not count what the loop would not apply.
        result.diagnostics = [d.with_(fixes=tuple(f for f in d.fixes if (d.code, d.path, f.message) not in refused))
                              for d in result.diagnostics]
    return text, result, applied, problems


def _tidy(check, original: FileResult, text: str, result: FileResult) -> tuple[str, FileResult]:
    """Remove again each key the loop added that now holds what the plan would have without it.

    Round by round a fix may add a key that a later fix sets back to its
    default (a micro-batch raised, then reset by a new layout): the plan is
    the same with or without it, and a fix writes only the keys it needs. A
    key is removed only when the plan resolves exactly as before and every
    finding stays as it was; keys the file had before fixing are never
    touched."""
    from ..diagnostics import ValueChange
    from ..document import pointer as jp
    from ..document.writers import WriteError, apply_changes

    if result.plan is None or original.document is None:
        return text, result
    findings = [(d.code, d.path, d.message) for d in result.unfiltered]
    for pointer in _leaves(result.document.data, ""):
        if jp.exists(original.document.data, pointer):
            continue
        try:
            candidate = apply_changes(result.document, [ValueChange("remove", pointer)])
        except WriteError:
            continue
        after = check(candidate)
        if after.plan == result.plan and [(d.code, d.path, d.message) for d in after.unfiltered] == findings:
            text, result = candidate, after
    return text, result


def _leaves(data, prefix: str):
    from ..document import pointer as jp

    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and not key.startswith("$"):
                yield from _leaves(value, jp.child(prefix, key))
    elif prefix:
        yield prefix


def fix_file(engine: Engine, path: str, *, unsafe: bool, write: bool, candidate: bool = False) -> FixOutcome:
    """Fix one file on disk (or only compute the diff when ``write`` is false)."""
    return _on_disk(engine, path, write, lambda text, bom: fix_text(engine, path, text, unsafe=unsafe, bom=bom, candidate=candidate),
                    candidate=candidate)


def apply_fix(engine: Engine, path: str, fix: Fix, *, write: bool) -> FixOutcome:
    """Apply one fix a front end built (``deploylint suggest --apply``) to a file, with the safety of ``--fix``.

    The fix's value changes are rendered by the file's writer; the result must
    not add a problem :func:`new_problems` sees — a document problem or a rule
    error, whatever the selection — else DL007 and nothing is written; it is
    written atomically like every fix.
    """
    from .engine import _render_fixes

    def transform(text: str, bom: bool):
        before = engine.check_text(path, text, bom=bom, every_rule=True)
        if before.document is None or _document_errors(before):
            return text, before, [], [_dl007(None, "the file does not load; nothing written")]
        rendered = _render_fixes(before.document, (fix,))
        new_text = apply_edits(text, list(rendered[0].edits)) if rendered else text
        if new_text == text:
            return text, before, [], [_dl007(None, f"{fix.message}: this file's writer cannot express the change")]
        after = engine.check_text(path, new_text, bom=bom, every_rule=True)
        worse = new_problems(before, after)
        if worse:
            shown = "; ".join(f"{p.code} at {p.path or 'the file'}: {p.message}" for p in worse[:3])
            return text, before, [], [_dl007(None, f"{fix.message}: not applied, the plan would get a new problem: {shown}")]
        return new_text, after, [fix.message], []

    return _on_disk(engine, path, write, transform)


def _on_disk(engine: Engine, path: str, write: bool, transform, *, candidate: bool = False) -> FixOutcome:
    """Read ``path``, let ``transform(text, bom)`` return (new text, result, applied, problems), write atomically."""
    try:
        with open(path, "rb") as fh:
            original = fh.read()
    except OSError:
        return FixOutcome(engine.check_path(path, candidate=candidate))
    from ..document.sources import SourceError, decode

    try:
        text, bom = decode(original)
    except SourceError:
        return FixOutcome(engine.check_bytes(path, original, candidate=candidate))
    new_text, result, applied, problems = transform(text, bom)
    if not result.claimed:
        return FixOutcome(result)
    outcome = FixOutcome(result, fixed=len(applied), applied=applied)
    if new_text != text:
        import difflib  # only when a suggestion or a diff is needed

        outcome.diff = "".join(difflib.unified_diff(
            text.splitlines(keepends=True), new_text.splitlines(keepends=True), fromfile=f"a/{path}", tofile=f"b/{path}"))
        if write:
            data = (b"\xef\xbb\xbf" if bom else b"") + new_text.encode("utf-8")
            error = write_atomically(path, original, data)
            if error:
                problems.append(_dl007(None, error))
                outcome.fixed, outcome.applied = 0, []
                result = engine.check_bytes(path, original)
                outcome.result = result
            else:
                outcome.written = True
    result.diagnostics = result.diagnostics + [p.with_(file=path) for p in problems]
    return outcome


def write_atomically(path: str, expected: bytes, data: bytes) -> str | None:
    """Replace the content of ``path`` by ``data`` if it still holds ``expected``; an error message or None.

    The file keeps its identity: a symbolic link is written through (the link
    stays a link, its target gets the new text); a file with other hard links
    is rewritten in place, so every name sees the fix; otherwise the new text
    goes to a temporary file in the same folder that takes the file's mode and
    owner and then replaces it atomically. Nothing is written when the file
    changed since it was read (an editor's save during the fix wins), when it
    is read-only, or when it is not a regular file.
    """
    import fcntl

    try:
        target = os.path.realpath(path)
        mode = os.stat(target).st_mode
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    if not stat.S_ISREG(mode):
        return f"{path} is not a regular file; fixes were not written"
    # A file without write permission is read-only by intent, even to root (who could write it anyway).
    if not os.access(target, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is read-only; fixes were not written"
    directory = os.path.dirname(target)
    for _ in range(5):
        try:
            fd = os.open(target, os.O_RDWR)
        except OSError as exc:
            return f"cannot open {path} to write fixes: {exc.strerror}"
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            st = os.fstat(fd)
            try:
                if os.stat(target).st_ino != st.st_ino:
                    continue  # another writer replaced the file while we waited: look again
            except FileNotFoundError:
                return f"{path} was deleted while fixing; nothing written"
            current = _read_all(fd)
            if current != expected:
                return f"{path} changed on disk while it was being checked; fixes were not written (run again)"
            if st.st_nlink > 1:
                return _rewrite_in_place(fd, path, data)
            return _replace(target, path, directory, st, data)
        finally:
            os.close(fd)
    return f"{path} kept changing while fixing; nothing written"


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _rewrite_in_place(fd: int, path: str, data: bytes) -> str | None:
    """Overwrite the open file (hard links keep sharing it); not atomic, so it is used only for linked files."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    except OSError as exc:
        return f"cannot write fixes to {path}: {exc.strerror or exc}"
    return None


def _replace(target: str, path: str, directory: str, st: os.stat_result, data: bytes) -> str | None:
    """Write ``data`` beside ``target`` with its mode and owner, then rename it over ``target``."""
    tmp = tempfile.NamedTemporaryFile(dir=directory, prefix=f".{os.path.basename(target)}.",
                                      suffix=".deploylint-tmp", delete=False)
    try:
        with tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp.name, st.st_mode & 0o7777)
        if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
            try:
                os.chown(tmp.name, st.st_uid, st.st_gid)
            except PermissionError:
                os.unlink(tmp.name)
                return f"{path} belongs to another user; fixes were not written (its owner would change)"
        now = os.stat(target)
        if (now.st_ino, now.st_size, now.st_mtime_ns) != (st.st_ino, st.st_size, st.st_mtime_ns):
            os.unlink(tmp.name)
            return f"{path} changed on disk while fixes were written; nothing written (run again)"
        os.replace(tmp.name, target)
    except OSError as exc:
        try:
            os.unlink(tmp.name)
        except OSError:
            pass
        return f"cannot write fixes to {path}: {exc.strerror or exc}"
    try:
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return None


def _dl007(d: Diagnostic | None, message: str) -> Diagnostic:
    from ..host.core_rules import core_diagnostic

    return core_diagnostic("DL007", message, d.path if d else "", range=d.range if d else None,
                           data={"code": d.code} if d else {})
