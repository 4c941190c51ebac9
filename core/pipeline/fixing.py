"""Apply fixes without ever losing or corrupting a file.

The loop: check → pick one applicable fix per diagnostic (the first one the
rule offers that the chosen applicability allows) → drop fixes whose edits
overlap an earlier one (they get their turn next round) → apply → check the
new text again. A round whose result no longer parses or validates is undone
and the fix responsible is named (DL007); the loop stops when nothing more
applies, when a text repeats (a cycle), or after ``fix-loop-limit`` rounds
(DL007, never an endless loop).

Writing is atomic and exclusive: the file is locked, re-read and compared with
what was checked (a file changed on disk meanwhile is an error, not an
overwrite), the new bytes go to a temporary file in the same folder which is
fsynced and renamed over the original, keeping its mode, BOM and line endings.
"""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
from dataclasses import dataclass, field

from ..diagnostics import Applicability, Diagnostic, Edit, Fix, Severity
from .engine import Engine, FileResult

CORE = "deploylint.core"
_DOCUMENT_CODES = {"DL001", "DL002", "DL003"}
_BLOCKING_CODES = {"DL001"}   # a file that does not parse is never fixed; schema problems (DL002, DL003) are fixable


@dataclass
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


def choose_fixes(diagnostics: list[Diagnostic], unsafe: bool) -> list[tuple[Diagnostic, Fix]]:
    """One fix per diagnostic, in file order, without overlapping edits."""
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


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    if a[0] == a[1] and b[0] == b[1]:
        return a[0] == b[0]  # two insertions at one point would interleave
    return a[0] < b[1] and b[0] < a[1] or (a[0] == a[1] and b[0] < a[0] < b[1]) or (b[0] == b[1] and a[0] < b[0] < a[1])


def apply_edits(text: str, edits: list[Edit]) -> str:
    for e in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[: e.start] + e.new_text + text[e.end:]
    return text


def _document_errors(result: FileResult) -> int:
    return sum(1 for d in result.diagnostics if d.code in _BLOCKING_CODES and d.severity is Severity.ERROR)


def _schema_problems(result: FileResult) -> int:
    return sum(1 for d in result.diagnostics if d.code in ("DL002", "DL003"))


def _worse(before: FileResult, after: FileResult) -> bool:
    """A fix made the file worse: it no longer parses, or it has more schema problems than before."""
    return after.document is None or _document_errors(after) > 0 or _schema_problems(after) > _schema_problems(before)


def fix_text(engine: Engine, path: str, text: str, *, unsafe: bool, bom: bool = False) -> tuple[str, FileResult, list[str], list[Diagnostic]]:
    """Run the fix-point loop on ``text``; returns (new text, final result, applied fixes, loop problems)."""
    result = engine.check_text(path, text, bom=bom)
    if result.document is None or _document_errors(result):
        return text, result, [], []  # never fix a file that does not load and validate
    applied: list[str] = []
    problems: list[Diagnostic] = []
    seen = {text}
    limit = engine.config.fix_loop_limit
    broken: set[tuple[str, str]] = set()
    for _ in range(limit):
        chosen = [(d, f) for d, f in choose_fixes(result.diagnostics, unsafe) if (d.code, f.message) not in broken]
        if not chosen:
            break
        candidate = apply_edits(text, [e for _, f in chosen for e in f.edits])
        after = engine.check_text(path, candidate, bom=bom)
        if _worse(result, after):
            # Find the fixes that break the file on their own; keep the rest for the next round.
            for d, f in chosen:
                alone = engine.check_text(path, apply_edits(text, list(f.edits)), bom=bom)
                if _worse(result, alone):
                    broken.add((d.code, f.message))
                    reason = next((x.message for x in alone.diagnostics if x.code in _DOCUMENT_CODES), "it does not load")
                    problems.append(_dl007(d, f"fix of {d.code} ({f.message}) was not applied: the result would be invalid: {reason}"))
            continue
        if candidate in seen:
            problems.append(_dl007(None, "fixes undo each other (a cycle); stopped: " + ", ".join(d.code for d, _ in chosen)))
            break
        seen.add(candidate)
        applied += [f"{d.code}: {f.message}" for d, f in chosen]
        text, result = candidate, after
    else:
        if choose_fixes(result.diagnostics, unsafe):
            problems.append(_dl007(None, f"fixes did not converge after {limit} rounds (fix-loop-limit); "
                                         "still offered by: " + ", ".join(sorted({d.code for d, _ in choose_fixes(result.diagnostics, unsafe)}))))
    return text, result, applied, problems


def fix_file(engine: Engine, path: str, *, unsafe: bool, write: bool) -> FixOutcome:
    """Fix one file on disk (or only compute the diff when ``write`` is false)."""
    try:
        with open(path, "rb") as fh:
            original = fh.read()
    except OSError:
        return FixOutcome(engine.check_path(path))
    from ..document.sources import SourceError, decode

    try:
        text, bom = decode(original)
    except SourceError:
        return FixOutcome(engine.check_bytes(path, original))
    new_text, result, applied, problems = fix_text(engine, path, text, unsafe=unsafe, bom=bom)
    outcome = FixOutcome(result, fixed=len(applied), applied=applied)
    if new_text != text:
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
    return Diagnostic("DL007", Severity.ERROR, message, d.path if d else "", range=d.range if d else None,
                      data={"code": d.code} if d else {}, rule="fix-failure", plugin=CORE)
