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


def describe(rule: Rule) -> str:
    """The text ``deploylint rule CODE`` prints: summary, why it matters, bad and good examples."""
    parts = [f"{rule.code} ({rule.name}) — default severity {Severity.parse(rule.severity).value}", "", rule.summary.strip()]
    if rule.explanation:
        parts += ["", "Why it matters", "", _dedent(rule.explanation)]
    if rule.bad_example:
        parts += ["", "Bad", "", _indent(_dedent(rule.bad_example))]
    if rule.good_example:
        parts += ["", "Good", "", _indent(_dedent(rule.good_example))]
    if rule.thresholds:
        parts += ["", "Thresholds", "", *(f"    {name} = {value:g}" for name, value in rule.thresholds.items()),
                  "", f"  set in [tool.deploylint.thresholds.{rule.code}]"]
    if rule.fix_safety:
        parts += ["", "Fix safety", "", _dedent(rule.fix_safety)]
    parts.append(f"\nPlugin: {rule.plugin or 'unknown'}")
    return "\n".join(parts).rstrip() + "\n"


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).strip("\n")


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else line for line in text.splitlines())
