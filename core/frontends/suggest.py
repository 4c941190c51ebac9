"""``deploylint suggest PLAN``: the feasible layouts on the plan's devices, ranked, and ``--apply K`` to move to one.

The layouts are the layout search's (``core/estimate/layouts.py``: every layout
that passes the PAR and MOE rules and fits in memory, estimated by the same
Analysis as the plan). ``--apply K`` writes the K-th through the fix machinery
(``core/pipeline/fixing.py``): the same value-level fix the PAR405 rule
offers, rendered by the file's own writer, re-checked before it is written
(a result that no longer loads or validates is refused, DL007), written
atomically — in TOML, YAML, JSON and Python plans alike.
"""

from __future__ import annotations

import sys

OBJECTIVES = ("throughput", "latency", "memory")

_ORDER = {
    "throughput": lambda c: (-c.throughput_samples_per_s, c.min_latency_ms),
    "latency": lambda c: (c.min_latency_ms, -c.throughput_samples_per_s),
    "memory": lambda c: (c.memory_utilization, -c.throughput_samples_per_s),
}


def rank(candidates, objective: str):
    return sorted(candidates, key=_ORDER[objective])


def default_objective(plan) -> str:
    """What the search ranks by: training by throughput, serving by latency."""
    return "throughput" if plan.workload.training else "latency"


def changes_text(plan, written: dict, candidate) -> str:
    from ..estimate.layouts import layout_changes

    parts = []
    for key, old, new in layout_changes(plan, written, candidate.parallelism):
        parts.append(f"drop {key}" if new is None else f"{key} {_v(old)}→{_v(new)}")
    return ", ".join(parts) or "(the plan's layout)"


def _v(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _n(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def table(plan, written: dict, ranked, capacity: int) -> str:
    rows = [("#", "layout", "samples/s", "latency", "busiest device", "bottleneck", "changes from the plan")]
    for i, c in enumerate(ranked, 1):
        rows.append((str(i), c.describe(), f"{_n(c.throughput_samples_per_s)}", f"{_n(c.min_latency_ms)} ms",
                     f"{_gib(c.memory_utilization * capacity)} ({c.memory_utilization * 100:.3g}%)", c.bottleneck,
                     changes_text(plan, written, c)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {0, 2, 3, 4}
    lines = ["  ".join(cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths))).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args, registry, config) -> int:
    from ..pipeline.engine import Engine
    from ..estimate.layouts import candidate_for, keeps_memory_savers, layout_fix, search
    from .cli import EXIT_CLEAN, EXIT_FINDINGS, UsageError, _lines
    from .report.text import render_diagnostic

    if args.top is not None and args.top < 1:
        raise UsageError("--top must be at least 1")
    engine = Engine(registry, config)
    result = engine.check_path(args.path)
    if result.plan is None or result.analysis is None:
        for d in result.diagnostics:
            print(render_diagnostic(d, result.document.lines if result.document else _lines(result.text)), file=sys.stderr)
        print(f"deploylint: cannot suggest layouts for {args.path}: fix the errors above first", file=sys.stderr)
        return EXIT_FINDINGS
    plan, analysis = result.plan, result.analysis
    written = (result.document.data or {}).get("parallelism") or {}
    if not isinstance(written, dict):
        written = {}
    objective = args.objective or default_objective(plan)
    # the layouts PAR405 chooses from: a training plan that fits keeps its own memory savers (PAR407 prices others)
    kept = keeps_memory_savers(plan, analysis.memory.fits) and not getattr(args, "any_savers", False)
    ranked = rank(search(plan, counts=analysis.params, keep_memory_savers=kept), objective)
    own = candidate_for(plan, analysis.params)
    capacity = analysis.memory.busiest.capacity

    if args.apply is not None:
        return _apply(args, engine, plan, written, ranked, layout_fix)

    shown = ranked[: args.top] if args.top else ranked
    if args.format == "json":
        import json

        print(json.dumps({"objective": objective, "keeps_memory_savers": kept, "plan": own.to_json(), "layouts": [
            {"rank": i, **c.to_json(), "changes": changes_text(plan, written, c)} for i, c in enumerate(shown, 1)]}, indent=2))
        return EXIT_CLEAN
    fits = "fits" if own.fits else "does NOT fit in memory"
    print(f"{plan.name or args.path}: {plan.hardware.num_devices} devices; the plan {own.describe()}: "
          f"{_n(own.throughput_samples_per_s)} samples/s, {_n(own.min_latency_ms)} ms, busiest device "
          f"{_gib(own.memory_utilization * capacity)} ({fits})")
    if not ranked:
        print("No feasible layout fits in memory on these devices.")
        return EXIT_CLEAN
    print(f"{len(ranked)} feasible layout{'' if len(ranked) == 1 else 's'}" + (_savers_kept(plan) if kept else "")
          + f", best {objective} first" + (f" (top {len(shown)} shown)" if len(shown) < len(ranked) else "") + ":\n")
    print(table(plan, written, shown, capacity))
    print(f"\n`deploylint suggest {args.path} --apply K` writes layout K into the plan.")
    return EXIT_CLEAN


def _savers_kept(plan) -> str:
    from ..estimate.layouts import savers_text

    return (f" keeping the plan's memory savers ({savers_text(plan.parallelism)}), as PAR405 proposes (--any-savers: the layouts with any "
            "saver, whose cost PAR407 gives)")


def _apply(args, engine, plan, written, ranked, layout_fix) -> int:
    from ..pipeline.fixing import apply_fix
    from .cli import EXIT_CLEAN, EXIT_FINDINGS, UsageError
    from .report.text import render_diagnostic

    k = args.apply
    if not ranked:
        raise UsageError(f"--apply {k}: no feasible layout fits in memory on these devices")
    if not 1 <= k <= len(ranked):
        raise UsageError(f"--apply {k}: the layouts are numbered 1 to {len(ranked)}")
    candidate = ranked[k - 1]
    fix = layout_fix(plan, written, candidate.parallelism, f"use {candidate.describe()}")
    if fix is None:
        print(f"layout {k} ({candidate.describe()}) is the plan's own: nothing to change")
        return EXIT_CLEAN
    outcome = apply_fix(engine, args.path, fix, write=True)
    if not outcome.written:
        for d in outcome.result.diagnostics:
            if d.code == "DL007":
                print(render_diagnostic(d, None), file=sys.stderr)
        print(f"deploylint: layout {k} was not written to {args.path}", file=sys.stderr)
        return EXIT_FINDINGS
    sys.stdout.write(outcome.diff)
    print(f"wrote layout {k} ({candidate.describe()}) to {args.path}: {changes_text(plan, written, candidate)}")
    return EXIT_CLEAN
