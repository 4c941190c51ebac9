"""The Rule base class and the Context a rule is given.

A rule is a small class: ``code``, ``name``, ``severity``, ``summary``, an
explanation with a bad and a good example, and ``check(ctx)`` yielding
diagnostics made with :meth:`Rule.report`. Rules think in plan paths (JSON
pointers), never in text positions: the engine finds the span, and each
source format's writer turns value-level fixes into text edits.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Mapping

from .records import record, field
from .diagnostics import Diagnostic, Fix, Severity

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .pipeline.config import Config
    from .document import Document
    from .plan import Plan

CODE_PATTERN = re.compile(r"^[A-Z]{1,4}[0-9]{3}$")
_NO_DEFAULT: Any = object()
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
THRESHOLD_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


@record
class Context:
    """What a rule sees: the source document, the resolved plan, the shared estimate, the configuration."""

    document: "Document"
    plan: "Plan"
    analysis: Any
    config: "Config"
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    #: per-plan memo shared by the rules of one run (e.g. the layout search, computed once)
    cache: dict = field(default_factory=dict)

    def threshold(self, name: str, default: Any = _NO_DEFAULT) -> Any:
        """The running rule's threshold ``name``: its declared default or the configured value.

        The default belongs in the rule's ``thresholds`` declaration, written once; ``default`` is only for
        rules that read a name they do not declare, which cannot be configured.
        """
        if name in self.thresholds:
            return self.thresholds[name]
        if default is not _NO_DEFAULT:
            return default
        raise LookupError(f"threshold {name!r} is not declared in the rule's `thresholds` "
                          f"(it declares: {', '.join(sorted(self.thresholds)) or 'none'})")


class Rule:
    """Base class of every rule, built-in or third-party.

    Subclasses set the class attributes and implement :meth:`check`. The
    registry sets ``plugin`` to the name of the plugin that contributed the rule.
    """

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    severity: ClassVar[Severity] = Severity.WARNING
    summary: ClassVar[str] = ""
    explanation: ClassVar[str] = ""
    bad_example: ClassVar[str] = ""
    good_example: ClassVar[str] = ""
    fix_safety: ClassVar[str] = ""
    #: configurable thresholds this rule reads, with their defaults (written only here; ``ctx.threshold(name)``
    #: reads them). Users override them in ``[tool.deploylint.thresholds.<CODE>]``. Names are lower_snake_case
    #: and unique within the code prefix, so ``[tool.deploylint.thresholds.<PREFIX>]`` is never ambiguous.
    thresholds: ClassVar[Mapping[str, float]] = {}
    #: the inputs this rule's check needs: ``"hardware"`` (the accelerator's memory and speed figures) and
    #: ``"workload"`` (a batch and sequence length). A plan read from a serving command or a launch script
    #: may lack either (``ctx.plan.unknown`` names what is missing); the engine then does not run the rule
    #: and says so. Rules that only compare sizes (divisibility, context length) declare ``frozenset()``.
    requires: ClassVar[frozenset] = frozenset({"hardware", "workload"})

    plugin: str = ""

    def check(self, ctx: Context) -> Iterable[Diagnostic]:
        """Yield the diagnostics this rule finds in ``ctx``; the base class finds none."""
        return ()

    def report(
        self,
        path: str,
        message: str,
        *,
        data: Mapping[str, Any] | None = None,
        fixes: Iterable[Fix] = (),
        severity: Severity | str | None = None,
    ) -> Diagnostic:
        """A diagnostic of this rule about the plan value at ``path`` (a JSON pointer)."""
        return Diagnostic(
            code=self.code,
            severity=Severity.parse(severity) if severity is not None else Severity.parse(self.severity),
            message=message,
            path=path,
            fixes=tuple(fixes),
            data=dict(data or {}),
            rule=self.name,
            plugin=self.plugin,
        )

    def __repr__(self) -> str:
        return f"<Rule {self.code} {self.name}>"


#: the width ``deploylint rule CODE`` wraps prose to
WRAP_WIDTH = 79


def describe(rule: Rule) -> str:
    """The text ``deploylint rule CODE`` prints: summary, why it matters, bad and good examples.

    A plugin writes these as it likes (a docstring-style block whose first line follows the quotes, long
    lines, tabs): the summary is put on one line, the explanation and the fix safety are dedented and
    wrapped to :data:`WRAP_WIDTH`, examples are dedented and kept as written, and control characters (a
    terminal's escape sequences) are dropped.
    """
    parts = [f"{rule.code} ({rule.name}) — default severity {Severity.parse(rule.severity).value}", "",
             " ".join(_dedent(rule.summary).split())]   # one line, as `deploylint rules` lists it
    if rule.explanation:
        parts += ["", "Why it matters", "", _prose(rule.explanation)]
    if rule.bad_example:
        parts += ["", "Bad", "", _indent(_dedent(rule.bad_example))]
    if rule.good_example:
        parts += ["", "Good", "", _indent(_dedent(rule.good_example))]
    if rule.thresholds:
        parts += ["", "Thresholds", "", *(f"    {name} = {value:g}" for name, value in rule.thresholds.items()),
                  "", f"  set in [tool.deploylint.thresholds.{rule.code}]"]
    if rule.fix_safety:
        parts += ["", "Fix safety", "", _prose(rule.fix_safety)]
    parts.append(f"\nPlugin: {rule.plugin or 'unknown'}")
    return "\n".join(parts).rstrip() + "\n"


def _dedent(text: str) -> str:
    """``text`` without its common indentation; a first line that follows the opening quotes (docstring
    style, unindented) does not count; tabs become spaces, control characters and bidirectional overrides are
    dropped."""
    import re
    import textwrap

    text = re.sub("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", str(text).expandtabs(4).replace("\r\n", "\n"))
    first, _, rest = text.strip("\n").partition("\n")
    if rest and first.strip() and not first.startswith((" ", "\t")):
        return (first.strip() + "\n" + textwrap.dedent(rest)).strip("\n").rstrip()
    return textwrap.dedent(text).strip("\n").rstrip()


#: a line that starts a list item: "- ", "* ", "1. ", "2) "
_ITEM = r"(?:[-*•]|\d+[.)])\s+"


def _prose(text: str) -> str:
    """Dedented prose wrapped to :data:`WRAP_WIDTH`: each paragraph (and each list item) is re-flowed;
    indented lines (code, a table) are kept as written."""
    import re
    import textwrap

    out: list[str] = []
    run: list[str] = []   # the prose lines of the paragraph or list item being read

    def flush() -> None:
        if run:
            marker = re.match(_ITEM, run[0])
            hang = " " * (marker.end() if marker else 0)
            out.append(textwrap.fill(" ".join(line.strip() for line in run), WRAP_WIDTH, subsequent_indent=hang,
                                     break_long_words=False, break_on_hyphens=False))
            run.clear()

    items = False   # inside a list: an indented line continues the item rather than being code
    for line in _dedent(text).splitlines():
        if not line.strip():
            flush()
            out.append("")
            items = False
        elif re.match(_ITEM, line):
            flush()
            run.append(line)
            items = True
        elif line.startswith(" ") and not (items and run):
            flush()
            out.append(line.rstrip())
        else:
            run.append(line)
    flush()
    return "\n".join(out).strip("\n")


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else line for line in text.splitlines())
