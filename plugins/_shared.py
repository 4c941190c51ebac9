"""Helpers the built-in rule families share: figures in words, the layout search once per plan, layout fixes.

Third-party plugins may read this module for ideas but should not import it:
it is not part of the plugin API (``deploylint.core`` is).
"""

from __future__ import annotations


from deploylint.core import Fix
from deploylint.core.records import fields as dc_fields, replace
from deploylint.core.document import pointer as jp


def gib(n: float) -> str:
    """Bytes for humans: binary units, three significant figures."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def pct(x: float) -> str:
    if x == 0:
        return "0%"
    if abs(x) < 0.001:
        return f"{x * 100:.3f}%"
    if abs(x) < 0.01:
        return f"{x * 100:.2f}%"
    return f"{x * 100:.1f}%"


def num(x: float) -> str:
    """A figure with three significant digits and thousands separators where they help."""
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def ms(x: float) -> str:
    return f"{x:.3g} ms"


def search(ctx, limit: int | None = None, *, keep_memory_savers: bool = False):
    """The feasible-layout search for this plan, run at most once per check (and once more holding the plan's own
    memory savers: ``keep_memory_savers``, training only — a serving search has none to hold)."""
    keep = keep_memory_savers and ctx.plan.workload.training
    key = "layouts-own-savers" if keep else "layouts"
    if key not in ctx.cache:
        from deploylint.core.estimate.layouts import search as run

        ctx.cache[key] = run(ctx.plan, counts=ctx.analysis.params, keep_memory_savers=keep)
    found = ctx.cache[key]
    return found[:limit] if limit else found


def fix_layouts(ctx, require=lambda c: True) -> list:
    """Searched layouts a rule's fix may move to, best first, each passing ``require``: for a training plan that fits,
    those keeping its own memory savers when any does — a fix for a layout problem leaves the recompute, ZeRO stage
    and sequence parallelism alone — else those of the search with any saver."""
    from deploylint.core.estimate.layouts import keeps_memory_savers

    if keeps_memory_savers(ctx.plan, ctx.analysis.memory.fits):
        kept = [c for c in search(ctx, keep_memory_savers=True) if require(c)]
        if kept:
            return kept
    return [c for c in search(ctx) if require(c)]


def own_candidate(ctx):
    """The plan's own layout as a search candidate, read from the shared estimate (``layouts.candidate_from``: the
    same as estimating it again with ``candidate_for``, which tests hold it to)."""
    if "own" not in ctx.cache:
        from deploylint.core.estimate.layouts import candidate_from

        ctx.cache["own"] = candidate_from(ctx.plan, ctx.analysis)
    return ctx.cache["own"]


def layout_fix(ctx, par, message: str, *, applicability: str = "unsafe") -> Fix | None:
    """A fix that rewrites ``[parallelism]`` to ``par``: only the keys that change, and the placement dropped.

    Where the file states the global batch only as micro × dp (``Document.derived``: TorchTitan's
    ``global_batch_size = -1``, Megatron-LM without ``--global-batch-size``, a ds_config without
    ``train_batch_size``), a new dp or micro batch would change it too: the fix then writes the batch it keeps."""
    from deploylint.core.estimate.layouts import layout_fix as fix_for

    fix = fix_for(ctx.plan, (ctx.document.data or {}).get("parallelism") or {}, par, message, applicability=applicability)
    now = ctx.plan.parallelism
    if fix is None or (par.dp, par.micro_batch_size) == (now.dp, now.micro_batch_size):
        return fix
    if "/workload/batch_size" in (getattr(ctx.document, "derived", None) or {}):
        fix = Fix.combine([fix, Fix.set("/workload/batch_size", ctx.plan.workload.batch_size)], message,
                          applicability=applicability)
    training = (ctx.document.data or {}).get("training") if isinstance(ctx.document.data, dict) else None
    if isinstance(training, dict) and training.get("gradient_accumulation_steps") is not None:
        # the file states the accumulation (a ds_config: train_batch_size = micro × accumulation × dp, which
        # DeepSpeed checks at start-up): a new micro batch or dp keeps the batch by writing the accumulation too
        batch, per_step = ctx.plan.workload.batch_size, par.micro_batch_size * par.dp
        if batch % per_step:
            return None         # no accumulation keeps this batch: not a layout to move to
        fix = Fix.combine([fix, Fix.set("/training/gradient_accumulation_steps", batch // per_step)], message,
                          applicability=applicability)
    return fix


def layout_fixes(ctx, candidate, message: str) -> list[Fix]:
    """``[fix]`` moving the plan to a searched ``candidate`` layout, or ``[]`` (no candidate, or nothing changes)."""
    if candidate is None:
        return []
    fix = layout_fix(ctx, candidate.parallelism, message)
    return [fix] if fix else []


def with_workload(plan, **changes):
    return replace(plan, workload=replace(plan.workload, **changes))


def with_parallelism(plan, **changes):
    return replace(plan, parallelism=replace(plan.parallelism, **changes))


#: claims that describe a measurement at the plan's batch size (they go stale when a fix changes the batch)
MEASURED_CLAIMS = ("throughput_samples_per_s", "throughput_tokens_per_s", "latency_ms", "latency_ms_per_layer", "ttft_ms",
                   "tpot_ms", "mfu", "achieved_tflops_per_device")


def batch_fix(ctx, path: str, value: int, message: str) -> Fix:
    """Set the batch (``/workload/batch_size`` or ``/parallelism/micro_batch_size``) and drop the claims measured at
    the old one: after the change they no longer describe the plan, and keeping them would make the next check
    judge new figures against old measurements."""
    stale = [k for k in MEASURED_CLAIMS if k in ((ctx.document.data or {}).get("claims") or {})]
    if not stale:
        return Fix.set(path, value, message, applicability="unsafe")
    old = ctx.plan.workload.batch_size if path.endswith("batch_size") and path.startswith("/workload") else \
        ctx.plan.parallelism.micro_batch_size
    return Fix.combine([Fix.set(path, value)] + [Fix.remove(claim_path(k)) for k in stale],
                       f"{message}; drops the claims measured at {path.rsplit('/', 1)[-1]} {old} ({', '.join(stale)}): "
                       "measure again", applicability="unsafe")


def claim_path(name: str) -> str:
    return jp.join("claims", name)


def known(dataclass_type) -> set[str]:
    return {f.name for f in dc_fields(dataclass_type)}


def _latency_claims_hold(ctx, trial) -> bool:
    """A raised batch must keep the bounds within the latency the plan claims (its SLO): TTFT, TPOT, request."""
    c, b = ctx.plan.claims, trial.bounds
    pairs = ((c.ttft_ms, b.ttft_ms), (c.tpot_ms, b.tpot_ms), (c.latency_ms, b.min_latency_ms))
    return all(claimed is None or bound is None or bound <= claimed for claimed, bound in pairs)


def compute_bound_batch(ctx):
    """``(batch, analysis)``: the smallest batch (doubling, a multiple of dp) at which an inference plan's roofline
    turns compute-bound, or the largest that still fits in memory and keeps the bounds within the plan's latency
    claims; None when the plan is already compute-bound or no larger batch qualifies.

    Past the turn a larger batch adds latency and memory for no throughput: a batch fix stops there.
    """
    if "compute_bound_batch" in ctx.cache:
        return ctx.cache["compute_bound_batch"]
    from deploylint.core.estimate.analysis import analyze

    plan = ctx.plan
    chosen = None
    if not plan.workload.training and ctx.analysis.bounds.bottleneck != "compute":
        step = max(1, plan.parallelism.dp)
        batch = plan.workload.batch_size
        for _ in range(40):
            batch = max(batch * 2, step) // step * step
            trial = analyze(with_workload(plan, batch_size=batch), counts=ctx.analysis.params, all_devices=False)
            if not trial.memory.fits or not _latency_claims_hold(ctx, trial):
                break
            chosen = (batch, trial)
            if trial.bounds.bottleneck == "compute":
                break
    ctx.cache["compute_bound_batch"] = chosen
    return chosen
