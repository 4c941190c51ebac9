"""MEM1xx — memory: out of memory, memory left unused, claims that disagree with the estimate, imbalance.

Every figure comes from the shared Analysis (``ctx.analysis.memory``): bytes
per device, broken into weights, gradients, optimizer states, activations and
KV cache, for every device index.
"""

from __future__ import annotations


from deploylint.core import Fix, Rule, Severity, hookimpl
from deploylint.core.records import replace

from ._shared import batch_fix, compute_bound_batch, gib, layout_fix, layout_fixes, pct, search, with_parallelism, with_workload


def _breakdown(d) -> str:
    parts = [("weights", d.weights), ("gradients", d.gradients), ("optimizer", d.optimizer),
             ("activations", d.activations), ("KV cache", d.kv_cache)]
    return ", ".join(f"{name} {gib(v)}" for name, v in parts if v)


def _hardware_path(ctx) -> str:
    hw = (ctx.document.data or {}).get("hardware") or {}
    for key in ("memory_gib", "accelerator", "num_devices"):
        if key in hw:
            return f"/hardware/{key}"
    return "/hardware"


class OutOfMemory(Rule):
    code = "MEM101"
    name = "out-of-memory"
    severity = Severity.ERROR
    summary = "The estimated peak memory of some device exceeds its capacity."
    explanation = """
        The plan cannot run: at least one device needs more memory than it
        has. The message names the device and what fills it (weights,
        gradients, optimizer states, activations, KV cache). Memory follows
        the *total* parameter count — every expert is resident on its EP rank —
        even though compute follows the active count.
    """
    bad_example = """
        [model]
        from = "configs/llama-3.1-70b.json"
        [hardware]
        accelerator = "h100-sxm"
        num_devices = 8
        [parallelism]
        tp = 8
        [workload]
        mode = "training"
        batch_size = 64
        seq_len = 8192
    """
    good_example = """
        [hardware]
        accelerator = "h100-sxm"
        num_devices = 32        # 70.6B × 16 bytes of model states need more than 8 × 80 GiB
        [parallelism]
        tp = 8
        pp = 4
        zero_stage = 1
        recompute = "full"
    """
    fix_safety = "Unsafe: the fixes change the layout, the ZeRO stage or recomputation, i.e. what is deployed."

    def check(self, ctx):
        mem = ctx.analysis.memory
        over = [d for d in mem.devices if d.total > d.capacity]
        if not over:
            return
        worst = max(over, key=lambda d: d.total / d.capacity)
        fixes = []
        training = ctx.plan.workload.training
        par = ctx.plan.parallelism
        if training:
            # cheapest memory savers first, each only if it makes the plan fit
            from deploylint.core.estimate.analysis import analyze

            options = [(dict(zero_stage=z), f"shard model states with ZeRO stage {z}") for z in (1, 2, 3) if z > par.zero_stage]
            options += [(dict(recompute="full"), "recompute every layer's activations (full)")] if par.recompute != "full" else []
            for change, text in options:
                trial = analyze(with_parallelism(ctx.plan, **change), counts=ctx.analysis.params, all_devices=False)
                if trial.memory.fits:
                    key, value = next(iter(change.items()))
                    fixes.append(Fix.set(f"/parallelism/{key}", value,
                                         f"{text}: the busiest device would need {gib(trial.memory.busiest.total)} "
                                         f"({pct(trial.memory.utilization)})", applicability="unsafe"))
                    break
        best = search(ctx, 1)
        if best:
            c = best[0]
            fixes += layout_fixes(ctx, c, f"use the feasible layout {c.describe()} "
                                          f"(fits at {pct(c.memory_utilization)} of memory)")
        yield self.report(
            _hardware_path(ctx),
            f"out of memory: device {worst.index} needs {gib(worst.total)} of {gib(worst.capacity)} "
            f"({_breakdown(worst)}); {len(over)} of {len(mem.devices)} devices exceed their memory",
            data={"device": worst.index, "needed_bytes": worst.total, "capacity_bytes": worst.capacity,
                  "breakdown": {"weights": worst.weights, "gradients": worst.gradients, "optimizer": worst.optimizer,
                                "activations": worst.activations, "kv_cache": worst.kv_cache},
                  "devices_over": [d.index for d in over][:64]},
            fixes=fixes,
        )


class MemoryUnderutilized(Rule):
    code = "MEM102"
    name = "memory-underutilized"
    severity = Severity.WARNING
    summary = "Even the busiest device uses only a small share of its memory."
    explanation = """
        Memory you pay for and leave empty is capacity for a larger batch (more
        throughput at the same cost), a longer context, or fewer devices. The
        rule compares the busiest device's estimated peak with its capacity;
        the default threshold (`memory_utilization_min`) is far below what well-run jobs use —
        inference servers reserve about 90% for weights and KV cache (vLLM's
        gpu_memory_utilization defaults to 0.9), training jobs are sized to
        fill most of it. A compute-bound plan is left alone: its spare memory
        buys no throughput (a larger batch waits on the same FLOPs, fewer
        devices train or serve proportionally slower). The batch fix stops
        where the roofline turns compute-bound (and within the plan's latency
        claims), not where memory is full.
    """
    bad_example = """
        [hardware]
        num_devices = 3
        memory_gib = 64
        [workload]
        mode = "inference"
        batch_size = 8
        seq_len = 16
    """
    good_example = """
        [hardware]
        num_devices = 1          # 485M parameters: about 1 GB of weights
        memory_gib = 64
        [workload]
        mode = "inference"
        batch_size = 200000      # the KV cache fills the device to 78%
        seq_len = 16
    """
    fix_safety = "Unsafe: a larger batch or fewer devices changes what is deployed."
    thresholds = {"memory_utilization_min": 0.30, "memory_target": 0.85}

    def check(self, ctx):
        mem = ctx.analysis.memory
        busiest = mem.busiest
        threshold = float(ctx.threshold("memory_utilization_min"))
        if mem.utilization >= threshold or not mem.fits:
            return
        bottleneck = ctx.analysis.bounds.bottleneck
        if bottleneck == "compute":
            # Memory left over on a compute-bound plan costs nothing it could win back: a larger batch adds no
            # throughput, and fewer devices take proportionally longer (a 32-device training job on 2 devices
            # trains 16 times longer). Not a problem to fix.
            return
        target = float(ctx.threshold("memory_target"))
        fixes = []
        turn = compute_bound_batch(ctx)
        if turn is not None and turn[1].bounds.bottleneck == "compute" and turn[1].memory.utilization <= target:
            # raising the batch pays until the roofline turns compute-bound, not until memory is full
            batch, trial = turn
            fixes.append(batch_fix(ctx, "/workload/batch_size", batch,
                                   f"raise batch_size to {batch:,}: the roofline turns compute-bound there (a larger "
                                   f"batch adds no throughput); the busiest device would use "
                                   f"{gib(trial.memory.busiest.total)} ({pct(trial.memory.utilization)})"))
        else:
            fix = self._batch_fix(ctx, target)
            if fix:
                fixes.append(fix)
        fewer = self._fewer_devices_fix(ctx, threshold)
        if fewer:
            fixes.append(fewer)
        yield self.report(
            _hardware_path(ctx),
            f"memory underused: the busiest device (device {busiest.index}) needs {gib(busiest.total)} of "
            f"{gib(busiest.capacity)} ({pct(mem.utilization)}; threshold {pct(threshold)}); bound by {bottleneck}, "
            "the plan leaves throughput per device unused that a larger batch or fewer devices would take",
            data={"used_bytes": busiest.total, "capacity_bytes": busiest.capacity,
                  "utilization": round(mem.utilization, 6), "threshold": threshold, "device": busiest.index,
                  "per_device_bytes": [d.total for d in mem.devices][:1024], "bottleneck": bottleneck},
            fixes=fixes,
        )

    def _batch_fix(self, ctx, target: float):
        from deploylint.core.estimate.analysis import analyze

        plan = ctx.plan
        work = plan.workload
        if work.training:
            key, current = "micro_batch_size", plan.parallelism.micro_batch_size

            def trial(v):
                return analyze(with_parallelism(plan, micro_batch_size=v), counts=ctx.analysis.params, all_devices=False)
        else:
            key, current = "batch_size", work.batch_size

            def trial(v):
                return analyze(with_workload(plan, batch_size=v), counts=ctx.analysis.params, all_devices=False)
        step = max(1, plan.parallelism.dp) if key == "batch_size" else 1
        capacity = ctx.analysis.memory.busiest.capacity

        def share(v):
            return trial(v).memory.busiest.total / capacity

        if key == "micro_batch_size":
            per_replica = work.batch_size // max(1, plan.parallelism.dp)
            choices = [m for m in range(current + 1, per_replica + 1) if per_replica % m == 0]
            fitting = [m for m in choices[:64] if share(m) <= target]
            if not fitting:
                return None
            new = max(fitting)
        else:
            # memory grows with the batch (KV cache, activations): double until past the target, then bisect
            lo, hi = current // step, current // step * 2 or 1
            for _ in range(60):
                if share(hi * step) > target:
                    break
                lo, hi = hi, hi * 2
            else:
                return None
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if share(mid * step) <= target:
                    lo = mid
                else:
                    hi = mid
            new = lo * step
        if new <= current:
            return None
        result = trial(new)
        if not result.memory.fits:
            return None
        where = "/parallelism/micro_batch_size" if key == "micro_batch_size" else "/workload/batch_size"
        return batch_fix(ctx, where, new, f"raise {key} to {new:,}: the busiest device would use "
                                          f"{gib(result.memory.busiest.total)} ({pct(result.memory.utilization)})")

    def _fewer_devices_fix(self, ctx, threshold: float):
        from deploylint.core.estimate.layouts import search as run

        plan = ctx.plan
        N = plan.hardware.num_devices
        tried = 0
        for n in range(1, N):
            if tried >= 32:
                break
            if N > 64 and N % n and n & (n - 1):
                continue
            tried += 1
            smaller = replace(plan, hardware=replace(plan.hardware, num_devices=n))
            found = run(smaller, limit=1)
            if found:
                c = found[0]
                changes = [Fix.set("/hardware/num_devices", n)]
                par_fix = layout_fix(ctx, c.parallelism, "")
                if par_fix:
                    changes.append(par_fix)
                return Fix.combine(changes, f"use {n} device{'s' if n > 1 else ''} with {c.describe()}: "
                                            f"{pct(c.memory_utilization)} of memory on the busiest", applicability="unsafe")
        return None


class MemoryClaimMismatch(Rule):
    code = "MEM103"
    name = "memory-claim-mismatch"
    severity = Severity.WARNING
    summary = "The claimed memory per device disagrees with the estimate."
    explanation = """
        A claim below the weights the device must hold is impossible (error):
        the weights alone are a hard lower bound. A claim far above the
        estimate (default: more than 2×) usually means the plan does not
        describe what was measured — a different batch, dtype or layout.
    """
    bad_example = """
        [claims]
        memory_per_device_mib = 149   # the weights alone need 422 MiB
    """
    good_example = """
        [claims]
        memory_per_device_mib = 424
    """
    fix_safety = "Unsafe: it rewrites the claim to the estimate; check the measurement first."
    thresholds = {"memory_claim_ratio_max": 2.0}

    def check(self, ctx):
        claim = ctx.plan.claims.memory_per_device_mib
        if claim is None:
            return
        devices = ctx.analysis.memory.devices
        claims = list(claim) if isinstance(claim, tuple) else [claim] * len(devices)
        ratio_max = float(ctx.threshold("memory_claim_ratio_max"))
        per_list = isinstance(claim, tuple)
        worst_low = None
        worst_high = None
        for i, (d, c) in enumerate(zip(devices, claims)):
            claimed = c * 2**20
            if claimed < d.weights and (worst_low is None or claimed / d.weights < worst_low[2]):
                worst_low = (i, d, claimed / d.weights, claimed)
            elif d.total and claimed > ratio_max * d.total and (worst_high is None or claimed / d.total > worst_high[2]):
                worst_high = (i, d, claimed / d.total, claimed)
        estimate_mib = [round(d.total / 2**20, 1) for d in devices]
        if per_list and len(claims) != len(devices):
            yield self.report("/claims/memory_per_device_mib",
                              f"memory_per_device_mib lists {len(claims)} devices but the plan has {len(devices)}",
                              data={"claimed_devices": len(claims), "devices": len(devices)})
        for found, severity in ((worst_low, Severity.ERROR), (worst_high, Severity.WARNING)):
            if found is None:
                continue
            i, d, _, claimed = found
            path = f"/claims/memory_per_device_mib/{i}" if per_list else "/claims/memory_per_device_mib"
            new = [round(v) for v in estimate_mib] if per_list else round(max(estimate_mib))
            if severity is Severity.ERROR:
                msg = (f"claimed {gib(claimed)} on device {d.index}, but its weights alone need {gib(d.weights)} "
                       f"(estimated total {gib(d.total)})")
            else:
                msg = (f"claimed {gib(claimed)} on device {d.index}, {claimed / d.total:.1f}× the estimate of {gib(d.total)} "
                       f"(more than {ratio_max:g}×)")
            fix = Fix.set("/claims/memory_per_device_mib", new, f"claim the estimate: {new} MiB", applicability="unsafe")
            yield self.report(path, msg, severity=severity, fixes=[fix],
                              data={"device": d.index, "claimed_bytes": int(claimed), "estimated_bytes": d.total,
                                    "weights_bytes": d.weights, "estimated_mib": estimate_mib[:1024]})


class MemoryImbalance(Rule):
    code = "MEM104"
    name = "memory-imbalanced"
    severity = Severity.WARNING
    summary = "Memory use differs markedly across devices (max/mean above the threshold)."
    explanation = """
        The busiest device sets the limit for all: with uneven expert
        placement or pipeline stages, the others idle on memory they cannot
        use. In training pipelines the rule compares the model states only:
        the first stage of a 1F1B schedule always holds more micro-batches of
        activations than the last, and no placement changes that. The figures give each device's estimate and what differs
        (experts held, layers per stage, the embedding on the first stage and
        the head on the last).
    """
    bad_example = """
        [parallelism]
        ep = 4
        expert_placement = [4, 1, 1, 2]
    """
    good_example = """
        [parallelism]
        ep = 4
        expert_placement = [2, 2, 2, 2]
    """
    thresholds = {"memory_imbalance_max": 1.15}

    def check(self, ctx):
        mem = ctx.analysis.memory
        limit = float(ctx.threshold("memory_imbalance_max"))
        if len(mem.devices) < 2 or mem.imbalance <= limit:
            return
        if ctx.plan.workload.training and ctx.plan.parallelism.pp > 1:
            # Under 1F1B the first stage holds pp micro-batches of activations and the last one (Narayanan et al.
            # 2021 §2.2): every pipeline has that imbalance and no placement removes it. Judge the model states.
            states = [d.weights + d.gradients + d.optimizer for d in mem.devices]
            mean = sum(states) / len(states)
            if not mean or max(states) / mean <= limit:
                return
        busiest = mem.busiest
        lightest = min(mem.devices, key=lambda d: d.total)
        causes = []
        if busiest.experts != lightest.experts:
            causes.append(f"experts {busiest.experts} vs {lightest.experts}")
        if busiest.layers != lightest.layers:
            causes.append(f"layers {busiest.layers} vs {lightest.layers}")
        if busiest.stage != lightest.stage and busiest.layers == lightest.layers:
            causes.append(f"pipeline stage {busiest.stage} vs {lightest.stage} (embedding, head, in-flight micro-batches)")
        path = "/parallelism/expert_placement" if busiest.experts != lightest.experts and "expert_placement" in (
            (ctx.document.data or {}).get("parallelism") or {}) else "/parallelism"
        yield self.report(
            path,
            f"memory imbalanced: device {busiest.index} needs {gib(busiest.total)}, device {lightest.index} "
            f"{gib(lightest.total)}; max/mean {mem.imbalance:.2f} (threshold {limit:g})"
            + (f" — {'; '.join(causes)}" if causes else ""),
            data={"imbalance": round(mem.imbalance, 4), "threshold": limit, "busiest_device": busiest.index,
                  "lightest_device": lightest.index, "per_device_bytes": [d.total for d in mem.devices][:1024]},
        )


@hookimpl
def deploylint_rules():
    return [OutOfMemory(), MemoryUnderutilized(), MemoryClaimMismatch(), MemoryImbalance()]
