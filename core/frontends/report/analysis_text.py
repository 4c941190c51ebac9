"""``deploylint analyze``: the estimate as a report a reviewer reads top to bottom.

Model size, a per-device memory table with its breakdown, compute and the
roofline bounds with the bottleneck, what the claims imply, and an assessment
in the spirit of a hand review — does it fit, is it optimized (and if not,
which findings say why), what share of peak it uses.
"""

from __future__ import annotations

from ...diagnostics import Severity


def _b(n: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def _p(n: float) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.4g}{unit}"
    return f"{n:.0f}"


def _pct(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x * 100:.3g}%"


def _n(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g} ms"


#: findings that mean "runs, but not as well as it could" (the assessment's "optimized: no")
_OPTIMIZATION_CODES = ("MEM102", "MEM104", "CMP201", "MOE301", "MOE304", "PAR403", "PAR404", "PAR405")


def render_text(analysis, plan, diagnostics=()) -> str:
    a, p = analysis, plan
    hw, par, work = p.hardware, p.parallelism, p.workload
    pc = a.params
    out: list[str] = []
    title = p.name or (p.path or "plan")
    out.append(f"deploylint analysis — {title}")
    out.append("=" * len(out[-1]))
    out.append("")
    kind = f"MoE, {p.model.moe.num_experts} experts, top-{p.model.moe.top_k}" if p.model.moe else "dense"
    out.append(f"Model        {p.model.layers} layers, hidden {p.model.hidden_size}, {kind}")
    out.append(f"  parameters {_p(pc.total)} total ({pc.total:,}); {_p(pc.active)} active per token "
               f"({_p(pc.active - pc.embedding)} without the input embedding)")
    if pc.expert_params:
        out.append(f"  experts    {_p(pc.expert_params)} in routed experts, {_p(pc.dense_params)} elsewhere")
    if pc.mtp:
        out.append(f"  MTP        {_p(pc.mtp)} in multi-token-prediction modules (not in the total)")
    acc = f" ({hw.accelerator})" if hw.accelerator else ""
    out.append(f"Hardware     {hw.num_devices} × {hw.memory_gib:g} GiB, {hw.peak_tflops:g} TFLOP/s, "
               f"{hw.memory_bandwidth_gbps:g} GB/s{acc}; {hw.devices_per_node} per node")
    layout = f"tp={par.tp} pp={par.pp} dp={par.dp} cp={par.cp} ep={par.ep} etp={par.etp}"
    if work.training:
        layout += f" zero={par.zero_stage} recompute={par.recompute} micro_batch={par.micro_batch_size}"
    out.append(f"Layout       {layout}")
    wl = f"{work.mode}, batch {work.batch_size}, seq {work.seq_len}"
    if not work.training and work.output_len:
        wl += f" + {work.output_len} out"
    out.append(f"Workload     {wl}, {work.dtype}")
    out.append("")

    out.append("Memory per device")
    head = f"  {'dev':>5} {'stage':>5} {'ep':>4} {'weights':>10} {'grads':>10} {'optim':>10} {'activ':>10} {'kv':>10} {'total':>10} {'use':>7}"
    out.append(head)
    devices = list(a.memory.devices)
    shown = devices if len(devices) <= 16 else _distinct(devices)
    for d in shown:
        out.append(f"  {d.index:>5} {d.stage:>5} {d.ep_rank:>4} {_b(d.weights):>10} {_b(d.gradients):>10} {_b(d.optimizer):>10} "
                   f"{_b(d.activations):>10} {_b(d.kv_cache):>10} {_b(d.total):>10} {_pct(d.utilization):>7}")
    if len(shown) < len(devices):
        out.append(f"  ({len(devices) - len(shown)} more devices repeat one of the rows above)")
    busiest = a.memory.busiest
    out.append(f"  busiest device {busiest.index}: {_b(busiest.total)} of {_b(busiest.capacity)} "
               f"({_pct(a.memory.utilization)}); imbalance max/mean {a.memory.imbalance:.3f}")
    out.append("")

    fl, b = a.flops, a.bounds
    out.append("Compute")
    out.append(f"  {fl.flops_per_token:.4g} FLOPs per token, {fl.flops_per_sample:.4g} per sample ({fl.formula})")
    out.append(f"  peak {a.peak_flops / 1e12:,.0f} TFLOP/s over {hw.num_devices} devices")
    out.append("")
    out.append("Bounds (roofline: perfect overlap at datasheet peaks)")
    for ph in b.phases:
        comm = "skipped" if ph.comm_s is None else _ms(ph.comm_s * 1e3)
        extra = f", bubble {_pct(ph.bubble)}" if ph.bubble else ""
        out.append(f"  {ph.name:<8} ≥ {_ms(ph.time_s * 1e3)}: compute {_ms(ph.compute_s * 1e3)}, memory {_ms(ph.memory_s * 1e3)}, "
                   f"communication {comm}{extra} → {ph.bottleneck}")
    out.append(f"  max throughput {_n(b.max_throughput_samples_per_s)} samples/s ({_n(b.max_throughput_tokens_per_s)} tokens/s)")
    out.append(f"  min latency    {_ms(b.min_latency_ms)} ({_ms(b.min_latency_ms_per_layer)} per layer); bottleneck: {b.bottleneck}")
    if a.missing:
        out.append(f"  missing figures: {', '.join('hardware.' + m for m in a.missing)} (communication bound skipped)")
    out.append("")

    im = a.implied
    if im.source:
        out.append("Claims imply")
        if im.throughput_samples_per_s:
            out.append(f"  {_n(im.throughput_samples_per_s)} samples/s (from {im.source})")
        if im.utilization is not None:
            out.append(f"  {_pct(im.utilization)} of peak FLOP/s (MFU)")
        if im.bandwidth_utilization is not None:
            out.append(f"  {_pct(im.bandwidth_utilization)} of HBM bandwidth in decode (MBU)")
        out.append("")

    out.append("Assessment")
    fits = a.memory.fits
    out.append(f"  fits in memory:  {'yes' if fits else 'NO'} (busiest device at {_pct(a.memory.utilization)})")
    why = [d for d in diagnostics if d.code in _OPTIMIZATION_CODES]
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    optimized = not why and fits
    out.append(f"  optimized:       {'yes' if optimized else 'no'}" + ("" if optimized else
               " — " + "; ".join(sorted({f'{d.code} {d.rule}' for d in why})) if why else " — it does not fit"))
    share = im.utilization
    if share is None:
        out.append("  share of peak:   no throughput or latency claimed; at the bound the bottleneck is "
                   f"{b.bottleneck}")
    else:
        out.append(f"  share of peak:   {_pct(share)} of the FLOP/s the devices can do"
                   + (f", {_pct(im.bandwidth_utilization)} of memory bandwidth" if im.bandwidth_utilization is not None else ""))
    if errors:
        out.append(f"  errors:          {', '.join(sorted({d.code for d in errors}))} (see `deploylint check`)")
    out.append("")
    out.append("Assumptions")
    for line in a.assumptions:
        out.append(f"  - {line}")
    return "\n".join(out)


def _distinct(devices):
    seen, out = set(), []
    for d in devices:
        key = (d.stage, d.ep_rank, d.total)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
