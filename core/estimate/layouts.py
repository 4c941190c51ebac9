"""The feasible-layout search: every way to split the plan's model over the plan's devices, ranked.

A layout is *feasible* when it passes every divisibility and placement rule
the PAR and MOE families check — tp·pp·cp·dp equals the device count, heads
divide by tp (KV heads divide or are replicated evenly), layers by pp, the
sequence by cp, experts by ep, ep·etp divides the tp·cp·dp devices of a stage,
tp and ep groups stay inside a node, and (training) the global batch splits
into whole micro-batches. Fixes built from this search are therefore
feasible by construction: the seed review's "use TP=2" on 3 devices can never
come out of it.

Each candidate is estimated with the same :func:`analyze` as the plan itself
(one device of each kind: stage, experts held), and only layouts that fit in 92% of the
memory (:data:`HEADROOM`) are ranked: training by throughput, inference by latency, then throughput. For
training the memory savers are tried from cheapest to dearest — ZeRO stage,
then full recompute — and the largest micro-batch that fits is kept; sequence parallelism is on wherever tp > 1.
``keep_memory_savers`` holds the plan's own savers instead — its recompute mode, ZeRO stage and sequence
parallelism (the interleaved schedule and FlashAttention are always the plan's) — so that only the layout varies:
what PAR405 proposes for a plan that fits, whose savers are its authors' choice (PAR407 prices changing them).

The search prunes without changing what it finds (``search(..., exhaustive=True)`` is the reference the tests
compare it with): a layout's memory is estimated before anything else and the layout is priced (bounds,
communication) only when it fits; the memory estimate stops at the first device past the headroom, since any
device is a lower bound on the busiest; and devices that hold the same figures are estimated once.
"""

from __future__ import annotations

from typing import Iterator

from ..records import record, replace
from .analysis import Analysis, analyze
from .memory import distinct_devices, estimate_memory
from .params import ParamCounts, count_params

#: context parallelism is proposed only when each rank keeps at least this many tokens of a sequence: below it the
#: ring exchange of K and V cannot hide behind the rank's attention (Llama 3 ran cp = 16 at 131,072 tokens, 8,192
#: per rank; Dubey et al. 2024, Table 4)
MIN_CP_TOKENS = 4096

#: micro-batch sizes the training search tries
MICRO_BATCH_SIZES = (1, 2, 4, 8)

#: share of a device's memory a suggested layout may fill: the rest is for what no estimate sees — the CUDA
#: context, allocator fragmentation, communication buffers (PyTorch jobs typically lose 1–5 GiB of an 80 GiB GPU)
HEADROOM = 0.92


@record(frozen=True)
class Candidate:
    parallelism: object          # a deploylint.core.plan.Parallelism
    throughput_samples_per_s: float
    min_latency_ms: float
    memory_utilization: float
    fits: bool
    bottleneck: str
    #: the same figures with communication *not* overlapped (added to compute): a proposal must win under both
    serial_throughput_samples_per_s: float = 0.0
    serial_latency_ms: float = 0.0

    def describe(self) -> str:
        p = self.parallelism
        parts = [f"tp={p.tp}", f"pp={p.pp}", f"dp={p.dp}"]
        if p.cp > 1:
            parts.append(f"cp={p.cp}")
        if p.ep > 1 or p.etp > 1:
            parts.append(f"ep={p.ep}")
        if p.etp > 1:
            parts.append(f"etp={p.etp}")
        if p.zero_stage:
            parts.append(f"zero_stage={p.zero_stage}")
        if p.recompute != "none":
            parts.append(f"recompute={p.recompute}")
        if p.micro_batch_size > 1:
            parts.append(f"micro_batch_size={p.micro_batch_size}")
        return " ".join(parts)

    def to_json(self) -> dict:
        p = self.parallelism
        return {"tp": p.tp, "pp": p.pp, "dp": p.dp, "cp": p.cp, "ep": p.ep, "etp": p.etp, "zero_stage": p.zero_stage,
                "recompute": p.recompute, "micro_batch_size": p.micro_batch_size,
                "throughput_samples_per_s": self.throughput_samples_per_s, "min_latency_ms": self.min_latency_ms,
                "memory_utilization": round(self.memory_utilization, 6), "bottleneck": self.bottleneck}


#: the keys of ``[parallelism]`` a searched layout sets (the last three only for training)
LAYOUT_KEYS = ("tp", "pp", "dp", "cp", "ep", "etp", "zero_stage", "recompute", "micro_batch_size")


#: the memory savers a plan chooses: :func:`search` with ``keep_memory_savers`` holds them
MEMORY_SAVERS = ("recompute", "zero_stage", "sequence_parallel")


def keeps_memory_savers(plan, fits: bool) -> bool:
    """Whether the layouts proposed for ``plan`` hold its own memory savers (:func:`search` with
    ``keep_memory_savers``): a training plan that fits in memory (``fits``: MEM101 is silent) does — its savers are
    its authors' choice, which PAR407 prices — as PAR405, ``deploylint suggest`` and the HTML report propose; a
    serving plan has none to hold, and one that does not fit may take any."""
    return plan.workload.training and fits


def savers_text(par) -> str:
    """The memory savers of a layout as ``key=value`` pairs, for the front ends that say which they keep."""
    return ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                     for k, v in ((k, getattr(par, k)) for k in MEMORY_SAVERS))


def saver_changes(plan, par) -> list[tuple[str, object, object]]:
    """``(key, old, new)`` for each memory saver (:data:`MEMORY_SAVERS`) that moving a training ``plan`` to ``par``
    changes; sequence parallelism counts only where both layouts have tp > 1 or the new one turns it on."""
    if not plan.workload.training:
        return []
    current = plan.parallelism
    out = []
    for key in MEMORY_SAVERS:
        old, new = getattr(current, key), getattr(par, key)
        if key == "sequence_parallel":
            old, new = old and current.tp > 1, new and par.tp > 1
            if not new:
                continue          # fewer or no tensor-parallel ranks: nothing left to split, nothing given up
        if old != new:
            out.append((key, old, new))
    return out


def _sequence_parallel(base, tp: int, keep: bool) -> bool:
    """Sequence parallelism of a candidate with ``tp``: on wherever tp > 1, or (``keep``) as the plan has it — a
    plan with tp = 1 says nothing about it, so the default (on) holds."""
    return tp > 1 and (base.sequence_parallel or base.tp == 1 or not keep)


def layout_changes(plan, written: dict, par) -> list[tuple[str, object, object]]:
    """``(key, old, new)`` for each ``[parallelism]`` key that moving ``plan`` to ``par`` changes.

    ``written`` is the plan's ``[parallelism]`` table as the file has it: a key
    written with a value other than the resolved one (``dp``) is rewritten too.
    """
    current, training = plan.parallelism, plan.workload.training
    out = []
    for key in LAYOUT_KEYS:
        if not training and key in ("zero_stage", "recompute", "micro_batch_size"):
            continue
        new, old = getattr(par, key), getattr(current, key)
        if new != old or (key == "dp" and key in written and written[key] != new):
            out.append((key, written.get(key, old), new))
    if "expert_placement" in written and (par.ep != current.ep or par.expert_placement is None):
        out.append(("expert_placement", written["expert_placement"], None))
    if "pipeline_layers" in written and par.pp != current.pp:
        out.append(("pipeline_layers", written["pipeline_layers"], None))
    if "sequence_parallel" in written and written["sequence_parallel"] != par.sequence_parallel:
        out.append(("sequence_parallel", written["sequence_parallel"], par.sequence_parallel))
    return out


def layout_fix(plan, written: dict, par, message: str, *, applicability: str = "unsafe"):
    """A :class:`~deploylint.core.diagnostics.Fix` rewriting ``[parallelism]`` to ``par`` (only the keys that change,
    the placement dropped), or None when nothing changes. Rules and ``deploylint suggest --apply`` both use it."""
    from ..diagnostics import Fix
    from ..document import pointer as jp

    fixes = [Fix.remove(jp.join("parallelism", key)) if new is None else Fix.set(jp.join("parallelism", key), new)
             for key, _, new in layout_changes(plan, written, par)]
    if not fixes:
        return None
    return Fix.combine(fixes, message, applicability=applicability)


def divisors(n: int) -> list[int]:
    small, large = [], []
    i = 1
    while i * i <= n:
        if n % i == 0:
            small.append(i)
            if i != n // i:
                large.append(n // i)
        i += 1
    return small + large[::-1]


def layout_problems(plan, par) -> list[str]:
    """Why ``par`` is not a feasible layout for ``plan`` (empty when it is). The PAR/MOE rules say the same."""
    model, hw, work = plan.model, plan.hardware, plan.workload
    out = []
    if par.tp * par.pp * par.cp * par.dp != hw.num_devices:
        out.append("tp·pp·cp·dp ≠ num_devices")
    if model.num_attention_heads % par.tp:
        out.append("heads not divisible by tp")
    kv = model.num_kv_heads
    if model.attention != "mla" and kv % par.tp and par.tp % kv:
        out.append("kv heads neither divisible by tp nor evenly replicated")
    split = par.pipeline_layers
    if not (split and len(split) == par.pp and sum(split) == model.layers) and model.layers % par.pp:
        out.append("layers not divisible by pp")
    if work.seq_len % par.cp:
        out.append("seq_len not divisible by cp")
    if par.tp > hw.devices_per_node:
        out.append("tp spans nodes")
    if model.moe is not None:
        slots = par.expert_slots(model.moe.num_experts)
        if par.ep > slots:
            out.append("ep > num_experts")
        elif slots % par.ep:
            out.append("num_experts not divisible by ep")
        if (par.tp * par.cp * par.dp) % (par.ep * par.etp):
            out.append("ep·etp does not divide tp·cp·dp")
        if par.ep * par.etp > hw.devices_per_node and par.ep > 1:
            out.append("ep spans nodes")
        if par.etp > 1 and model.moe.expert_ffn_hidden_size % par.etp:
            out.append("expert width not divisible by etp")
    elif par.ep != 1 or par.etp != 1:
        out.append("ep/etp on a dense model")
    if work.training:
        if work.batch_size % (par.dp * par.micro_batch_size):
            out.append("global batch not divisible by dp·micro_batch_size")
    elif par.dp > work.batch_size and "workload" not in plan.unknown:
        out.append("more replicas than sequences")
    return out


def _grid(plan) -> Iterator[tuple[int, int, int, int, int, int]]:
    model, hw, work = plan.model, plan.hardware, plan.workload
    N = hw.num_devices
    moe = model.moe
    for tp in divisors(N):
        if tp > hw.devices_per_node or model.num_attention_heads % tp:
            continue
        if model.attention != "mla" and model.num_kv_heads % tp and tp % model.num_kv_heads:
            continue
        for pp in divisors(N // tp):
            split = plan.parallelism.pipeline_layers
            if model.layers % pp and not (split and len(split) == pp and sum(split) == model.layers):
                continue
            for cp in divisors(N // (tp * pp)):
                if work.seq_len % cp or cp > hw.devices_per_node:
                    continue
                if cp > 1 and work.seq_len // cp < MIN_CP_TOKENS:
                    continue
                dp = N // (tp * pp * cp)
                if not work.training and dp > work.batch_size and "workload" not in plan.unknown:
                    continue
                stage_devices = tp * cp * dp
                if moe is None:
                    yield tp, pp, cp, dp, 1, 1
                    continue
                for etp in (1, tp) if tp > 1 else (1,):
                    if etp > 1 and moe.expert_ffn_hidden_size % etp:
                        continue
                    for ep in divisors(plan.parallelism.expert_slots(moe.num_experts)):
                        if ep * etp > hw.devices_per_node and ep > 1:
                            continue
                        if stage_devices % (ep * etp):
                            continue
                        yield tp, pp, cp, dp, ep, etp


@record
class SearchStats:
    """What one search did with the layouts of its grid (``bench/bench_layouts.py`` prints it)."""

    tried: int = 0               # layouts (with their memory savers) the search looked at
    rejected_by_memory: int = 0  # a device past the headroom: not priced (and the devices after it not estimated)
    priced: int = 0              # estimated in full (bounds, communication)


def _fits(plan, memory) -> bool:
    # Without an accelerator (a serving command that does not say), memory cannot decide: every layout
    # that passes the divisibility rules counts, and the rules say nothing about its speed.
    return "hardware" in plan.unknown or memory.busiest.total <= HEADROOM * memory.busiest.capacity


def _evaluate(plan, par, counts: ParamCounts, memory=None, trial=None) -> tuple[Analysis, Candidate]:
    """``par`` on ``plan`` estimated as a candidate; ``trial`` is that plan when the caller has made it already."""
    a = analyze(trial or replace(plan, parallelism=par), counts=counts, all_devices=False, memory=memory)
    return a, candidate_from(plan, a)


def candidate_from(plan, a: Analysis) -> Candidate:
    """The candidate of the layout ``a`` estimates (``plan`` decides whether memory counts, see :func:`_fits`).

    Its figures are read from the busiest device and the bounds alone, so the engine's estimate of the plan (every
    device) gives the plan's own layout the same candidate as :func:`candidate_for` (one device of each kind)."""
    b = a.bounds
    fits = _fits(plan, a.memory)
    slow = sum(p.serial_s for p in b.phases) / max(sum(p.time_s for p in b.phases), 1e-30)
    return Candidate(a.plan.parallelism, b.max_throughput_samples_per_s, b.min_latency_ms, a.memory.utilization, fits,
                     b.bottleneck, b.max_throughput_samples_per_s / slow, b.min_latency_ms * slow)


def _fitting(plan, par, counts: ParamCounts, stats: SearchStats, exhaustive: bool, memo: dict) -> Candidate | None:
    """``par`` estimated as a candidate when it fits in :data:`HEADROOM` of the memory, else None.

    A layout is priced (bounds, communication) only once its memory fits. Its memory is estimated on one device of
    each kind (stage, experts held), which includes the busiest, and stops at the first device past the headroom:
    any device is a lower bound on the busiest; what its stages hold is shared with the other layouts (``memo``). ``exhaustive`` estimates every layout in full instead (the reference
    the pruned search is tested against).
    """
    stats.tried += 1
    if exhaustive:
        stats.priced += 1
        cand = _evaluate(plan, par, counts)[1]
        return cand if cand.fits else None
    # any device past the headroom rejects the layout (when memory decides at all): the estimate stops there
    limit = None if "hardware" in plan.unknown else HEADROOM * plan.hardware.memory_bytes
    trial = replace(plan, parallelism=par)
    moe = plan.model.moe
    memory = estimate_memory(trial, counts, distinct_devices(par, plan.hardware.num_devices, moe.num_experts if moe else 0),
                             distinct=True, stop_above=limit, memo=memo)
    if not _fits(plan, memory):
        stats.rejected_by_memory += 1
        return None
    stats.priced += 1
    return _evaluate(plan, par, counts, memory, trial)[1]


def candidate_for(plan, counts: ParamCounts | None = None) -> Candidate:
    """The plan's own layout, estimated the way the search estimates candidates."""
    return _evaluate(plan, plan.parallelism, counts or count_params(plan.model))[1]


def search(plan, *, counts: ParamCounts | None = None, limit: int | None = None, exhaustive: bool = False,
           stats: SearchStats | None = None, keep_memory_savers: bool = False) -> list[Candidate]:
    """Feasible layouts that fit in memory, best first (see the module docstring for the ranking).

    ``exhaustive`` prices every layout in full, without the pruning (the same result, slower: for tests);
    ``stats`` counts what the search did; ``keep_memory_savers`` holds the plan's recompute mode, ZeRO stage and
    sequence parallelism (training), so that only the layout and the micro-batch vary.
    """
    counts = counts or count_params(plan.model)
    stats = stats if stats is not None else SearchStats()
    base = plan.parallelism
    training = plan.workload.training
    found: list[Candidate] = []
    memo: dict = {}   # per-stage sums and activations shared by the layouts of this search (one model, one workload)
    for tp, pp, cp, dp, ep, etp in _grid(plan):
        common = dict(tp=tp, pp=pp, cp=cp, dp=dp, ep=ep, etp=etp, expert_placement=None,
                      sequence_parallel=_sequence_parallel(base, tp, keep_memory_savers and training),
                      pipeline_layers=base.pipeline_layers if pp == base.pp else None)
        if not training:
            cand = _fitting(plan, replace(base, **common, zero_stage=0, recompute="none", micro_batch_size=1), counts,
                            stats, exhaustive, memo)
            if cand is not None:
                found.append(cand)
            continue
        per_replica = plan.workload.batch_size // dp
        if plan.workload.batch_size % dp:
            continue
        best = None
        # selective saves nothing under FlashAttention (see flops.py); without it, it drops the stored scores
        if keep_memory_savers:
            modes, stages = (base.recompute,), (base.zero_stage,)
        else:
            modes = ("none", "full") if base.flash_attention else ("none", "selective", "full")
            stages = sorted({base.zero_stage, 1, 2, 3})
        for recompute in modes:
            for zero in stages:
                fitting = None
                for mbs in MICRO_BATCH_SIZES:
                    if per_replica % mbs:
                        continue
                    cand = _fitting(plan, replace(base, **common, zero_stage=zero, recompute=recompute,
                                                  micro_batch_size=mbs), counts, stats, exhaustive, memo)
                    if cand is None:
                        break
                    if fitting is None or cand.throughput_samples_per_s > fitting.throughput_samples_per_s:
                        fitting = cand
                if fitting is not None:
                    best = fitting
                    break
            if best is not None:
                break
        if best is not None:
            found.append(best)
    if training:
        found.sort(key=lambda c: (-c.throughput_samples_per_s, c.min_latency_ms))
    else:
        found.sort(key=lambda c: (c.min_latency_ms, -c.throughput_samples_per_s))
    return found[:limit] if limit else found
