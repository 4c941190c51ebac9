"""CMP2xx — compute: what the claims imply about how busy the bottleneck resource is.

Training and prefill are judged by model FLOPs utilization (MFU: the FLOPs the
claimed throughput needs over the peak of all devices); decode by memory
bandwidth utilization (MBU), since a decode step reads every weight and the KV
cache for a handful of FLOPs per byte — low MFU there is normal, not waste.
"""

from __future__ import annotations

from deploylint.core import Rule, Severity, hookimpl

from ._shared import batch_fix, claim_path, compute_bound_batch, gib, num, pct

#: Published MFU of well-run large training jobs, for the thresholds' documentation:
#: Megatron-LM (Narayanan et al. 2021, Table 1) 44–52% of A100 peak; PaLM 46.2% (Chowdhery et al. 2022, Table 3);
#: Korthikanti et al. 2022: 54.2% for 530B with sequence parallelism and selective recompute.
PUBLISHED_MFU = {"megatron-2021": (0.44, 0.52), "palm-540b": 0.462, "korthikanti-530b": 0.542}


def _metric(ctx):
    """(name, implied value, phase) for the plan's dominant phase, or None when the claims imply nothing."""
    a = ctx.analysis
    im = a.implied
    decode = a.bounds.phase("decode")
    if a.phase == "decode" and not (decode is not None and decode.bottleneck == "compute"):
        # decode reads every weight and the KV cache for a few FLOPs per byte: judge it by bandwidth, never by MFU —
        # unless the estimate says this decode is compute-bound (a large batch, speculative verification): then its
        # bandwidth is not the resource that limits it, and MFU is the measure
        if im.bandwidth_utilization is None:
            return None
        return "memory-bandwidth utilization (MBU)", im.bandwidth_utilization, "decode"
    if im.utilization is not None:
        return "model FLOPs utilization (MFU)", im.utilization, a.phase
    return None


def _claim_pointer(ctx) -> str:
    source = ctx.analysis.implied.source
    return claim_path(source) if source else "/claims"


class ComputeUnderutilized(Rule):
    code = "CMP201"
    name = "compute-underutilized"
    severity = Severity.WARNING
    summary = "The claims imply the bottleneck resource is barely used (MFU for training and prefill, MBU for decode)."
    explanation = """
        If the claimed throughput needs only a sliver of the hardware's peak,
        either the claim is wrong or the plan wastes the hardware — usually
        with a batch far too small to keep the devices busy. Well-run large
        training jobs reach 40–55% MFU (Megatron-LM 2021 Table 1: 44–52% on
        A100; PaLM: 46.2%; Korthikanti et al. 2022: 54.2%); the default
        threshold (`utilization_min`) flags plans far below that. Decode is judged by memory
        bandwidth, since it is bandwidth-bound by nature.
    """
    bad_example = """
        [workload]
        mode = "inference"
        batch_size = 8
        seq_len = 16
        [claims]
        throughput_samples_per_s = 3800
    """
    good_example = """
        [workload]
        mode = "inference"
        batch_size = 256
        seq_len = 2048
    """
    fix_safety = "Unsafe: it raises the batch size to where the estimate becomes compute-bound."
    thresholds = {"utilization_min": 0.10}

    def check(self, ctx):
        metric = _metric(ctx)
        if metric is None:
            return
        label, value, phase = metric
        threshold = float(ctx.threshold("utilization_min"))
        if value >= threshold or value > 1:
            return
        a = ctx.analysis
        fixes = []
        fix = self._batch_fix(ctx)
        if fix:
            fixes.append(fix)
        implied = a.implied
        yield self.report(
            _claim_pointer(ctx),
            f"the claims imply {pct(value)} {label} in {phase}: {num(implied.flops / 1e12)} TFLOP/s needed of "
            f"{num(a.peak_flops / 1e12)} TFLOP/s peak ({ctx.plan.hardware.num_devices} × {num(ctx.plan.hardware.peak_tflops)})"
            f"; threshold {pct(threshold)}",
            data={"metric": "mbu" if "MBU" in label else "mfu", "utilization": value, "threshold": threshold,
                  "phase": phase, "implied_flops": implied.flops, "peak_flops": a.peak_flops,
                  "implied_throughput_samples_per_s": implied.throughput_samples_per_s, "from": implied.source,
                  "bottleneck": a.bounds.bottleneck},
            fixes=fixes,
        )

    def _batch_fix(self, ctx):
        """The smallest batch at which the estimate is compute-bound (and still fits), with its utilization."""
        chosen = compute_bound_batch(ctx)
        if chosen is None:
            return None
        batch, trial = chosen
        phase = trial.bounds.phases[0]
        share = phase.memory_s / phase.compute_s if phase.compute_s else 0.0
        state = ("the roofline turns compute-bound" if trial.bounds.bottleneck == "compute"
                 else f"still bound by {trial.bounds.bottleneck}, the largest batch that fits")
        message = (f"raise batch_size to {batch:,}: {state} (memory traffic {pct(share)} of compute time; "
                   f"{gib(trial.memory.busiest.total)} on the busiest device)")
        return batch_fix(ctx, "/workload/batch_size", batch, message)


class UtilizationImpossible(Rule):
    code = "CMP202"
    name = "utilization-impossible"
    severity = Severity.ERROR
    summary = "The claims imply more than 100% utilization (impossible) or more than a plausible ceiling."
    explanation = """
        No device runs above its dense peak or streams memory above its
        bandwidth. Above 100% the claim is impossible (error); above the
        plausible ceiling (`mfu_plausible_max`, `mbu_plausible_max` — the best published large
        training runs reach about 55% MFU) it is very unlikely (warning). Check
        the peak figure (dense, not the sparsity number) and the claim.
    """
    bad_example = """
        [hardware]
        accelerator = "a100-80gb"
        num_devices = 8
        [claims]
        mfu = 1.3
    """
    good_example = """
        [claims]
        mfu = 0.45
    """
    thresholds = {"mfu_plausible_max": 0.75, "mbu_plausible_max": 0.90}

    def check(self, ctx):
        metric = _metric(ctx)
        if metric is None:
            return
        label, value, phase = metric
        mbu = "MBU" in label
        ceiling = float(ctx.threshold("mbu_plausible_max" if mbu else "mfu_plausible_max"))
        if value <= ceiling:
            return
        severity = Severity.ERROR if value > 1 else Severity.WARNING
        word = "impossible" if value > 1 else f"implausible (above {pct(ceiling)})"
        a = ctx.analysis
        yield self.report(
            _claim_pointer(ctx),
            f"the claims imply {pct(value)} {label} in {phase}, which is {word}"
            + (f"; the estimate allows at most {num(a.bounds.max_throughput_samples_per_s)} samples/s"
               if a.bounds.max_throughput_samples_per_s else ""),
            severity=severity,
            data={"metric": "mbu" if mbu else "mfu", "utilization": value, "ceiling": ceiling,
                  "phase": phase, "implied_flops": a.implied.flops, "peak_flops": a.peak_flops},
        )


@hookimpl
def deploylint_rules():
    return [ComputeUnderutilized(), UtilizationImpossible()]
