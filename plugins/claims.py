"""PRF5xx — claims: throughput and latency against the roofline bounds and against each other."""

from __future__ import annotations

from deploylint.core import Fix, Rule, Severity, hookimpl

from ._shared import claim_path, ms, num, pct


def _claimed_samples(ctx):
    """Claimed throughput in samples/s and the claim it came from (tokens/s converted), or None."""
    c, work = ctx.plan.claims, ctx.plan.workload
    if c.throughput_samples_per_s:
        return c.throughput_samples_per_s, "throughput_samples_per_s"
    if c.throughput_tokens_per_s:
        per = work.seq_len if work.training or not work.output_len else work.output_len
        return c.throughput_tokens_per_s / per, "throughput_tokens_per_s"
    return None


def _claimed_latencies(ctx):
    """Each latency claim as (claim key, claimed ms, what it covers, the matching bound in ms)."""
    c, b = ctx.plan.claims, ctx.analysis.bounds
    out = []
    if c.latency_ms:
        out.append(("latency_ms", c.latency_ms, "per step" if ctx.plan.workload.training else "per request", b.min_latency_ms))
    if c.latency_ms_per_layer:
        out.append(("latency_ms_per_layer", c.latency_ms_per_layer, "per layer", b.min_latency_ms_per_layer))
    if c.ttft_ms and b.ttft_ms is not None:
        out.append(("ttft_ms", c.ttft_ms, "to the first token", b.ttft_ms))
    if c.tpot_ms and b.tpot_ms is not None:
        out.append(("tpot_ms", c.tpot_ms, "per output token", b.tpot_ms))
    return out


class ThroughputAboveBound(Rule):
    code = "PRF501"
    name = "throughput-above-bound"
    severity = Severity.ERROR
    summary = "The claimed throughput is above the roofline bound: no schedule on this hardware reaches it."
    explanation = """
        The bound assumes perfect overlap of compute, memory traffic and
        communication at the datasheet peaks, so real systems stay below it.
        A claim above it is wrong — or the plan does not describe the system
        that was measured (a different batch, dtype, model or device count).
    """
    bad_example = """
        [claims]
        throughput_samples_per_s = 1e9
    """
    good_example = """
        [claims]
        throughput_samples_per_s = 3800
    """

    def check(self, ctx):
        claimed = _claimed_samples(ctx)
        if claimed is None:
            return
        samples, key = claimed
        b = ctx.analysis.bounds
        bound = b.max_throughput_samples_per_s
        if samples <= bound:
            return
        shown = (f"{num(samples)} samples/s" if key == "throughput_samples_per_s"
                 else f"{num(ctx.plan.claims.throughput_tokens_per_s)} tokens/s ({num(samples)} samples/s)")
        yield self.report(
            claim_path(key),
            f"claimed {shown} is {samples / bound:.2f}× the bound of {num(bound)} samples/s "
            f"(bound by {b.bottleneck})",
            data={"claimed_samples_per_s": samples, "bound_samples_per_s": bound, "ratio": round(samples / bound, 4),
                  "bottleneck": b.bottleneck},
        )


class ClaimsContradict(Rule):
    code = "PRF502"
    name = "claims-contradict"
    severity = Severity.WARNING
    summary = "Throughput, latency and batch size contradict each other (Little's law), or latencies disagree."
    explanation = """
        Little's law ties them together: sequences in flight = throughput ×
        time per sequence. With batch 8 and 2.1 ms per layer over 4 layers
        (8.4 ms per request), the deployment completes at most 8 / 8.4 ms ≈
        952 requests/s; a claim of 3800/s needs 32 in flight. Per-layer
        latency × layers must also match the request latency, and TTFT plus
        TPOT per further token must add up to it. The tolerance
        (`claims_tolerance`) is a factor either way (queues, pipelining and overheads blur the
        relation, but not by 4×).
    """
    bad_example = """
        [workload]
        batch_size = 8
        [claims]
        throughput_samples_per_s = 3800
        latency_ms_per_layer = 2.1    # 4 layers: 8.4 ms per request
    """
    good_example = """
        [claims]
        throughput_samples_per_s = 950
        latency_ms_per_layer = 2.1
    """
    fix_safety = "Unsafe: rewrites a claim to the value the others imply; which claim is wrong is for you to judge."
    thresholds = {"claims_tolerance": 1.5}

    def check(self, ctx):
        c, work, L = ctx.plan.claims, ctx.plan.workload, ctx.plan.model.layers
        tol = float(ctx.threshold("claims_tolerance"))
        # latency per request (or per step), from whichever claims give it
        latency = None
        if c.latency_ms:
            latency = (c.latency_ms, "latency_ms")
        elif c.latency_ms_per_layer:
            latency = (c.latency_ms_per_layer * L, "latency_ms_per_layer")
        elif c.ttft_ms and c.tpot_ms and work.output_len:
            latency = (c.ttft_ms + c.tpot_ms * max(0, work.output_len - 1), "ttft_ms")
        if c.latency_ms and c.latency_ms_per_layer:
            implied = c.latency_ms_per_layer * L
            if not _close(implied, c.latency_ms, tol):
                yield self.report(claim_path("latency_ms_per_layer"),
                                  f"latency_ms_per_layer {num(c.latency_ms_per_layer)} × {L} layers = {ms(implied)}, "
                                  f"but latency_ms = {ms(c.latency_ms)}",
                                  data={"per_layer_ms": c.latency_ms_per_layer, "layers": L, "implied_ms": implied,
                                        "latency_ms": c.latency_ms, "tolerance": tol})
        if c.latency_ms and c.ttft_ms and c.tpot_ms and work.output_len:
            implied = c.ttft_ms + c.tpot_ms * max(0, work.output_len - 1)
            if not _close(implied, c.latency_ms, tol):
                yield self.report(claim_path("latency_ms"),
                                  f"ttft {ms(c.ttft_ms)} + {work.output_len - 1} × tpot {ms(c.tpot_ms)} = {ms(implied)}, "
                                  f"but latency_ms = {ms(c.latency_ms)}",
                                  data={"implied_ms": implied, "latency_ms": c.latency_ms, "tolerance": tol})
        if c.throughput_samples_per_s and c.throughput_tokens_per_s:
            per = work.seq_len if work.training or not work.output_len else work.output_len
            implied = c.throughput_samples_per_s * per
            if not _close(implied, c.throughput_tokens_per_s, tol):
                yield self.report(claim_path("throughput_tokens_per_s"),
                                  f"{num(c.throughput_samples_per_s)} samples/s × {per} tokens = {num(implied)} tokens/s, "
                                  f"but throughput_tokens_per_s = {num(c.throughput_tokens_per_s)}",
                                  data={"implied_tokens_per_s": implied, "claimed_tokens_per_s": c.throughput_tokens_per_s})
        claimed = _claimed_samples(ctx)
        if claimed is None or latency is None:
            return
        samples, t_key = claimed
        lat_ms, l_key = latency
        in_flight = samples * lat_ms / 1e3
        batch = work.batch_size
        if _close(in_flight, batch, tol):
            return
        consistent = batch / (lat_ms / 1e3)
        what = "steps" if work.training else "requests"
        fixes = []
        if t_key == "throughput_samples_per_s":
            fixes.append(Fix.set(claim_path(t_key), round(consistent, 3 if consistent < 10 else 0 if consistent > 100 else 1),
                                 f"claim the throughput the batch and latency imply: {num(consistent)} samples/s",
                                 applicability="unsafe"))
        yield self.report(
            claim_path(l_key),
            f"claims contradict: {num(samples)} samples/s × {ms(lat_ms)} per {what[:-1]} = {num(in_flight)} in flight, "
            f"but batch_size = {batch}; batch {batch} at {ms(lat_ms)} gives {num(consistent)} samples/s "
            f"({max(in_flight / batch, batch / in_flight):.1f}× apart)",
            data={"throughput_samples_per_s": samples, "latency_ms": lat_ms, "implied_in_flight": in_flight,
                  "batch_size": batch, "consistent_throughput_samples_per_s": consistent,
                  "ratio": round(in_flight / batch, 4), "tolerance": tol, "latency_from": l_key, "throughput_from": t_key},
            fixes=fixes,
        )


def _close(a: float, b: float, tol: float) -> bool:
    if a <= 0 or b <= 0:
        return a == b
    return max(a / b, b / a) <= tol


class LatencyBelowMinimum(Rule):
    code = "PRF503"
    name = "latency-below-minimum"
    severity = Severity.ERROR
    summary = "A claimed latency is below the physical minimum for this plan."
    explanation = """
        Each step must at least move its bytes through HBM, do its FLOPs at
        peak and send its traffic over the links; a latency below the largest
        of those (at the plan's batch size) cannot be measured on this
        hardware. The figures name the bound and the resource behind it.
    """
    bad_example = """
        [claims]
        tpot_ms = 0.5     # 70B weights need ≥ 5 ms per token on 8 × H100
    """
    good_example = """
        [claims]
        tpot_ms = 12
    """

    def check(self, ctx):
        b = ctx.analysis.bounds
        for key, claimed, what, bound in _claimed_latencies(ctx):
            if claimed >= bound:
                continue
            yield self.report(
                claim_path(key),
                f"claimed {ms(claimed)} {what} is below the physical minimum of {ms(bound)} "
                f"({pct(claimed / bound)} of it; bound by {b.bottleneck})",
                data={"claimed_ms": claimed, "minimum_ms": bound, "ratio": round(claimed / bound, 4),
                      "bottleneck": b.bottleneck},
            )


@hookimpl
def deploylint_rules():
    return [ThroughputAboveBound(), ClaimsContradict(), LatencyBelowMinimum()]
