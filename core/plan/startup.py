"""An engine's (or framework's) own start-up semantics for the conditions the generic rules check.

The same layout means different things to different engines: vLLM replicates KV
heads when tp exceeds them and starts, TorchTitan refuses; vLLM splits experts
unevenly over EP ranks unless EPLB is on, SGLang asserts an even split. A plan
says which engine it is for (``[serving] engine``, ``[training] framework``),
and a source adapter attaches that engine's :class:`StartupProfile` to each
Document it returns (``document.startup``). The generic rules (PAR401–PAR403,
PAR406, MOE301) then ask the profile about each condition they find and judge
as the engine does: an error quoting the engine's message when it refuses to
start, the rule's own severity (or the one the profile gives) with a note when
the engine accepts the layout.

Conditions the built-in rules ask about, with the figures they pass (a message
template may use any of them, ``{tp}``, ``{kv}``, …):

``world`` (PAR401)
    world, model_size (tp·pp·cp), tp, pp, cp, dp_shard, dp_replicate, total (tp·pp·cp·dp)
``expert_grid`` (PAR401)
    world, grid (etp·ep·pp), ep, region (tp·cp·dp), shard_region
``heads`` (PAR402)
    heads, tp — attention heads do not divide by tp
``kv_heads_replicated`` (PAR402)
    kv, tp, replication — tp is a multiple of the KV heads (each is replicated)
``kv_heads_split`` (PAR402)
    kv, tp, larger, smaller — the KV heads neither divide by tp nor divide it
``layers`` (PAR403)
    layers, pp
``experts`` (MOE301)
    experts, ep, redundant, physical (experts + redundant)
``experts_eplb`` (MOE301, asked first when the plan turns on expert load balancing)
    the same figures
``batch`` (PAR406)
    batch, micro, dp
"""

from __future__ import annotations

from typing import Any, Mapping

from ..records import field, record


@record(frozen=True, slots=True)
class StartupCheck:
    """What an engine does with one condition.

    ``message`` is the engine's own words (a template over the condition's
    figures) and ``source`` where the engine decides it (``"vllm/config/model.py:1557-1564"``).
    ``refuses`` True: the engine stops at start-up, the finding is an error.
    False: the engine accepts the layout and starts; the finding keeps the
    rule's severity, or ``severity`` when given (``"info"``, ``"warning"``,
    ``"error"``), and says that the engine accepts it.
    """

    message: str
    source: str
    refuses: bool = True
    severity: Any = None


@record(frozen=True, slots=True)
class StartupProfile:
    """One engine's semantics: its name as users know it (``"vLLM 0.33.0"``) and its checks by condition."""

    name: str
    checks: Mapping[str, Any] = field(default_factory=dict)

    def check(self, condition: str) -> StartupCheck | None:
        """The check for ``condition``; a ``(message, source)`` pair counts as a check the engine refuses."""
        entry = self.checks.get(condition)
        if entry is None or isinstance(entry, StartupCheck):
            return entry
        message, source = entry
        return StartupCheck(message, source)

    def says(self, condition: str, **figures) -> tuple[StartupCheck, str] | None:
        """The check for ``condition`` and the sentence it adds to a finding, or None (no check, or a
        template naming a figure the rule does not give)."""
        check = self.check(condition)
        if check is None:
            return None
        try:
            words = check.message.format(**figures)
        except (KeyError, IndexError, ValueError, AttributeError):
            return None
        if check.refuses:
            return check, f'{self.name} refuses to start: "{words}" ({check.source})'
        return check, f"{self.name} accepts it: {words} ({check.source})"
