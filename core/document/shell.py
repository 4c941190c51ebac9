"""A POSIX/bash word splitter that keeps offsets: shell text → commands of words with spans.

Launch scripts (``torchrun … pretrain_gpt.py --tensor-model-parallel-size 8``,
``vllm serve …`` inside a YAML ``sh -c`` string) are linted in place, so every
word must know where it was written. :func:`parse` reads a script the way bash
would run it top to bottom, without running anything:

* quotes (``'…'``, ``"…"``, ``$'…'``), backslash escapes and ``\\``-newline
  continuations; ``#`` comments (also inside array literals);
* ``NAME=value`` assignments (alone, before a command, after ``export``,
  ``declare``, ``local``, ``readonly``), ``NAME+=value``, ``unset``;
* ``$NAME``, ``${NAME}``, ``${NAME:-d}``, ``${NAME-d}``, ``${NAME:=d}``,
  ``${NAME:+alt}``, ``${#NAME}`` against the assignments seen earlier in the
  script and a given environment; ``$((…))`` integer arithmetic;
* bash arrays ``NAME=( … )``, ``NAME+=( … )``, ``"${NAME[@]}"`` (spread into
  the array's words, each with its own span), ``${NAME[i]}``, ``${#NAME[@]}``;
* unquoted expansions are split on whitespace, as bash does;
* text another shell runs: the body of a heredoc fed to ``sbatch``, ``bash``,
  ``sh`` or ``ssh`` (``<<EOF``: expanded with this script's variables first;
  ``<<'EOF'``: only the exported ones reach it), and ``bash -c STRING`` with
  STRING a quoted string or the one variable holding one — read as a script
  where it is written, its commands marked with the ``parent`` that runs them;
* every heredoc's lines as the program reads them (:class:`Heredoc`: ``<<-``
  strips leading tabs, an unquoted body is expanded), for the comments a
  program reads as directives (``#SBATCH``).

What cannot be known without running the script (``$(cmd)``, backticks, a
variable that is neither assigned nor in the environment, one assigned only
inside an ``if``/loop/function, positional parameters, pattern operators such
as ``${X%…}``) makes the word *unresolved*: its value is None and
``unresolved`` names what was missing. Nothing is guessed.

Offsets are code-point offsets into the string given to :func:`parse`; a
caller that lexes a decoded YAML scalar maps them back with its own offset
map. ``Word.chars`` gives, for each character of a word's value, where that
character is written verbatim (possibly inside a variable's definition far
from the word), so :meth:`Word.locate` finds the token a fix must edit: the
value itself, the default of ``${X:-8}``, or the ``8`` of ``TP=8`` for a word
written ``$TP``.

Pure Python, no dependency, one pass; nothing is executed.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from ..records import record, field
from . import Span

__all__ = [
    "Command",
    "Heredoc",
    "Note",
    "Reference",
    "Script",
    "Variable",
    "Word",
    "parse",
    "split_words",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\+?=)")
_SPECIAL = "@*#?$!-0123456789"
_METACHARS = " \t\n;&|<>()"
_DECLARERS = {"export", "declare", "typeset", "local", "readonly"}
_CLOSERS = {"fi": ("if",), "done": ("while", "until", "for", "select"), "esac": ("case",),
            "}": ("{", "function"), ")": ("(",)}
_BRANCHES = {"then", "else", "elif", "do"}
_PREFIX_WORDS = {"!", "time", "then", "else", "elif", "do", "in"}
#: programs that run the text they are given (a heredoc on stdin, or ``-c STRING``) as a shell script
_SHELLS = {"bash", "sh", "zsh", "dash", "ksh"}
_STDIN_SCRIPT = _SHELLS | {"sbatch", "ssh"}
#: ``"${NAME}"``, ``"$NAME"``, ``${NAME}``, ``$NAME``: a word that is one variable
_ONE_VARIABLE = re.compile(r'^("?)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))\1$')
_MAX_DEPTH = 8

#: the longest script the reader takes, in characters. A launch script is a few kilobytes; reading costs
#: about ten microseconds a character (each keeps its offset), so a generated script of megabytes would
#: take many seconds; the bound keeps the worst case near two seconds. Past it,
#: :func:`parse` raises the SourceError an adapter's file gets as a DL001 (docs/adapters.md, "Limits").
MAX_SCRIPT_CHARS = 256 * 1024


# --------------------------------------------------------------------------- results


@record(frozen=True, slots=True)
class Reference:
    """One variable a word used: ``$NAME`` at ``span``.

    ``definition`` is the span of the assignment that gave the value (``TP=8``
    in the script), None when the value came from the environment, a
    ``${X:-default}`` or nowhere. ``origin`` says which: ``script``,
    ``environment``, ``default`` or ``unset``.
    """

    name: str
    span: Span
    definition: Span | None
    origin: str


@record(frozen=True, slots=True)
class Word:
    """One word of a command after expansion.

    ``value`` is the word as the program receives it (None when unresolved);
    ``span`` is where the word is written (for a word spread from an array,
    the array element's own span); ``via`` the span of the expansion that
    brought it into the command (``"${ARGS[@]}"``), None for a word written in
    place. ``conditional`` marks a word appended to an array only under a
    condition (``if …; then ARGS+=(…); fi``): it may be absent. ``chars[i]`` is the one-character span where ``value[i]`` is written
    verbatim, or None (an escape's result, arithmetic, the environment).
    """

    value: str | None
    span: Span
    via: Span | None = None
    chars: tuple[Span | None, ...] = ()
    refs: tuple[Reference, ...] = ()
    unresolved: tuple[str, ...] = ()
    conditional: bool = False

    @property
    def resolved(self) -> bool:
        return self.value is not None

    def raw(self, text: str) -> str:
        """The word as written in ``text`` (the string given to :func:`parse`)."""
        return text[self.span.start:self.span.end]

    def locate(self, start: int = 0, end: int | None = None) -> Span | None:
        """The span where ``value[start:end]`` is written verbatim and contiguously, or None.

        This is the token to edit when the value changes: for ``--tp=8`` the
        ``8`` (``locate(5)``), for ``'8'`` the ``8`` inside the quotes, for
        ``$TP`` the ``8`` of the definition ``TP=8``.
        """
        if self.value is None:
            return None
        end = len(self.value) if end is None else end
        if start >= end or end > len(self.chars):
            return None
        first = self.chars[start]
        if first is None:
            return None
        at = first.end
        for sp in self.chars[start + 1:end]:
            if sp is None or sp.start != at:
                return None
            at = sp.end
        return Span(first.start, at)

    @property
    def definitions(self) -> tuple[Reference, ...]:
        """The references whose value came from an assignment in the script."""
        return tuple(r for r in self.refs if r.definition is not None)


@record(frozen=True, slots=True)
class Command:
    """A simple command: its words after expansion and the assignments before it.

    ``span`` covers the command as written (first to last word, redirections
    included); ``conditional`` is True inside an ``if``/``case``/loop/function
    body (the command may not run); ``assignments`` are the ``NAME=value``
    prefixes (``CUDA_VISIBLE_DEVICES=0 python …``). ``parent`` is the command
    that runs this one as part of a script it is given (``sbatch <<EOF``,
    ``srun bash -c "…"``), None at the top of the script.
    """

    words: tuple[Word, ...]
    span: Span
    assignments: tuple["Variable", ...] = ()
    conditional: bool = False
    parent: "Command | None" = None

    @property
    def name(self) -> str | None:
        return self.words[0].value if self.words else None


@record(frozen=True, slots=True)
class Variable:
    """A shell variable as last assigned before some point of the script."""

    name: str
    value: str | None
    definition: Span | None
    chars: tuple[Span | None, ...] = ()
    refs: tuple[Reference, ...] = ()
    unresolved: tuple[str, ...] = ()
    array: tuple[Word, ...] | None = None
    block: tuple[int, ...] = ()
    origin: str = "script"

    def as_word(self, span: Span, via: Span | None = None) -> Word:
        return Word(self.value, span, via, self.chars, self.refs, self.unresolved)


@record(frozen=True, slots=True)
class Note:
    """Something about the script's text a reader should know (not a parse failure)."""

    span: Span
    message: str


@record(frozen=True, slots=True)
class Heredoc:
    """A here-document: the text a command reads on its standard input (``prog <<EOF … EOF``).

    ``command`` is the command it feeds (None when none is found on its line);
    ``span`` is the body as written, from the line after the ``<<`` to the
    delimiter line. ``lines`` holds each line of the body as the command reads
    it, one :class:`Word` per line whose ``span`` is where the delivered text is
    written: after the leading tabs ``<<-`` strips, without the line break. For
    an unquoted delimiter the line is expanded the way bash expands a heredoc
    (``$NAME``, ``${…}``, ``$((…))`` with this script's variables at that point,
    no word splitting, quotes kept as characters), so ``chars``/``locate``/``refs``
    work as for any word; ``$(cmd)`` or an unset variable leaves it unresolved.
    A quoted delimiter (``<<'EOF'``) delivers each line as written.
    """

    command: Command | None
    delimiter: str
    span: Span
    strip_tabs: bool
    quoted: bool
    lines: tuple[Word, ...] = ()


@record
class Script:
    """The commands of a script in order, the variables at its end, notes, and the heredocs it feeds commands."""

    text: str
    commands: list[Command] = field(default_factory=list)
    variables: dict[str, Variable] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    heredocs: list[Heredoc] = field(default_factory=list)


def parse(text: str, env: Mapping[str, str] | None = None,
          args: Sequence[str] | None = None) -> Script:
    """Read ``text`` as a bash script; ``env`` is the environment, ``args`` are ``$1``, ``$2``, …

    Text it cannot read (an unterminated quote, an operator it does not know)
    becomes a :class:`Note` and the rest is read. The one error it raises is a
    :class:`~deploylint.core.document.sources.SourceError` for a script longer
    than :data:`MAX_SCRIPT_CHARS`, which it does not read at all.
    """
    if len(text) > MAX_SCRIPT_CHARS:
        from .sources import SourceError

        raise SourceError(f"this shell script is {len(text):,} characters long, more than the "
                          f"{MAX_SCRIPT_CHARS:,} deploylint reads (a launch script is a few kilobytes): it is not read")
    return _Parser(text, dict(env or {}), None if args is None else list(args)).run()


def split_words(text: str, env: Mapping[str, str] | None = None) -> list[Word]:
    """All words of all commands of ``text``, in order (for a single command line)."""
    return [w for cmd in parse(text, env).commands for w in cmd.words]


# --------------------------------------------------------------------------- syntax tree of a word
# A word is a list of parts; each part knows its span in the text.


@record(slots=True)
class _Lit:
    text: str  # == source[start:end] (one-to-one)
    start: int
    quoted: bool


@record(slots=True)
class _Esc:
    char: str  # the value character; written at [at, at+1) when verbatim, else at is None
    at: int | None
    quoted: bool


@record(slots=True)
class _Param:
    name: str
    op: str  # "", ":-", "-", ":=", "=", ":+", "+", ":?", "?", "#", "@" (array spread), "[i]"
    arg: list | None
    start: int
    end: int
    quoted: bool
    index: str | None = None
    unsupported: str | None = None


@record(slots=True)
class _Arith:
    parts: list
    start: int
    end: int
    quoted: bool


@record(slots=True)
class _Opaque:
    what: str  # "$(…)", "`…`", "<(…)"
    start: int
    end: int


@record(slots=True)
class _RawWord:
    parts: list
    start: int
    end: int


@record(slots=True)
class _Op:
    op: str
    start: int
    end: int


@record(slots=True)
class _ArrayAssign:
    name: str
    append: bool
    items: list  # of _RawWord
    start: int
    end: int


# --------------------------------------------------------------------------- lexer + evaluator


class _Unresolved(Exception):
    pass


class _Parser:
    def __init__(self, text: str, env: dict[str, str], args: list[str] | None, depth: int = 0) -> None:
        self.text = text
        self.n = len(text)
        self.env = env
        self.args = args
        self.depth = depth
        self.vars: dict[str, Variable] = {}
        self.exported: set[str] = set()
        self.script = Script(text)
        self.blocks: list[tuple[str, int]] = []  # (opener, id)
        self.next_block = 1
        self.heredocs: list[tuple[str, bool, bool, int]] = []   # (delimiter, strip tabs, quoted, offset of <<)
        self.pending_function = False

    # ---- notes

    def note(self, start: int, end: int, message: str) -> None:
        self.script.notes.append(Note(Span(start, max(start, end)), message))

    # ---- top level

    def run(self, i: int = 0) -> Script:
        tokens: list = []
        while True:
            i, tok = self.next_token(i)
            if tok is None:
                break
            tokens.append(tok)
            if isinstance(tok, _Op) and tok.op == "\n":
                self.execute(tokens)
                tokens = []
                if self.heredocs:
                    i = self.skip_heredocs(i)
            elif isinstance(tok, _Op) and tok.op in (";", "&&", "||", "|", "&", ";;", "|&", ";&", ";;&"):
                self.execute(tokens)
                tokens = []
        self.execute(tokens)
        self.script.variables = dict(self.vars)
        return self.script

    def skip_heredocs(self, i: int) -> int:
        """Past the bodies of the heredocs opened on the line just read; a body fed to a program that runs it as
        a script (``sbatch <<EOF``, ``bash <<'EOF'``, ``ssh host <<EOF``) is read as one, where it is written."""
        pending, self.heredocs = self.heredocs, []
        for delim, strip, quoted, at in pending:
            start = body_end = i
            while i < self.n:
                nl = self.text.find("\n", i)
                line_end = self.n if nl < 0 else nl
                line = self.text[i:line_end].rstrip("\r")
                if (line.lstrip("\t") if strip else line) == delim:
                    body_end = i
                    i = self.n if nl < 0 else nl + 1
                    break
                i = body_end = self.n if nl < 0 else nl + 1
            else:
                self.note(start, self.n, f"the heredoc <<{delim} is never closed (no line {delim!r})")
            owner = next((c for c in reversed(self.script.commands) if c.span.start <= at <= c.span.end), None)
            self.script.heredocs.append(Heredoc(owner, delim, Span(start, body_end), strip, quoted,
                                                self.heredoc_lines(start, body_end, strip, quoted)))
            if owner is not None and any(w.value is not None and w.value.rsplit("/", 1)[-1] in _STDIN_SCRIPT
                                         for w in owner.words):
                # an unquoted delimiter: the body is expanded with this script's variables first; a quoted one
                # (<<'EOF') reaches the program as written, which sees only the exported variables
                self.subscript(start, body_end, exported_only=quoted, parent=owner)
        return i

    def heredoc_lines(self, start: int, end: int, strip: bool, quoted: bool) -> tuple[Word, ...]:
        """The lines of the heredoc body ``text[start:end]`` as the program reads them (see :class:`Heredoc`)."""
        text, out = self.text, []
        i = start
        while i < end:
            nl = text.find("\n", i, end)
            line_end = end if nl < 0 else nl
            stop = line_end - 1 if line_end > i and text[line_end - 1] == "\r" else line_end
            first = i
            while strip and first < stop and text[first] == "\t":
                first += 1
            span = Span(first, stop)
            if quoted:
                out.append(Word(text[first:stop], span, None, tuple(Span(k, k + 1) for k in range(first, stop))))
            else:
                parts: list = []
                self.read_double(first, parts, "", "$`\\", stop)     # a heredoc escapes only $ ` and \
                out.append(self.field_to_word(self.expand(parts, split=False)[0], span))
            i = line_end + 1
        return tuple(out)

    def subscript(self, start: int, end: int, *, exported_only: bool, parent: Command) -> None:
        """Read ``text[start:end]`` as a script another shell runs (a heredoc body, a ``bash -c`` string): its
        commands and notes join this script's, at their own offsets; its assignments stay its own."""
        if self.depth >= _MAX_DEPTH:
            self.note(start, end, "scripts nested this deep are not read")
            return
        sub = _Parser(self.text[:end], self.env, None, self.depth + 1)
        sub.vars = {k: v for k, v in self.vars.items() if not exported_only or k in self.exported}
        sub.exported = set(self.exported)
        sub.next_block = self.next_block
        sub.blocks = list(self.blocks) if not exported_only else []
        sub.run(start)
        self.next_block = sub.next_block
        for cmd in sub.script.commands:
            self.script.commands.append(Command(cmd.words, cmd.span, cmd.assignments,
                                                cmd.conditional or parent.conditional, cmd.parent or parent))
        self.script.notes += sub.script.notes
        self.script.heredocs += sub.script.heredocs

    def run_dash_c(self, cmd: Command) -> None:
        """``bash -c STRING`` (also ``sh``, ``-xc``, after ``srun …``): read STRING as the script it is, where it is
        written — a quoted string in place, or the quoted string assigned to the one variable STRING names."""
        words = cmd.words
        for k, w in enumerate(words):
            if w.value is None or w.value.rsplit("/", 1)[-1] not in _SHELLS:
                continue
            j = k + 1
            while j < len(words) and (words[j].value or "").startswith(("-", "+")) and words[j].value != "--":
                flags = words[j].value
                if flags in ("-o", "+o", "-O", "+O"):
                    j += 2
                    continue
                if flags.startswith("-") and "c" in flags[1:] and j + 1 < len(words):
                    self.run_string(words[j + 1], cmd)
                    return
                j += 1
            return

    def run_string(self, word: Word, parent: Command) -> None:
        raw = word.raw(self.text)
        start, end, quote = word.span.start, word.span.end, raw[:1]
        m = _ONE_VARIABLE.match(raw)
        if m:
            var = self.lookup(m.group(2) or m.group(3))
            if var is None or var.definition is None or var.array is not None:
                return
            written = self.text[var.definition.start:var.definition.end]
            name_eq = len(var.name) + 1
            if not written.startswith(var.name + "=") or len(written) < name_eq + 2:
                return
            start, end, quote = var.definition.start + name_eq, var.definition.end, written[name_eq]
            if self.text[end - 1] != quote:
                return
        elif not (len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\""):
            return
        if quote not in "'\"" or self.text[end - 1] != quote:
            return
        # double quotes: this shell expanded the string (with its variables) before the other shell splits it
        self.subscript(start + 1, end - 1, exported_only=quote == "'", parent=parent)

    # ---- tokens

    def next_token(self, i: int):
        text, n = self.text, self.n
        while i < n:
            c = text[i]
            if c in " \t":
                i += 1
            elif c == "\\" and text.startswith("\n", i + 1):
                i = self.continuation(i)
            elif c == "\\" and text.startswith("\r\n", i + 1):
                i = self.continuation(i)
            elif c == "#":
                nl = text.find("\n", i)
                i = n if nl < 0 else nl
            elif c == "\r" and text.startswith("\n", i + 1):
                i += 1
            else:
                break
        if i >= n:
            return i, None
        c = text[i]
        if c == "\n":
            return i + 1, _Op("\n", i, i + 1)
        if text.startswith("&>", i):
            return self.redirect(i + 1, i)
        for op in (";;&", ";;", ";&", "&&", "||", "|&", ";", "&", "|"):
            if text.startswith(op, i):
                return i + len(op), _Op(op, i, i + len(op))
        if c == "(" or c == ")":
            return i + 1, _Op(c, i, i + 1)
        if c in "<>":
            return self.redirect(i, i)
        return self.word_token(i)

    def continuation(self, i: int) -> int:
        """Skip ``\\``-newline at ``i``; note when the next line is a comment (it ends the command)."""
        j = i + 1 + (2 if self.text.startswith("\r\n", i + 1) else 1)
        k = j
        while k < self.n and self.text[k] in " \t":
            k += 1
        if k < self.n and self.text[k] == "#":
            nl = self.text.find("\n", k)
            end = self.n if nl < 0 else nl
            self.note(k, end, "a comment line inside a `\\`-continued command ends the command: "
                              "the lines after it are not passed to it")
        return j

    def redirect(self, i: int, start: int):
        text = self.text
        for op in ("<<<", "<<-", "<<", ">>", "<&", ">&", "<>", ">|", "<", ">"):
            if text.startswith(op, i):
                break
        j = i + len(op)
        if op in ("<", ">") and text.startswith("(", j):
            end = self.match_paren(j + 1)
            return end, _RawWord([_Opaque(op + "(…)", i, end)], start, end)
        while j < self.n and text[j] in " \t":
            j += 1
        target_start = j
        j, target = self.read_word(j)
        if op in ("<<", "<<-"):
            delim = "".join(p.text if isinstance(p, _Lit) else p.char if isinstance(p, _Esc) else ""
                            for p in target)
            quoted = any(getattr(p, "quoted", False) or isinstance(p, _Esc) for p in target)
            self.heredocs.append((delim, op == "<<-", quoted, start))
        return j, _Op("redirect", start, max(j, target_start))

    def word_token(self, i: int):
        start = i
        m = _ASSIGN.match(self.text, i)
        if m and self.text.startswith("(", m.end()):
            return self.array_literal(m, start)
        j, parts = self.read_word(i)
        if j < self.n and self.text[j] in "<>" and parts and all(
                isinstance(p, _Lit) and not p.quoted and p.text.isdigit() for p in parts):
            return self.redirect(j, start)  # 2>file: the digits are the descriptor
        if j < self.n and self.text[j] == ">" and not parts:
            return self.redirect(j, start)
        if j == i:  # a character no rule consumed: keep going
            self.note(i, i + 1, f"unexpected character {self.text[i]!r}")
            return i + 1, _Op("?", i, i + 1)
        return j, _RawWord(parts, start, j)

    def array_literal(self, m: re.Match, start: int):
        name, op = m.group(1), m.group(2)
        i = m.end() + 1
        items: list[_RawWord] = []
        text, n = self.text, self.n
        while True:
            while i < n and text[i] in " \t\r\n":
                i += 1
            if i < n and text[i] == "\\" and text.startswith("\n", i + 1):
                i += 2
                continue
            if i < n and text[i] == "#":
                nl = text.find("\n", i)
                i = n if nl < 0 else nl
                continue
            if i >= n:
                self.note(start, n, f"the array {name}=( … ) is never closed")
                break
            if text[i] == ")":
                i += 1
                break
            j, parts = self.read_word(i)
            if j == i:
                self.note(i, i + 1, f"unexpected character {text[i]!r} in the array {name}")
                i += 1
                continue
            items.append(_RawWord(parts, i, j))
            i = j
        return i, _ArrayAssign(name, op == "+=", items, start, i)

    def skip_quoted(self, i: int, single: bool = True) -> int | None:
        """The offset after an escape or quoted string starting at ``i``; None when none starts there."""
        c = self.text[i]
        if c == "\\":
            return i + 2
        if c == "'" and single:
            end = self.text.find("'", i + 1)
            return self.n if end < 0 else end + 1
        if c == '"':
            return self.read_double(i + 1, [])
        return None

    def match_paren(self, i: int) -> int:
        """Offset after the ``)`` closing a ``(`` just before ``i`` (quotes respected)."""
        depth, text, n = 1, self.text, self.n
        while i < n:
            c = text[i]
            skipped = self.skip_quoted(i)
            if skipped is not None:
                i = skipped
                continue
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return n

    # ---- words

    def read_word(self, i: int, stop: str = _METACHARS) -> tuple[int, list]:
        """Read one word from ``i``; returns (end, parts). Stops at an unquoted metacharacter."""
        text, n = self.text, self.n
        parts: list = []
        while i < n:
            c = text[i]
            if c in stop:
                break
            if c == "\r":
                if text.startswith("\n", i + 1):
                    break       # a CRLF line end: the word ends before the CR, which stays with the line end
                parts.append(_Lit(c, i, False))
                i += 1
                continue
            if c == "\\":
                if text.startswith("\n", i + 1):
                    i += 2
                elif text.startswith("\r\n", i + 1):
                    i += 3
                elif i + 1 < n:
                    if text[i + 1] in " \t":
                        rest = text[i + 2: (text.find("\n", i) + 1 or n + 1) - 1]
                        if not rest.strip():
                            self.note(i, i + 2, "a backslash followed by a space does not continue "
                                                "the line: the next line is a separate command")
                    parts.append(_Esc(text[i + 1], i + 1, False))
                    i += 2
                else:
                    parts.append(_Lit("\\", i, False))
                    i += 1
            elif c == "'":
                end = text.find("'", i + 1)
                if end < 0:
                    self.note(i, n, "this single quote is never closed")
                    end = n
                parts.append(_Lit(text[i + 1:end], i + 1, True))
                parts.append(_Lit("", end, True))  # marks the word as quoted even when empty
                i = min(end + 1, n)
            elif c == '"':
                i = self.read_double(i + 1, parts)
            elif c == "$":
                i = self.read_dollar(i, parts, quoted=False)
            elif c == "`":
                i = self.read_backtick(i, parts)
            else:
                i = self.read_literal(i, stop + "\\'\"$`\r", parts, quoted=False)
        return i, parts

    def read_literal(self, i: int, stops: str, parts: list, quoted: bool, end: int | None = None) -> int:
        """A run of ordinary characters from ``i`` up to one of ``stops`` (or ``end``)."""
        j, end = i + 1, self.n if end is None else end
        while j < end and self.text[j] not in stops:
            j += 1
        parts.append(_Lit(self.text[i:j], i, quoted))
        return j

    def read_backtick(self, i: int, parts: list) -> int:
        end = self.backtick_end(i + 1)
        parts.append(_Opaque("`…`", i, end))
        return end

    def backtick_end(self, i: int) -> int:
        text, n = self.text, self.n
        while i < n:
            if text[i] == "\\":
                i += 2
                continue
            if text[i] == "`":
                return i + 1
            i += 1
        self.note(i, n, "this backquote is never closed")
        return n

    def read_double(self, i: int, parts: list, end_char: str = '"', escapes: str = '$`"\\',
                    end: int | None = None) -> int:
        """Read a double-quoted string's body from ``i`` (after the quote) into ``parts``; with ``end``, the text
        up to ``end`` read the same way (a heredoc line: no closing quote, ``escapes`` the characters a backslash
        quotes)."""
        text, n = self.text, self.n if end is None else end
        start = i - 1
        parts.append(_Lit("", i, True))
        while i < n:
            c = text[i]
            if c == end_char:
                return i + 1
            if c == "\\" and i + 1 < n:
                nxt = text[i + 1]
                if nxt == "\n":
                    i += 2
                elif nxt in escapes:
                    parts.append(_Esc(nxt, i + 1, True))
                    i += 2
                else:
                    parts.append(_Lit("\\", i, True))
                    i += 1
            elif c == "$":
                i = self.read_dollar(i, parts, quoted=True)
            elif c == "`":
                i = self.read_backtick(i, parts)
            else:
                i = self.read_literal(i, "\\$`" + end_char, parts, quoted=True, end=n)
        if end is None:
            self.note(start, n, "this double quote is never closed")
        return n

    def read_ansi_c(self, i: int, parts: list) -> int:
        """``$'…'`` from ``i`` (after the quote)."""
        text, n = self.text, self.n
        simple = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b",
                  "f": "\f", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}
        parts.append(_Lit("", i, True))
        while i < n:
            c = text[i]
            if c == "'":
                return i + 1
            if c == "\\" and i + 1 < n:
                nxt = text[i + 1]
                if nxt in simple:
                    parts.append(_Esc(simple[nxt], i + 1 if simple[nxt] == nxt else None, True))
                    i += 2
                    continue
                m = re.compile(r"x([0-9A-Fa-f]{1,2})|([0-7]{1,3})|u([0-9A-Fa-f]{1,4})|U([0-9A-Fa-f]{1,8})"
                               ).match(text, i + 1)
                if m:
                    code = int(m.group(1) or m.group(3) or m.group(4) or "0", 16) if not m.group(2) \
                        else int(m.group(2), 8)
                    try:
                        parts.append(_Esc(chr(code), None, True))
                    except (ValueError, OverflowError):
                        self.note(i, m.end(), "this escape is not a character")
                    i = m.end()
                    continue
                parts.append(_Lit("\\", i, True))
                i += 1
                continue
            j = i + 1
            while j < n and text[j] not in "\\'":
                j += 1
            parts.append(_Lit(text[i:j], i, True))
            i = j
        self.note(i, n, "this $'…' string is never closed")
        return n

    def read_dollar(self, i: int, parts: list, quoted: bool) -> int:
        text, n = self.text, self.n
        nxt = text[i + 1] if i + 1 < n else ""
        if text.startswith("$((", i):
            end = self.arith_end(i + 3)
            if end is not None:
                inner: list = []
                self.read_inner(i + 3, end - 2, inner)
                parts.append(_Arith(inner, i, end, quoted))
                return end
        if nxt == "(":
            end = self.match_paren(i + 2)
            parts.append(_Opaque("$(…)", i, end))
            return end
        if nxt == "{":
            return self.read_brace(i, parts, quoted)
        if nxt == "'" and not quoted:
            return self.read_ansi_c(i + 2, parts)
        if nxt == '"' and not quoted:
            return self.read_double(i + 2, parts)
        if nxt == "[":
            end = text.find("]", i)
            end = n if end < 0 else end + 1
            parts.append(_Opaque("$[…]", i, end))
            return end
        m = _NAME.match(text, i + 1)
        if m:
            parts.append(_Param(m.group(), "", None, i, m.end(), quoted))
            return m.end()
        if nxt and nxt in _SPECIAL:
            parts.append(_Param(nxt, "", None, i, i + 2, quoted))
            return i + 2
        parts.append(_Lit("$", i, quoted))
        return i + 1

    def arith_end(self, i: int) -> int | None:
        """Offset after the ``))`` closing ``$((`` whose body starts at ``i``."""
        depth, text, n = 0, self.text, self.n
        while i < n:
            c = text[i]
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    return i + 2 if text.startswith("))", i) else None
                depth -= 1
            elif c in "'\"":
                pass
            i += 1
        return None

    def read_inner(self, i: int, end: int, parts: list) -> None:
        """The body of ``$((…))``: expansions and literal text (as in double quotes)."""
        text = self.text
        while i < end:
            c = text[i]
            if c == "$":
                i = self.read_dollar(i, parts, quoted=True)
            elif c == "\\" and text.startswith("\n", i + 1):
                i += 2
            else:
                i = self.read_literal(i, "$\\", parts, True, end)

    def read_brace(self, i: int, parts: list, quoted: bool) -> int:
        """``${…}`` at ``i``."""
        text, n = self.text, self.n
        j = i + 2
        # find the matching close brace, respecting nested ${…} and quotes
        depth, k = 1, j
        while k < n:
            c = text[k]
            skipped = self.skip_quoted(k, single=not quoted)
            if skipped is not None:
                k = skipped
                continue
            if text.startswith("${", k):
                depth += 1
                k += 2
                continue
            if c == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        if k >= n:
            self.note(i, n, "this ${…} is never closed")
            parts.append(_Opaque("${…", i, n))
            return n
        close, end = k, k + 1
        body = text[j:close]
        length = body.startswith("#") and len(body) > 1
        name_at = j + 1 if length else j
        m = _NAME.match(text, name_at, close)
        if m:
            name, after = m.group(), m.end()
        elif name_at < close and text[name_at] in _SPECIAL:
            name, after = text[name_at], name_at + 1
        else:
            parts.append(_Param("", "", None, i, end, quoted, unsupported=text[i:end]))
            return end
        index = None
        if after < close and text[after] == "[":
            rb = text.find("]", after, close)
            if rb < 0:
                parts.append(_Param(name, "", None, i, end, quoted, unsupported=text[i:end]))
                return end
            index = text[after + 1:rb]
            after = rb + 1
        if length:
            if after != close:
                parts.append(_Param(name, "", None, i, end, quoted, unsupported=text[i:end]))
            else:
                parts.append(_Param(name, "#", None, i, end, quoted, index=index))
            return end
        if after == close:
            parts.append(_Param(name, "", None, i, end, quoted, index=index))
            return end
        for op in (":-", ":=", ":+", ":?", "-", "=", "+", "?"):
            if text.startswith(op, after):
                arg: list = []
                a = after + len(op)
                self.read_arg(a, close, arg, quoted)
                parts.append(_Param(name, op, arg, i, end, quoted, index=index))
                return end
        parts.append(_Param(name, "", None, i, end, quoted, index=index, unsupported=text[i:end]))
        return end

    def read_arg(self, i: int, end: int, parts: list, quoted: bool) -> None:
        """The word after ``:-`` in ``${X:-word}`` (quotes and expansions allowed, blanks literal)."""
        text = self.text
        while i < end:
            c = text[i]
            if c == "'" and not quoted:
                e = text.find("'", i + 1, end)
                e = end if e < 0 else e
                parts.append(_Lit(text[i + 1:e], i + 1, True))
                i = min(e + 1, end)
            elif c == '"':
                sub: list = []
                j = self.read_double(i + 1, sub)
                parts.extend(sub)
                i = min(j, end)
            elif c == "$":
                i = self.read_dollar(i, parts, quoted)
            elif c == "\\" and i + 1 < end:
                if text[i + 1] == "\n":
                    i += 2
                else:
                    parts.append(_Esc(text[i + 1], i + 1, quoted))
                    i += 2
            else:
                i = self.read_literal(i, "'\"$\\", parts, quoted, end)

    # ---- evaluation

    def block_path(self) -> tuple[int, ...]:
        return tuple(b for _, b in self.blocks)

    def lookup(self, name: str) -> Variable | None:
        var = self.vars.get(name)
        if var is not None:
            path = self.block_path()
            if var.block != path[:len(var.block)]:
                return Variable(name, None, var.definition, unresolved=(
                    f"{name} (assigned only under a condition or in a function)",), origin="script")
            return var
        if name in self.env:
            value = self.env[name]
            return Variable(name, value, None, (None,) * len(value), origin="environment")
        return None

    def expand(self, parts: list, *, split: bool = True) -> list[dict]:
        """Expand a word's parts into fields (one per resulting word).

        A field is a dict: ``chars`` [(char, span | None, splittable)], ``refs``,
        ``unresolved``, and ``whole``/``via`` when the field is exactly one
        array element spread by ``${A[@]}`` (so that it keeps its own span).
        """
        fields: list[dict] = [self.new_field()]
        for part in parts:
            cur = fields[-1]
            if isinstance(part, _Param) and part.op == "" and part.index in ("@", "*") \
                    and part.unsupported is None:
                self.spread(part, fields)
                continue
            self.flatten(cur)
            if isinstance(part, _Lit):
                cur["keep"] |= part.quoted
                cur["chars"].extend((ch, Span(part.start + k, part.start + k + 1), False)
                                    for k, ch in enumerate(part.text))
            elif isinstance(part, _Esc):
                cur["keep"] |= part.quoted
                cur["chars"].append((part.char, None if part.at is None else Span(part.at, part.at + 1), False))
            elif isinstance(part, _Opaque):
                cur["unresolved"].append(part.what)
            elif isinstance(part, _Arith):
                self.expand_arith(part, cur, split and not part.quoted)
            elif isinstance(part, _Param):
                self.expand_param(part, cur, split and not part.quoted)
        if not split:
            for f in fields:
                self.flatten(f)
            return fields[:1] if len(fields) == 1 else [self.join(fields)]
        out = [g for f in fields for g in self.field_split(f)]
        return [f for f in out if f["chars"] or f["unresolved"] or f["whole"] is not None
                or (f["keep"] and not f["empty_spread"])]

    @staticmethod
    def new_field() -> dict:
        return {"chars": [], "refs": [], "unresolved": [], "whole": None, "via": None,
                "keep": False, "empty_spread": False, "split": False, "conditional": False}

    def join(self, fields: list[dict]) -> dict:
        """Fields joined by spaces (an array spread where one word is expected)."""
        out = self.new_field()
        for k, f in enumerate(fields):
            self.flatten(f)
            if k:
                out["chars"].append((" ", None, False))
            out["chars"].extend(f["chars"])
            out["refs"].extend(f["refs"])
            out["unresolved"].extend(f["unresolved"])
        return out

    def flatten(self, f: dict) -> None:
        """Turn a field holding one whole spread word into plain characters (text follows it)."""
        w = f["whole"]
        if w is not None:
            f["whole"] = None
            self.append_word(w, f, splittable=False)

    def field_split(self, f: dict) -> list[dict]:
        if f["whole"] is not None or not any(s for _, _, s in f["chars"]):
            return [f]
        pieces: list[list] = []
        cur: list = []
        for item in f["chars"]:
            if item[2] and item[0] in " \t\n":
                if cur:
                    pieces.append(cur)
                cur = []
            else:
                cur.append(item)
        if cur:
            pieces.append(cur)
        result = []
        for chars in pieces:
            g = self.new_field()
            g["chars"], g["refs"], g["unresolved"] = chars, f["refs"], f["unresolved"]
            g["split"], g["conditional"] = len(pieces) > 1, f.get("conditional", False)
            result.append(g)
        if not pieces and f["unresolved"]:
            return [f]
        return result

    def spread(self, part: _Param, fields: list[dict]) -> None:
        ref_span = Span(part.start, part.end)
        var = self.lookup(part.name)
        cur = fields[-1]
        if var is None:
            self.flatten(cur)
            cur["unresolved"].append(f"{part.name} (not set)")
            cur["refs"].append(Reference(part.name, ref_span, None, "unset"))
            return
        if var.array is None:  # "${X[@]}" of a scalar is the scalar itself
            self.flatten(cur)
            self.append_var(var, cur, ref_span, splittable=not part.quoted)
            return
        ref = Reference(part.name, ref_span, var.definition, var.origin)
        cur["refs"].append(ref)
        elements = list(var.array)
        if not elements:
            cur["empty_spread"] = not (cur["chars"] or cur["unresolved"])
            return
        if part.quoted and part.index == "*":
            self.flatten(cur)
            for k, w in enumerate(elements):
                if k:
                    cur["chars"].append((" ", None, False))
                self.append_word(w, cur, splittable=False)
            return
        for k, w in enumerate(elements):
            if k:
                cur = self.new_field()
                cur["refs"].append(ref)
                fields.append(cur)
            self.flatten(cur)
            needs_split = not part.quoted and w.value is not None and any(c in w.value for c in " \t\n")
            if cur["chars"] or cur["unresolved"] or needs_split:
                self.append_word(w, cur, splittable=needs_split)
            else:
                cur["whole"], cur["via"] = w, ref_span

    @staticmethod
    def append_word(w: Word, cur: dict, splittable: bool) -> None:
        cur["conditional"] = cur.get("conditional", False) or w.conditional
        if w.value is None:
            cur["unresolved"].extend(w.unresolved)
        else:
            cur["chars"].extend((ch, sp, splittable) for ch, sp in zip(w.value, w.chars))
        cur["refs"].extend(w.refs)

    def append_var(self, var: Variable, cur: dict, ref_span: Span, splittable: bool) -> None:
        cur["refs"].append(Reference(var.name, ref_span, var.definition, var.origin))
        cur["refs"].extend(var.refs)
        if var.value is None:
            cur["unresolved"].extend(var.unresolved or (f"{var.name} (not set)",))
            return
        chars = var.chars if len(var.chars) == len(var.value) else (None,) * len(var.value)
        cur["chars"].extend((ch, sp, splittable) for ch, sp in zip(var.value, chars))

    def expand_param(self, part: _Param, cur: dict, splittable: bool) -> None:
        ref_span = Span(part.start, part.end)
        if part.unsupported is not None:
            cur["unresolved"].append(part.unsupported)
            return
        name = part.name
        if name in "@*#?$!-" or name.isdigit():
            if name.isdigit() and name != "0" and self.args is not None:
                k = int(name) - 1
                if 0 <= k < len(self.args):
                    value = self.args[k]
                    cur["chars"].extend((ch, None, splittable) for ch in value)
                    return
            if name == "#" and self.args is not None:
                cur["chars"].extend((ch, None, False) for ch in str(len(self.args)))
                return
            if part.op in (":-", "-") and part.arg is not None and name.isdigit() and self.args is not None:
                self.use_default(part, cur, splittable, ref_span)
                return
            cur["unresolved"].append(f"${name}" if part.op == "" else self.text[part.start:part.end])
            return
        var = self.lookup(name)
        if var is not None and part.index not in (None, "@", "*") and part.op != "#":
            var = self.index_array(var, part.index)
        if part.op == "#":
            if var is None or var.value is None and var.array is None:
                cur["unresolved"].append(f"{name} (not set)")
                return
            n = len(var.array) if var.array is not None and part.index in ("@", "*") else len(var.value or "")
            cur["refs"].append(Reference(name, ref_span, var.definition, var.origin))
            cur["chars"].extend((ch, None, False) for ch in str(n))
            return
        if var is not None and var.array is not None and part.index is None:
            var = self.index_array(var, "0")
        is_set = var is not None and (var.value is not None or bool(var.unresolved))
        if part.op in ("", ):
            if var is None:
                cur["unresolved"].append(f"{name} (not set)")
                cur["refs"].append(Reference(name, ref_span, None, "unset"))
                return
            self.append_var(var, cur, ref_span, splittable)
            return
        null = var is not None and var.value == ""
        unknown = var is not None and var.value is None
        use_arg_if_set = part.op in (":+", "+")
        colon = part.op.startswith(":")
        if part.op in (":?", "?"):
            if var is None or (colon and null):
                cur["unresolved"].append(f"{name} (not set; the script stops here)")
                return
            self.append_var(var, cur, ref_span, splittable)
            return
        if unknown:
            # whether the default applies depends on the unknown value
            cur["unresolved"].extend(var.unresolved)
            cur["refs"].append(Reference(name, ref_span, var.definition, var.origin))
            return
        take_arg = (is_set and not (colon and null)) if use_arg_if_set else (not is_set or (colon and null))
        if not take_arg:
            if use_arg_if_set:
                cur["refs"].append(Reference(name, ref_span, var.definition if var else None,
                                             var.origin if var else "unset"))
                return
            self.append_var(var, cur, ref_span, splittable)
            return
        self.use_default(part, cur, splittable, ref_span)
        if part.op in (":=", "="):
            word = self.field_to_word(self.expand(part.arg or [], split=False)[0], ref_span)
            self.vars[name] = Variable(name, word.value, Span(part.start, part.end), word.chars, word.refs,
                                       word.unresolved, block=self.block_path())

    def use_default(self, part: _Param, cur: dict, splittable: bool, ref_span: Span) -> None:
        sub = self.expand(part.arg or [], split=False)[0]
        cur["refs"].append(Reference(part.name, ref_span, None, "default"))
        cur["refs"].extend(sub["refs"])
        cur["unresolved"].extend(sub["unresolved"])
        cur["chars"].extend((ch, sp, splittable) for ch, sp, _ in sub["chars"])

    def index_array(self, var: Variable, index: str) -> Variable:
        elements = var.array if var.array is not None else (var.as_word(var.definition or Span(0, 0)),)
        try:
            k = self.arith_value(index, [])
        except _Unresolved as exc:
            return Variable(var.name, None, var.definition, unresolved=(str(exc),))
        if 0 <= k < len(elements):
            w = elements[k]
            return Variable(var.name, w.value, var.definition, w.chars, w.refs, w.unresolved, origin=var.origin)
        return Variable(var.name, "", var.definition, origin=var.origin)

    def expand_arith(self, part: _Arith, cur: dict, splittable: bool) -> None:
        sub = self.expand(part.parts, split=False)[0]
        cur["refs"].extend(sub["refs"])
        if sub["unresolved"]:
            cur["unresolved"].extend(sub["unresolved"])
            return
        expr = "".join(ch for ch, _, _ in sub["chars"])
        spans = [sp for _, sp, _ in sub["chars"]]
        refs: list = []
        try:
            value = self.arith_value(expr, refs, spans=spans, fallback=Span(part.start, part.end))
        except _Unresolved as exc:
            cur["unresolved"].append(str(exc))
            return
        finally:
            cur["refs"].extend(refs)
        cur["chars"].extend((ch, None, splittable) for ch in str(value))

    def arith_value(self, expr: str, refs: list, depth: int = 0, spans: list | None = None,
                    fallback: Span | None = None) -> int:
        if depth > 20:
            raise _Unresolved(f"$(({expr})) (recursive)")
        return _ArithEval(expr, self, refs, depth, spans, fallback).run()

    def field_to_word(self, f: dict, span: Span, via: Span | None = None) -> Word:
        unresolved = tuple(dict.fromkeys(f["unresolved"]))
        refs = tuple(f["refs"])
        conditional = f.get("conditional", False)
        if unresolved:
            return Word(None, span, via, (), refs, unresolved, conditional)
        value = "".join(ch for ch, _, _ in f["chars"])
        return Word(value, span, via, tuple(sp for _, sp, _ in f["chars"]), refs, (), conditional)

    def words_of(self, raw: _RawWord) -> list[Word]:
        span = Span(raw.start, raw.end)
        out: list[Word] = []
        for f in self.expand(raw.parts):
            w = f["whole"]
            if w is not None:
                out.append(Word(w.value, w.span, f["via"], w.chars, tuple(f["refs"]) + w.refs, w.unresolved,
                                w.conditional))
                continue
            word = self.field_to_word(f, span)
            if f["split"]:
                # one of several words an unquoted expansion split into: its own text when known
                own = word.locate()
                word = Word(word.value, own or span, span, word.chars, word.refs, word.unresolved, word.conditional)
            out.append(word)
        return out

    # ---- statements

    def execute(self, tokens: list) -> None:
        words: list = []
        k = 0
        while k < len(tokens):
            tok = tokens[k]
            k += 1
            if isinstance(tok, _Op) and tok.op == "(":
                if words and k < len(tokens) and isinstance(tokens[k], _Op) and tokens[k].op == ")":
                    self.pending_function = True  # name() { … }: the body may never run
                    words, k = [], k + 1
                elif not words:
                    self.open_block("(")
                continue
            if isinstance(tok, _Op) and tok.op == ")":
                if self.blocks and self.blocks[-1][0] == "case":
                    words = []  # a case pattern
                    self.branch()
                    continue
                if words:
                    self.run_simple(words)
                    words = []
                self.close_block(")")
                continue
            if isinstance(tok, _Op) and tok.op in (";;", ";&", ";;&"):
                if words:
                    self.run_simple(words)
                    words = []
                self.branch()
                continue
            if isinstance(tok, (_RawWord, _ArrayAssign)) or (isinstance(tok, _Op) and tok.op == "redirect"):
                words.append(tok)
        if words:
            self.run_simple(words)

    def open_block(self, kind: str) -> None:
        self.blocks.append((kind, self.next_block))
        self.next_block += 1

    def close_block(self, closer: str) -> None:
        openers = _CLOSERS[closer]
        for k in range(len(self.blocks) - 1, -1, -1):
            if self.blocks[k][0] in openers:
                del self.blocks[k:]
                return

    def branch(self) -> None:
        if self.blocks:
            kind, _ = self.blocks.pop()
            self.open_block(kind)

    @staticmethod
    def literal(tok) -> str | None:
        if not isinstance(tok, _RawWord):
            return None
        if all(isinstance(p, _Lit) and not p.quoted for p in tok.parts):
            return "".join(p.text for p in tok.parts)
        return None

    def run_simple(self, toks: list) -> None:
        # reserved words at the start of a command
        while toks:
            word = self.literal(toks[0])
            if word is None:
                break
            if word in ("if", "while", "until", "select"):
                self.open_block(word)
                toks = toks[1:]
            elif word in ("for", "case"):
                self.open_block(word)
                return  # the loop/case header assigns nothing that can be known
            elif word == "{":
                self.open_block("function" if self.pending_function else "{")
                self.pending_function = False
                toks = toks[1:]
            elif word in _CLOSERS:
                self.close_block(word)
                toks = toks[1:]
            elif word in ("else", "elif"):
                self.branch()
                toks = toks[1:]
            elif word in _PREFIX_WORDS:
                toks = toks[1:]
            elif word == "function":
                self.pending_function = True
                toks = toks[2:]
            else:
                break
        if not toks:
            return
        if self.pending_function:  # a function whose body is not a { … } group: not read
            self.pending_function = False
        assignments: list[Variable] = []
        k = 0
        while k < len(toks):
            tok = toks[k]
            if isinstance(tok, _ArrayAssign):
                assignments.append(self.array_value(tok))
                k += 1
                continue
            if isinstance(tok, _RawWord):
                var = self.scalar_assignment(tok)
                if var is not None:
                    assignments.append(var)
                    k += 1
                    continue
            break
        rest = toks[k:]
        start = toks[0].start
        end = toks[-1].end
        words: list[Word] = []
        declarer = None
        for tok in rest:
            if isinstance(tok, _Op):
                continue  # a redirection
            if isinstance(tok, _ArrayAssign):
                if declarer:
                    self.assign(self.array_value(tok))
                continue
            if declarer and isinstance(tok, _RawWord):
                var = self.scalar_assignment(tok)
                if var is not None:
                    words.extend(self.words_of(tok))
                    self.assign(var)
                    continue
            new = self.words_of(tok)
            if not words and new and new[0].value in _DECLARERS:
                declarer = new[0].value
            if not words and new and new[0].value == "unset":
                for t in rest[1:]:
                    name = self.literal(t)
                    if name:
                        self.vars.pop(name, None)
            words.extend(new)
        if not words:
            for var in assignments:
                self.assign(var)
        if declarer == "export":
            self.exported.update(w.value.partition("=")[0] for w in words[1:] if w.value)
        command = Command(tuple(words), Span(start, end), tuple(assignments), bool(self.blocks))
        self.script.commands.append(command)
        self.run_dash_c(command)

    def assign(self, var: Variable) -> None:
        self.vars[var.name] = var

    def scalar_assignment(self, tok: _RawWord) -> Variable | None:
        first = tok.parts[0] if tok.parts else None
        if not isinstance(first, _Lit) or first.quoted:
            return None
        m = _ASSIGN.match(first.text)
        if not m:
            return None
        name, op = m.group(1), m.group(2)
        cut = m.end()
        value_parts = []
        if cut < len(first.text):
            value_parts.append(_Lit(first.text[cut:], first.start + cut, False))
        value_parts.extend(tok.parts[1:])
        f = self.expand(value_parts, split=False)[0] if value_parts else self.new_field()
        word = self.field_to_word(f, Span(first.start + cut, tok.end))
        value, chars, unresolved, refs = word.value, word.chars, word.unresolved, word.refs
        if op == "+=":
            old = self.lookup(name)
            if old is not None and old.array is not None:
                elems = old.array + (word,)
                return Variable(name, None, Span(tok.start, tok.end), array=elems, block=self.block_path())
            if old is not None and value is not None:
                if old.value is None:
                    value, unresolved = None, old.unresolved
                else:
                    value = old.value + value
                    oc = old.chars if len(old.chars) == len(old.value) else (None,) * len(old.value)
                    chars = oc + chars
                refs = old.refs + refs
        return Variable(name, value, Span(tok.start, tok.end), chars, refs, unresolved,
                        block=self.block_path())

    def array_value(self, tok: _ArrayAssign) -> Variable:
        items = tok.items
        append = tok.append
        if not append and items and self.text[items[0].start:items[0].end] in (
                f'"${{{tok.name}[@]}}"', f"${{{tok.name}[@]}}"):
            append, items = True, items[1:]      # NAME=( "${NAME[@]}" more … ) appends, as NAME+=( more … )
        words: list[Word] = []
        for item in items:
            words.extend(self.words_of(item))
        block = self.block_path()
        if append:
            old = self.lookup(tok.name)
            base: list[Word] = []
            if old is not None and old.array is not None:
                base = list(old.array)
            elif old is not None and old.value is not None:
                base = [old.as_word(old.definition or Span(tok.start, tok.start))]
            if old is not None and old.origin == "script" and old.block != block:
                # appended under a condition: the words before stay certain, the new ones may be absent
                words = [Word(w.value, w.span, w.via, w.chars, w.refs, w.unresolved, True) for w in words]
                block = self.vars[tok.name].block if tok.name in self.vars else block
            words = base + words
            if old is not None and old.array is not None and old.definition is not None:
                # the array is still the one written there (its first words, which findings point into)
                return Variable(tok.name, None, old.definition, array=tuple(words), block=block)
        return Variable(tok.name, None, Span(tok.start, tok.end), array=tuple(words), block=block)


class _ArithEval:
    """Integer arithmetic of ``$((…))`` with bash's precedence; variables by bare name."""

    _TOKEN = re.compile(r"\s*(?:(0[xX][0-9A-Fa-f]+|\d+#[0-9A-Za-z@_]+|\d+)|([A-Za-z_][A-Za-z0-9_]*)"
                        r"|(\*\*|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%()<>!~&|^?:,]))")

    def __init__(self, expr: str, parser: _Parser, refs: list, depth: int,
                 spans: list | None, fallback: Span | None) -> None:
        self.expr = expr
        self.spans = spans
        self.fallback = fallback or Span(0, 0)
        self.parser = parser
        self.refs = refs
        self.depth = depth
        self.tokens: list[tuple[str, str]] = []
        self.name_spans: list[Span] = []
        if "=" in expr.replace("==", "").replace("!=", "").replace("<=", "").replace(">=", ""):
            raise _Unresolved(f"$(({expr.strip()})) (assigns inside arithmetic)")
        pos = 0
        for m in self._TOKEN.finditer(expr):
            if m.start() != pos and expr[pos:m.start()].strip():
                raise _Unresolved(f"$(({expr})) (not integer arithmetic)")
            pos = m.end()
            if m.group(1):
                self.tokens.append(("num", m.group(1)))
            elif m.group(2):
                self.tokens.append(("name", m.group(2)))
                self.name_spans.append(self.span_of(m.start(2), m.end(2)))
            else:
                self.tokens.append(("op", m.group(3)))
        if expr[pos:].strip():
            raise _Unresolved(f"$(({expr})) (not integer arithmetic)")
        self.k = 0

    def span_of(self, a: int, b: int) -> Span:
        if self.spans and b <= len(self.spans):
            first, last = self.spans[a], self.spans[b - 1]
            if first is not None and last is not None and last.end - first.start == b - a:
                return Span(first.start, last.end)
        return self.fallback

    def fail(self, why: str = "not integer arithmetic"):
        raise _Unresolved(f"$(({self.expr.strip()})) ({why})")

    def run(self) -> int:
        if not self.tokens:
            return 0
        value = self.comma()
        if self.k != len(self.tokens):
            self.fail()
        return value

    def peek(self) -> str | None:
        return self.tokens[self.k][1] if self.k < len(self.tokens) and self.tokens[self.k][0] == "op" else None

    def take(self, op: str) -> bool:
        if self.peek() == op:
            self.k += 1
            return True
        return False

    def comma(self) -> int:
        v = self.ternary()
        while self.take(","):
            v = self.ternary()
        return v

    def ternary(self) -> int:
        cond = self.binary(0)
        if self.take("?"):
            a = self.comma()
            if not self.take(":"):
                self.fail()
            b = self.ternary()
            return a if cond else b
        return cond

    _LEVELS = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", "<=", ">", ">="),
               ("<<", ">>"), ("+", "-"), ("*", "/", "%")]

    def binary(self, level: int) -> int:
        if level == len(self._LEVELS):
            return self.power()
        v = self.binary(level + 1)
        while self.peek() in self._LEVELS[level]:
            op = self.tokens[self.k][1]
            self.k += 1
            w = self.binary(level + 1)
            v = self.apply(op, v, w)
        return v

    def apply(self, op: str, a: int, b: int) -> int:
        if op in ("/", "%"):
            if b == 0:
                self.fail("division by zero")
            q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
            return q if op == "/" else a - q * b
        if op in ("<<", ">>") and not 0 <= b < 64:
            self.fail("shift out of range")
        return {
            "||": lambda: int(bool(a) or bool(b)), "&&": lambda: int(bool(a) and bool(b)),
            "|": lambda: a | b, "^": lambda: a ^ b, "&": lambda: a & b,
            "==": lambda: int(a == b), "!=": lambda: int(a != b), "<": lambda: int(a < b),
            "<=": lambda: int(a <= b), ">": lambda: int(a > b), ">=": lambda: int(a >= b),
            "<<": lambda: a << b, ">>": lambda: a >> b, "+": lambda: a + b, "-": lambda: a - b,
            "*": lambda: a * b,
        }[op]()

    def power(self) -> int:
        base = self.unary()
        if self.take("**"):
            exp = self.power()
            if exp < 0 or exp > 4096:
                self.fail("exponent out of range")
            return base ** exp
        return base

    def unary(self) -> int:
        for op, fn in (("-", lambda v: -v), ("+", lambda v: v), ("!", lambda v: int(not v)), ("~", lambda v: ~v)):
            if self.take(op):
                return fn(self.unary())
        return self.atom()

    def atom(self) -> int:
        if self.take("("):
            v = self.comma()
            if not self.take(")"):
                self.fail()
            return v
        if self.k >= len(self.tokens):
            self.fail()
        kind, tok = self.tokens[self.k]
        self.k += 1
        if kind == "num":
            return self.number(tok)
        if kind == "name":
            at = sum(1 for kind_, _ in self.tokens[:self.k - 1] if kind_ == "name")
            span = self.name_spans[at] if at < len(self.name_spans) else self.fallback
            var = self.parser.lookup(tok)
            if var is None:
                self.refs.append(Reference(tok, span, None, "unset"))
                raise _Unresolved(f"{tok} (not set)")
            self.refs.append(Reference(tok, span, var.definition, var.origin))
            self.refs.extend(var.refs)
            if var.value is None:
                raise _Unresolved(", ".join(var.unresolved) or f"{tok} (not known)")
            text = var.value.strip()
            if not text:
                return 0
            return self.parser.arith_value(text, self.refs, self.depth + 1)
        self.fail()
        return 0

    def number(self, tok: str) -> int:
        try:
            if "#" in tok:
                base, digits = tok.split("#", 1)
                return int(digits, int(base))
            if tok.lower().startswith("0x"):
                return int(tok, 16)
            if len(tok) > 1 and tok.startswith("0"):
                return int(tok, 8)
            return int(tok)
        except ValueError:
            self.fail(f"{tok} is not a number")
            return 0


