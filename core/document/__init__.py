"""A loaded plan file: its values, the text they came from, and where each one sits.

Every loader (TOML, YAML, JSON, Python, or a plugin's) produces a
:class:`Document`. Spans are code-point offsets into ``text``, which is the file
decoded as UTF-8 with any BOM removed and its line endings kept as they are
(``\\r\\n`` stays two characters, so offsets match the bytes on disk after
decoding). :class:`LineIndex` turns offsets into 1-based line/column ranges and
into the 0-based UTF-16 positions editors use.
"""

from __future__ import annotations

import bisect
import re
from array import array
from itertools import accumulate
from typing import Any

from ..records import record, field
from . import pointer as jp
from ..diagnostics import Position, Range


_BREAK = re.compile(r"\r\n|\r|\n")

#: items of one list that get a span of their own; a finding about a later item points at the list
#: (no plan value is that long, and a span per item of a million-item list would cost more than the check)
MAX_ITEM_SPANS = 10_000


@record(frozen=True, slots=True)
class Span:
    """Half-open code-point offsets ``[start, end)`` into the document text."""

    start: int
    end: int


@record(frozen=True, slots=True)
class NodeSpan:
    """Where one plan value sits: the value itself and, for a mapping entry, its key."""

    value: Span
    key: Span | None = None


@record(frozen=True, slots=True)
class Derived:
    """A plan value a source file states as a multiple of layout degrees: ``factor × Π degrees``.

    For a value the framework computes from the data-parallel size, which an
    adapter may not know when it reads the file (TorchTitan's
    ``global_batch_size = -1`` is ``local_batch_size × dp``; Megatron-LM's
    default global batch is ``micro × dp``; DeepSpeed's missing
    ``train_batch_size`` is ``micro × gradient accumulation × dp``). Put it in
    ``Document.derived[pointer]``: once the device count is settled (the file,
    ``--num-devices``, the configuration), the engine's fill step computes the
    value, each degree being the plan's (``dp`` written, else derived from the
    device count as ``[parallelism] dp`` is; any other degree unwritten is 1),
    and reports it as an info (DL010) with ``origin`` and the figures. A value
    the plan already holds (``[tool.deploylint.workload]`` included) is kept;
    without a device count a ``dp`` the file does not write is unknown, and an
    info says the value is not known.

    ``factor``: the part the file states (a positive int); ``degrees``: plan
    ``[parallelism]`` keys multiplied in; ``origin``: the framework's rule in
    the file's terms (``"global_batch_size -1 is local_batch_size × dp"``).
    """

    factor: int
    degrees: tuple[str, ...] = ("dp",)
    origin: str = ""


class _LfStarts:
    """The start offset of every line of a text without ``\\r``, found lazily, 64 KiB at a time.

    Counting breaks is done by ``str.count`` per block (C speed, the whole text
    in one pass); the start offsets inside a block are listed only when a line
    of that block is asked for. Ten million blank lines cost a few milliseconds
    unless someone asks for all of them.
    """

    __slots__ = ("text", "_before", "_blocks", "_len")
    BLOCK = 1 << 16

    def __init__(self, text: str) -> None:
        self.text = text
        b = self.BLOCK
        before = array("q", [0])
        count = text.count
        for k in range(0, len(text), b):
            before.append(before[-1] + count("\n", k, k + b))
        self._before = before          # breaks before each block start (and in total, last)
        self._blocks: dict[int, array] = {}
        self._len = before[-1] + 1

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, line: int) -> int:
        """Offset of 0-based ``line``: just after the ``line``-th break."""
        if line < 0:
            line += self._len
        if not 0 <= line < self._len:
            raise IndexError(line)
        if line == 0:
            return 0
        k = bisect.bisect_left(self._before, line) - 1
        return self._block(k)[line - self._before[k] - 1]

    def _block(self, k: int) -> array:
        starts = self._blocks.get(k)
        if starts is None:
            from itertools import accumulate

            b = self.BLOCK
            parts = self.text[k * b:(k + 1) * b].split("\n")[:-1]   # the last part does not end with a break
            starts = self._blocks[k] = array("q", accumulate(map((1).__add__, map(len, parts)), initial=k * b))[1:]
        return starts

    def line_of(self, offset: int) -> int:
        """0-based line holding ``offset``."""
        k = offset // self.BLOCK
        return self._before[k] + self.text.count("\n", k * self.BLOCK, offset)


class LineIndex:
    """Offset ↔ (line, column) for one text, treating ``\\r\\n``, ``\\n`` and ``\\r`` as one break."""

    __slots__ = ("text", "_starts")

    def __init__(self, text: str) -> None:
        self.text = text
        if "\r" not in text:
            if len(text) <= _LfStarts.BLOCK:
                # a text of one block (every plan file): its line starts at once, found by bisection
                starts = array("q", [0])
                starts.extend(accumulate(map((1).__add__, map(len, text.split("\n")[:-1]))))
                self._starts: _LfStarts | array = starts
            else:
                self._starts = _LfStarts(text)
        else:
            # One pass over the text (a per-line search for the other break character would rescan
            # the rest of the file on every line); machine integers keep millions of lines small.
            starts = array("q", [0])
            starts.extend(m.end() for m in _BREAK.finditer(text))
            self._starts = starts

    def _line_of(self, offset: int) -> int:
        if isinstance(self._starts, _LfStarts):
            return self._starts.line_of(offset)
        return bisect.bisect_right(self._starts, offset) - 1

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def line_start(self, line: int) -> int:
        """Offset of the first character of 1-based ``line``."""
        return self._starts[max(0, min(line - 1, len(self._starts) - 1))]

    def line_text(self, line: int) -> str:
        """The text of 1-based ``line`` without its line break."""
        start = self.line_start(line)
        end = self._starts[line] if line < len(self._starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def position(self, offset: int) -> Position:
        offset = max(0, min(offset, len(self.text)))
        line = self._line_of(offset)
        return Position(line + 1, offset - self._starts[line] + 1)

    def offset(self, position: Position) -> int:
        start = self.line_start(position.line)
        return min(start + position.column - 1, len(self.text))

    def range(self, span: Span) -> Range:
        return Range(self.position(span.start), self.position(span.end))

    # Editors count columns in UTF-16 code units (LSP's default encoding).
    def utf16_position(self, offset: int) -> tuple[int, int]:
        """0-based (line, UTF-16 character) of an offset."""
        pos = self.position(offset)
        start = self._starts[pos.line - 1]
        prefix = self.text[start:start + pos.column - 1]
        return pos.line - 1, len(prefix.encode("utf-16-le")) // 2

    def offset_from_utf16(self, line: int, character: int) -> int:
        """Offset of a 0-based (line, UTF-16 character) position."""
        if line >= len(self._starts):
            return len(self.text)
        start = self._starts[line]
        text = self.line_text(line + 1)
        units = 0
        for i, ch in enumerate(text):
            if units >= character:
                return start + i
            units += 2 if ord(ch) > 0xFFFF else 1
        return start + len(text)


@record
class Document:
    """A parsed plan: ``data`` (plain dicts, lists and scalars) and its source map.

    ``spans`` maps JSON pointers (``/parallelism/ep``) to :class:`NodeSpan`.
    ``format`` names the writer that renders fixes (``toml``, ``yaml``,
    ``json``, ``python``). ``newline`` is the file's dominant line ending and
    ``bom`` whether a UTF-8 byte-order mark preceded the text. ``layout`` is
    what the loader learnt about how the text is written beyond spans (the
    TOML loader's tables), kept so the format's writer need not parse again.

    Source adapters (a ``deploylint_source`` plugin reading a file that is not
    a plan, e.g. a ``vllm serve`` command in a Kubernetes manifest) also set:

    ``writer``
        the object that turns value-level fixes into text of the original
        file (``apply(document, change) -> new text``, and
        ``reload(document, text) -> Document`` to read the result again);
        :class:`~deploylint.core.SpanWriter` is a ready-made one. Without a
        writer, the built-in writer of ``format`` is used.
    ``label``
        which plan of the file this is, when a file holds several (``"decode"``,
        ``"LeaderWorkerSet vllm, container vllm-leader"``); shown in findings.
    ``related``
        pointer → tuple of :class:`~deploylint.core.Related` (offsets set): places
        that explain a value, e.g. where ``$TP_SIZE`` is set. Attached to every
        finding about that pointer.
    ``origins``
        pointer → a sentence saying where a value the file does not state came
        from (``"8 GPUs: nvidia.com/gpu limit 8 × LeaderWorkerSet size 2 at line 30"``);
        each is reported as an info (DL010).
    ``partial``
        True for an adapter's plan: the engine fills what it lacks (accelerator,
        device count, workload) from the command line and the configuration,
        and runs only the rules whose inputs are known.
    ``engine``
        the source's own options as it wrote them (``{"tp_size": 16, "enable_dp_attention": True}``), for
        the adapter's own rules (an engine's start-up checks in its own terms); not plan data.
    ``startup``
        the :class:`~deploylint.core.StartupProfile` of the engine the plan is for: how that engine
        judges the conditions the generic rules check (KV heads replicated over tp, experts that do not
        divide by ep, …), so a finding is an error quoting the engine when it refuses to start and keeps
        its severity, saying so, when the engine accepts the layout. Without one, the profile of a
        built-in engine named by ``[serving] engine`` / ``[training] framework`` applies.
    ``derived``
        pointer → :class:`Derived`: a value the framework computes from layout
        degrees the file may not settle (a global batch of local batch × dp),
        computed by the engine once the device count is known.
    ``skipped``
        sentences naming what the adapter could not read (an unknown flag, an
        unresolved variable), each reported as an info (DL010); every check that
        does not depend on it still runs.
    """

    path: str
    text: str
    format: str
    data: Any
    spans: dict[str, NodeSpan] = field(default_factory=dict)
    newline: str = "\n"
    bom: bool = False
    _index: LineIndex | None = field(default=None, repr=False, compare=False)
    writer: Any = field(default=None, repr=False, compare=False)
    label: str | None = None
    related: dict[str, tuple] = field(default_factory=dict, repr=False, compare=False)
    origins: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    partial: bool = False
    skipped: list = field(default_factory=list, repr=False, compare=False)
    engine: dict = field(default_factory=dict, repr=False, compare=False)
    derived: dict = field(default_factory=dict, repr=False, compare=False)
    startup: Any = field(default=None, repr=False, compare=False)
    layout: Any = field(default=None, repr=False, compare=False)

    @property
    def lines(self) -> LineIndex:
        if self._index is None:
            self._index = LineIndex(self.text)
        return self._index

    def span(self, pointer: str, part: str = "value") -> tuple[str, Span] | None:
        """The span of ``pointer`` (``part`` = ``value`` or ``key``), or of its nearest
        ancestor that has one; returns ``(pointer_found, span)``.

        A finding about a key that is missing (a default the plan did not
        write) lands on the table that would hold it, never on line 1 by
        accident.
        """
        for candidate in jp.ancestors(pointer):
            node = self.spans.get(candidate)
            if node is None:
                continue
            if part == "key" and candidate == pointer and node.key is not None:
                return candidate, node.key
            if candidate != pointer and node.key is not None:
                # Point at the key of the enclosing entry, not its whole body.
                return candidate, node.key
            return candidate, node.value
        return None

    def range_of(self, pointer: str, part: str = "value") -> Range:
        found = self.span(pointer, part)
        if found is None:
            return Range(Position(1, 1), Position(1, 1))
        return self.lines.range(found[1])


def detect_newline(text: str) -> str:
    """The line ending a file uses most: ``\\r\\n``, ``\\n`` or ``\\r``."""
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    best = max((crlf, "\r\n"), (lf, "\n"), (cr, "\r"))
    return best[1] if best[0] else "\n"
