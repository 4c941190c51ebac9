"""PAR4xx — parallelism: world size, divisibility, node boundaries, and better layouts on the same devices."""

from __future__ import annotations

from deploylint.core import Fix, Rule, Severity, hookimpl

from ._shared import fix_layouts, layout_fix, layout_fixes, ms, num, own_candidate, pct, search
from ._startup import engine_says


def _nearest(ctx, key: str, *, require=lambda c: True):
    """The feasible, fitting layout whose ``key`` is closest to the plan's, best estimate first among ties (keeping
    the plan's memory savers when one does: :func:`fix_layouts`)."""
    current = getattr(ctx.plan.parallelism, key)
    pool = fix_layouts(ctx, require)
    if not pool:
        return None
    return min(pool, key=lambda c: (abs(getattr(c.parallelism, key) - current), -c.throughput_samples_per_s, c.min_latency_ms))


def _written(ctx) -> dict:
    return (ctx.document.data or {}).get("parallelism") or {}


class WorldSizeMismatch(Rule):
    code = "PAR401"
    requires = frozenset()          # sizes only: runs without an accelerator or a workload
    name = "world-size-mismatch"
    severity = Severity.ERROR
    summary = "tp·pp·cp·dp does not equal num_devices, or ep·etp does not divide the devices of a pipeline stage."
    explanation = """
        Every device holds exactly one (tp, cp, dp, pp) coordinate: the product
        must be the device count, or some devices idle (or the job does not
        start). In MoE layers the tp·cp·dp devices of a stage regroup as
        etp × ep × expert-data-parallel, so ep·etp must divide tp·cp·dp.
    """
    bad_example = """
        [hardware]
        num_devices = 8
        [parallelism]
        tp = 2
        dp = 3
    """
    good_example = """
        [parallelism]
        tp = 2
        dp = 4
    """
    fix_safety = "Safe when dp can be derived from the other sizes; otherwise unsafe (a different layout)."

    def check(self, ctx):
        par, N = ctx.plan.parallelism, ctx.plan.hardware.num_devices
        product = par.tp * par.pp * par.cp * par.dp
        if product != N:
            fixes = []
            other = par.tp * par.pp * par.cp
            if N % other == 0:
                dp = N // other
                fixes.append(Fix.set("/parallelism/dp", dp, f"set dp = {N} / (tp·pp·cp) = {dp}")
                             if "dp" in _written(ctx) else
                             Fix.insert("/parallelism/dp", dp, f"set dp = {N} / (tp·pp·cp) = {dp}"))
            else:
                best = fix_layouts(ctx)
                if best:
                    fixes += layout_fixes(ctx, best[0], f"use the feasible layout {best[0].describe()}")
            path = "/parallelism/dp" if "dp" in _written(ctx) else "/parallelism"
            shard = ctx.plan.training.dp_shard or par.dp
            if N % other and "dp" not in _written(ctx):
                # dp is derived from the world, and none fits: a dp of 1 printed here would read as the plan's choice
                said = (f"tp·pp·cp = {par.tp}·{par.pp}·{par.cp} = {other} does not divide num_devices = {N}, so no "
                        "data-parallel size dp makes tp·pp·cp·dp equal it")
            else:
                said = (f"tp·pp·cp·dp = {par.tp}·{par.pp}·{par.cp}·{par.dp} = {product}, but num_devices = {N}"
                        + (f" (no dp makes {other} divide {N})" if N % other else ""))
            message, data, severity = engine_says(
                ctx, "world", said,
                {"product": product, "num_devices": N, "tp": par.tp, "pp": par.pp, "cp": par.cp, "dp": par.dp},
                world=N, model_size=other, tp=par.tp, pp=par.pp, cp=par.cp, dp_shard=shard,
                dp_replicate=max(1, par.dp // shard), total=product)
            if severity is not None and "dp" not in _written(ctx) and "tp" in _written(ctx):
                path = "/parallelism/tp"     # a framework derives dp: the sizes that do not divide are the cause
            yield self.report(path, message, data=data, fixes=fixes, severity=severity)
        stage = par.tp * par.cp * par.dp
        if "devices" in ctx.plan.unknown and "dp" not in _written(ctx):
            return          # nothing gives the world, so dp (and the devices of a stage) is not known
        if ctx.plan.model.moe is not None and stage % (par.ep * par.etp):
            fixes = []
            near = _nearest(ctx, "ep")
            if near is not None:
                fixes += layout_fixes(ctx, near, f"use {near.describe()}")
            message, data, severity = engine_says(
                ctx, "expert_grid", f"ep·etp = {par.ep}·{par.etp} = {par.ep * par.etp} does not divide the {stage} "
                "devices (tp·cp·dp) of a pipeline stage", {"ep": par.ep, "etp": par.etp, "stage_devices": stage},
                world=N, grid=par.etp * par.ep * par.pp, ep=par.ep, region=stage,
                shard_region=(ctx.plan.training.dp_shard or par.dp) * par.cp * par.tp)
            yield self.report("/parallelism/ep", message, data=data, fixes=fixes, severity=severity)


class HeadsNotDivisible(Rule):
    code = "PAR402"
    requires = frozenset()          # sizes only: runs without an accelerator or a workload
    name = "heads-not-divisible"
    severity = Severity.ERROR
    summary = "Attention heads are not divisible by tp (an error), or KV heads get replicated across tp ranks (a warning; an info in training)."
    explanation = """
        Tensor parallelism splits attention by heads: each rank must get the
        same whole number of query heads. With fewer KV heads than tp (GQA),
        each KV head is replicated on tp/num_kv_heads ranks — legal, but the
        KV cache and KV projections are stored that many times. A training
        plan keeps no KV cache, so there the replication costs only the KV
        projections (multi-query attention replicates its one KV head under
        any tp > 1) and is an info.
        Severity follows the engine the plan is for: vLLM and SGLang
        replicate KV heads and start (a warning saying so, with their
        source), TorchTitan refuses (an error quoting it); KV heads that
        neither divide tp nor are divided by it stop every engine.
    """
    bad_example = """
        [model]
        num_attention_heads = 16
        [parallelism]
        tp = 3
    """
    good_example = """
        [parallelism]
        tp = 4
    """
    fix_safety = "Unsafe: a different tp is a different layout."

    def check(self, ctx):
        model, par = ctx.plan.model, ctx.plan.parallelism
        if par.tp == 1:
            return
        heads = model.num_attention_heads
        if heads % par.tp:
            near = _nearest(ctx, "tp")
            fixes = []
            if near is not None:
                fixes += layout_fixes(ctx, near, f"use tp={near.parallelism.tp} ({near.describe()})")
            message, data, severity = engine_says(ctx, "heads", f"{heads} attention heads do not divide by tp={par.tp}",
                                                  {"heads": heads, "tp": par.tp}, heads=heads, tp=par.tp)
            yield self.report("/parallelism/tp", message, data=data, fixes=fixes, severity=severity)
            return
        kv = model.num_kv_heads
        if model.attention == "mla" or kv >= par.tp and kv % par.tp == 0:
            return
        if par.tp % kv == 0:
            training = ctx.plan.workload.training
            cost = ("training keeps no KV cache: only the KV projections are computed on each of them" if training
                    else "KV cache and KV projections stored that many times")
            message, data, severity = engine_says(
                ctx, "kv_heads_replicated", f"tp={par.tp} exceeds the {kv} KV heads: each KV head is replicated on "
                f"{par.tp // kv} ranks ({cost})",
                {"kv_heads": kv, "tp": par.tp, "replication": par.tp // kv}, kv=kv, tp=par.tp,
                replication=par.tp // kv)
            # serving pays for it in KV cache, every token; training only in the small KV projections (multi-query
            # attention under any tp > 1, as PaLM trains): there it is an info, unless the engine refuses it
            yield self.report("/parallelism/tp", message, data=data,
                              severity=severity or (Severity.INFO if training else Severity.WARNING))
        else:
            message, data, severity = engine_says(
                ctx, "kv_heads_split", f"{kv} KV heads can neither be split nor evenly replicated over tp={par.tp}",
                {"kv_heads": kv, "tp": par.tp}, kv=kv, tp=par.tp, larger=max(kv, par.tp), smaller=min(kv, par.tp))
            yield self.report("/parallelism/tp", message, data=data, severity=severity)


class LayersNotDivisible(Rule):
    code = "PAR403"
    requires = frozenset()          # sizes only: runs without an accelerator or a workload
    name = "layers-not-divisible"
    severity = Severity.WARNING
    summary = "Layers are not divisible by pp: pipeline stages hold different numbers of layers."
    explanation = """
        The slowest stage sets the pace of a pipeline. With 61 layers on pp=4,
        stages hold 16-15-15-15 layers and three of them idle part of every
        micro-batch. Choose a pp that divides the layers (or place the extra
        layers deliberately, e.g. on stages without the embedding or head).
    """
    bad_example = """
        [model]
        layers = 30
        [parallelism]
        pp = 4
    """
    good_example = """
        [parallelism]
        pp = 3
    """
    fix_safety = "Unsafe: a different pp is a different layout."

    def check(self, ctx):
        from deploylint.core.estimate.layout import stage_layers

        L, pp = ctx.plan.model.layers, ctx.plan.parallelism.pp
        split = ctx.plan.parallelism.pipeline_layers
        if split is not None:
            if len(split) != pp or sum(split) != L:
                yield self.report("/parallelism/pipeline_layers",
                                  f"pipeline_layers places {sum(split)} layers on {len(split)} stages, but the model has "
                                  f"{L} layers and pp={pp}", severity=Severity.ERROR,
                                  data={"layers": L, "pp": pp, "pipeline_layers": list(split)})
                return
            if max(split) - min(split) <= 1:
                return            # placed on purpose, as even as the layer count allows
        if pp <= 1 or (split is None and L % pp == 0):
            return
        sizes = [len(r) for r in stage_layers(L, pp, split)]
        fixes = []
        near = _nearest(ctx, "pp")
        if near is not None:
            fixes += layout_fixes(ctx, near, f"use pp={near.parallelism.pp} ({near.describe()})")
        message, data = f"{L} layers do not divide by pp={pp}: stages hold {'-'.join(map(str, sizes))} layers", \
            {"layers": L, "pp": pp, "stage_layers": sizes}
        severity = None
        if not ctx.plan.training.uneven_pipeline:   # told to split unevenly, the framework accepts it
            message, data, severity = engine_says(ctx, "layers", message, data, layers=L, pp=pp)
        yield self.report("/parallelism/pp", message, data=data, fixes=fixes, severity=severity)


class GroupSpansNodes(Rule):
    code = "PAR404"
    requires = frozenset({"hardware"})
    name = "group-spans-nodes"
    severity = Severity.WARNING
    summary = "A tensor-parallel or expert-parallel group spans nodes."
    explanation = """
        TP all-reduces run in every layer, twice forward and twice backward;
        EP all-to-alls in every MoE layer. Inside a node they ride NVLink-class
        links (hundreds of GB/s per device); across nodes the network is
        several times slower. Keep tp within devices_per_node and put pipeline
        or data parallelism across nodes. Expert parallelism across nodes is
        how the largest MoE models are trained and served (DeepSeek-V3: EP64
        over 8 nodes in training, §3.2; EP32 prefill and EP144 decode in its
        inference system), with the all-to-all overlapped by compute: for ep
        the rule warns only when the estimated network time of the all-to-all
        (one copy per destination node, FP8 dispatch) exceeds the compute of
        the phase it must hide behind and a layout with the expert group
        inside a node fits on the same devices.
    """
    bad_example = """
        [hardware]
        devices_per_node = 8
        [parallelism]
        tp = 16
    """
    good_example = """
        [parallelism]
        tp = 8
        pp = 2
    """
    fix_safety = "Unsafe: a different layout."

    def check(self, ctx):
        par, hw = ctx.plan.parallelism, ctx.plan.hardware
        dpn = hw.devices_per_node
        for key, size, what in (("tp", par.tp, "tp"), ("ep", par.ep * par.etp, "ep·etp")):
            if size <= dpn or (key == "ep" and (par.ep <= 1 or ctx.plan.model.moe is None)):
                continue
            cost = None
            if key == "ep":
                cost = _ep_network_cost(ctx)
                if cost is not None and cost["ep_network_ms"] <= cost["compute_ms"]:
                    continue      # the all-to-all hides behind the compute: cross-node EP as DeepSeek runs it
            fixes = []
            pool = fix_layouts(ctx, lambda c: (c.parallelism.tp if key == "tp" else c.parallelism.ep * c.parallelism.etp) <= dpn)
            if key == "ep" and cost is not None and not pool:
                continue      # no layout with the experts inside a node fits: cross-node EP is the way to run it
            if pool:
                best = pool[0]
                fixes += layout_fixes(ctx, best, f"use {best.describe()} (groups inside a node)")
            bw_in, bw_out = hw.intra_node_bandwidth_gbps, hw.inter_node_bandwidth_gbps
            link = (f"; links: {num(bw_in)} GB/s inside a node vs {num(bw_out)} GB/s across"
                    if bw_in and bw_out else "")
            extra = ""
            if cost is not None:
                extra = (f"; its all-to-all needs {ms(cost['ep_network_ms'])} on the network per {cost['phase']} "
                         f"against {ms(cost['compute_ms'])} of compute, so it cannot hide behind it")
            yield self.report(f"/parallelism/{key}",
                              f"{what}={size} spans {-(-size // dpn)} nodes of {dpn} devices{link}{extra}",
                              data={"group": key, "size": size, "devices_per_node": dpn,
                                    "intra_node_bandwidth_gbps": bw_in, "inter_node_bandwidth_gbps": bw_out,
                                    **(cost or {})},
                              fixes=fixes)


def _gain(new: float, old: float) -> float:
    return new / old - 1 if old else 0.0


def _ep_network_cost(ctx) -> dict | None:
    """The phase whose expert-parallel network traffic is largest against its compute, from the estimate: one copy
    per destination node, FP8 dispatch (estimate/comm.py). None when the inter-node bandwidth is unknown."""
    a, hw, par = ctx.analysis, ctx.plan.hardware, ctx.plan.parallelism
    if not hw.inter_node_bandwidth_gbps:
        return None
    bw = hw.inter_node_bandwidth_gbps * 1e9
    if ctx.plan.workload.training:
        pairs = [("step", a.comm.traffic, a.bounds.phase("step"), 1)]
    else:
        pairs = [("prefill", a.comm.traffic, a.bounds.phase("prefill"), par.pp),
                 ("decode step", a.comm.decode_traffic, a.bounds.phase("decode"), par.pp)]
    worst = None
    for name, traffic, phase, stages in pairs:
        if phase is None:
            continue
        network = sum(t.bytes for t in traffic if t.kind == "ep" and t.link == "inter") / bw * stages
        row = {"phase": name, "ep_network_ms": network * 1e3, "compute_ms": phase.compute_s * 1e3}
        if worst is None or network - phase.compute_s > (worst["ep_network_ms"] - worst["compute_ms"]) / 1e3:
            worst = row
    return worst


class BetterLayoutExists(Rule):
    code = "PAR405"
    name = "better-layout-exists"
    severity = Severity.WARNING
    summary = "A feasible layout on the same devices is estimated to be markedly better."
    explanation = """
        The layout search enumerates every feasible (tp, pp, dp, cp, ep, etp)
        for the plan's devices — each passing every PAR and MOE rule and
        fitting in memory — and estimates each with the same model as the plan.
        When the best is better by more than the threshold (`layout_gain_min`:
        training by throughput; serving by latency or throughput, without
        giving up more than 5% of the other), the rule names it with both sets
        of figures. It never recommends what cannot run: "add TP=2"
        on 3 devices of a 16-head model is not feasible and is never offered.
        A training plan that fits keeps its own memory savers — recompute
        mode, ZeRO stage, sequence parallelism, interleaved schedule — and
        only the layout and the micro-batch are searched: the savers are a
        choice the bound cannot price (what they buy beyond memory, the
        headroom they leave), so changing them is PAR407's information, not
        this warning. Only a plan that does not fit (MEM101) is offered any
        saver, and then the message says "the plan does not fit".
        The threshold is the bound's resolution: a bound at datasheet peaks
        leaves out kernel efficiency and imperfect overlap, which differ
        between layouts (smaller GEMMs at higher tp, exposed collectives), so
        a gain of a few percent ranks nothing; the gain must hold both with
        communication overlapped and with it exposed.
    """
    bad_example = """
        [hardware]
        accelerator = "h100-sxm"
        num_devices = 8
        [parallelism]
        dp = 8        # a 70B model: every replica holds all weights
    """
    good_example = """
        [parallelism]
        tp = 8
    """
    fix_safety = "Unsafe: applies the better layout."
    thresholds = {"layout_gain_min": 0.15}

    def check(self, ctx):
        from deploylint.core.estimate.layouts import keeps_memory_savers

        fits = ctx.analysis.memory.fits
        # a plan that fits keeps its memory savers (PAR407 prices changing them); one that does not may take any
        best = search(ctx, 1, keep_memory_savers=keeps_memory_savers(ctx.plan, fits))
        if not best:
            return
        best = best[0]
        own = own_candidate(ctx)
        gain_min = float(ctx.threshold("layout_gain_min"))
        training = ctx.plan.workload.training
        if training:
            # the plan's own layout is judged by MEM101's limit; the search's headroom is for proposals only
            if not fits:
                gain = float("inf")
            else:
                # better under the bound (communication overlapped) *and* with communication exposed: an
                # alternative that wins only if its gathers hide perfectly (ZeRO-3 at scale) is not proposed
                gain = min(_gain(best.throughput_samples_per_s, own.throughput_samples_per_s),
                           _gain(best.serial_throughput_samples_per_s, own.serial_throughput_samples_per_s))
            figure = (f"{num(best.throughput_samples_per_s)} samples/s vs {num(own.throughput_samples_per_s)} now")
        else:
            # Serving trades latency for throughput (replicas) and back (tensor parallelism): propose a layout only when
            # it is markedly better in one and not worse in the other, so the rule never asks for a trade.
            best, gain = self._serving_best(search(ctx), own, gain_min, ctx.analysis.memory.fits)
            if best is None:
                return
            figure = (f"latency ≥ {ms(best.min_latency_ms)} vs {ms(own.min_latency_ms)} now, "
                      f"≤ {num(best.throughput_samples_per_s)} vs {num(own.throughput_samples_per_s)} samples/s")
        if gain < gain_min:
            return
        fix = layout_fix(ctx, best.parallelism, f"use {best.describe()}")
        gain_text = "the plan does not fit" if gain == float("inf") else f"{pct(gain)} better"
        yield self.report(
            "/parallelism",
            f"a better feasible layout exists on the same {ctx.plan.hardware.num_devices} devices: {best.describe()} — "
            f"{figure} ({gain_text}; bound by {best.bottleneck}, {pct(best.memory_utilization)} of memory)",
            data={"gain": None if gain == float("inf") else round(gain, 4), "threshold": gain_min,
                  "best": best.to_json(), "current": own.to_json()},
            fixes=[fix] if fix else [],
        )


    #: how much worse the other figure may get (latency when throughput improves, and the other way round)
    TOLERATED_LOSS = 0.05

    def _serving_best(self, found, own, gain_min, own_fits):
        if not found:
            return None, 0.0
        if not own_fits:
            return found[0], float("inf")
        best, best_gain = None, 0.0
        for c in found:
            latency_gain = min(_gain(own.min_latency_ms, c.min_latency_ms), _gain(own.serial_latency_ms, c.serial_latency_ms))
            throughput_gain = min(_gain(c.throughput_samples_per_s, own.throughput_samples_per_s),
                                  _gain(c.serial_throughput_samples_per_s, own.serial_throughput_samples_per_s))
            if min(latency_gain, throughput_gain) < -self.TOLERATED_LOSS:
                continue
            gain = max(latency_gain, throughput_gain)
            if gain >= gain_min and gain > best_gain:
                best, best_gain = c, gain
        return best, best_gain


#: what a ZeRO stage shards over the data-parallel ranks, and what it costs (Rajbhandari et al., "ZeRO", SC'20, §7:
#: stages 1 and 2 move the all-reduce's 2Ψ as a reduce-scatter and an all-gather; stage 3 moves 3Ψ, the parameters
#: gathered again for every forward and backward pass)
_ZERO = {0: "nothing sharded", 1: "optimizer states sharded over dp, the traffic of the all-reduce",
         2: "optimizer states and gradients sharded over dp, the traffic of the all-reduce",
         3: "optimizer states, gradients and parameters sharded over dp, 1.5× the traffic of the all-reduce and the "
            "parameters gathered for every micro-batch"}


class MemorySaversCost(Rule):
    code = "PAR407"
    name = "memory-savers-cost-throughput"
    severity = Severity.INFO
    summary = "Training: other memory savers (recompute, ZeRO, sequence parallelism) would let a markedly faster layout fit."
    explanation = """
        Memory savers trade time for memory: full recompute runs every
        layer's forward pass twice (about a third more FLOPs per step),
        ZeRO-3 gathers the parameters for every micro-batch, and without
        ZeRO or sequence parallelism a model may need more pipeline stages
        (a larger bubble) to fit. PAR405 keeps the plan's own savers; this
        rule runs the layout search with any of them and, when a layout that
        changes them is faster by more than `saver_gain_min` than the best
        layout keeping them (and than the plan) — with communication
        overlapped and with it exposed, as PAR405 asks — names it and what
        each change buys or costs. It is information, not a warning: the savers
        may be deliberate, for what a bound cannot see — GEMM efficiency at
        a larger micro-batch, headroom for fragmentation and buffers, what
        the framework of the day offered (Narayanan et al. 2021 recompute
        throughout; sequence parallelism and the distributed optimizer came
        after). It has no fix: `deploylint suggest` lists the layouts and
        applies one on request.
    """
    bad_example = """
        [model]
        layers = 24
        hidden_size = 2304
        num_attention_heads = 24
        vocab_size = 51200
        [hardware]
        accelerator = "a100-80gb"
        num_devices = 32
        [parallelism]
        dp = 32
        recompute = "full"    # a 1.7B model fits at half the memory without it
        [workload]
        mode = "training"
        batch_size = 512
        seq_len = 2048
    """
    good_example = """
        [parallelism]
        dp = 32
        recompute = "none"
    """
    fix_safety = "No fix: the savers are the authors' choice (deploylint suggest applies a layout on request)."
    thresholds = {"saver_gain_min": 0.15}

    def check(self, ctx):
        if not ctx.plan.workload.training or not ctx.analysis.memory.fits:
            return      # serving has no savers to change; a plan that does not fit gets PAR405's search with any saver
        from deploylint.core.estimate.layouts import saver_changes

        own = own_candidate(ctx)
        kept = search(ctx, 1, keep_memory_savers=True)
        ref = kept[0] if kept and kept[0].throughput_samples_per_s > own.throughput_samples_per_s else own

        def gain_of(c):     # a win both with communication overlapped (the bound) and exposed, as PAR405 asks
            return min(_gain(c.throughput_samples_per_s, ref.throughput_samples_per_s),
                       _gain(c.serial_throughput_samples_per_s, ref.serial_throughput_samples_per_s))

        # the layout that changes a saver and wins most under both: the fastest under the bound may win only if its
        # ZeRO-3 gathers hide perfectly
        pool = [c for c in search(ctx) if saver_changes(ctx.plan, c.parallelism)]
        if not pool:
            return
        best = max(pool, key=gain_of)
        gain, gain_min = gain_of(best), float(ctx.threshold("saver_gain_min"))
        if gain < gain_min:
            return
        changes = saver_changes(ctx.plan, best.parallelism)
        what = [self._describe(ctx, best.parallelism, key, old, new) for key, old, new in changes]
        than = "the plan" if ref is own else f"{ref.describe()}, the best layout keeping the plan's savers"
        yield self.report(
            "/parallelism",
            f"other memory savers would let a faster layout fit on the same {ctx.plan.hardware.num_devices} devices: "
            f"{best.describe()} — {num(best.throughput_samples_per_s)} samples/s vs "
            f"{num(own.throughput_samples_per_s)} now ({pct(gain)} better than {than}; bound by {best.bottleneck}, "
            f"{pct(best.memory_utilization)} of memory), with {'; '.join(what)}. The plan's savers may be deliberate "
            "(GEMM efficiency at larger micro-batches, headroom no estimate sees): this is what they cost under the bound",
            data={"gain": round(gain, 4), "threshold": gain_min, "best": best.to_json(), "current": own.to_json(),
                  "reference": ref.to_json(), "changes": [{"key": k, "old": o, "new": n} for k, o, n in changes]},
        )

    @staticmethod
    def _describe(ctx, par, key, old, new) -> str:
        if key == "recompute":
            from deploylint.core.estimate.flops import estimate_flops
            from deploylint.core.records import replace

            def extra(f):
                return f.hardware_flops_per_sample / f.flops_per_sample - 1 if f.flops_per_sample else 0.0

            before = extra(ctx.analysis.flops)
            after = extra(estimate_flops(replace(ctx.plan, parallelism=par), ctx.analysis.params))
            if abs(before - after) <= 1e-9:
                cost = " (the same FLOPs, other activations stored)"
            elif after <= 1e-9 or before <= 1e-9:
                cost = f" (the recomputed forward pass is {pct(max(before, after))} more FLOPs per step)"
            else:
                cost = f" (recomputation: {pct(before)} more FLOPs per step now, {pct(after)} then)"
            return f"recompute={new} in place of {old}{cost}"
        if key == "zero_stage":
            return f"ZeRO stage {new} in place of {old} ({_ZERO.get(new, 'sharded over dp')})"
        if new:
            return (f"sequence parallelism over tp={par.tp} (the activations outside the tensor-parallel GEMMs split "
                    "over the tp ranks, at the traffic of the all-reduce it replaces)")
        return f"no sequence parallelism at tp={par.tp}"


class BatchNotDivisible(Rule):
    code = "PAR406"
    requires = frozenset({"workload"})   # sizes of the batch and the layout only
    name = "batch-not-divisible"
    severity = Severity.WARNING
    summary = "The batch does not split evenly over the data-parallel ranks (training: into micro-batches on every rank)."
    explanation = """
        Data parallelism gives every replica the same share of the batch. In
        training, the global batch is micro_batch_size × accumulation steps ×
        dp: a batch that micro_batch_size × dp does not divide cannot be
        formed, and the frameworks refuse to start (Megatron-LM: "global batch
        size (…) is not divisible by micro batch size (…) times data parallel
        size (…)", megatron/core/num_microbatches_calculator.py; DeepSpeed:
        "train_batch_size is not equal to micro_batch_per_gpu *
        gradient_acc_step * world_size", deepspeed/runtime/config.py;
        TorchTitan: "global batch size must be multiple of local batch size
        times data-parallel degree", torchtitan/train.py) — an error.
        In serving, replicas that get uneven shares (batch 8 over 3 replicas:
        3-3-2) run at the pace of the busiest one while the others idle for
        part of every step — a warning naming the split and the idle share.
    """
    bad_example = """
        [hardware]
        num_devices = 3
        [workload]
        mode = "inference"
        batch_size = 8      # 3-3-2 over dp = 3
    """
    good_example = """
        [workload]
        mode = "inference"
        batch_size = 9      # 3 per replica
    """
    fix_safety = "Unsafe: a different batch (training: different hyperparameters; serving: a different load)."

    def check(self, ctx):
        from ._shared import batch_fix

        par, work = ctx.plan.parallelism, ctx.plan.workload
        B, dp = work.batch_size, par.dp
        unit = par.micro_batch_size * dp if work.training else dp
        if dp < 1 or B % unit == 0:
            return
        if "dp" not in _written(ctx) and par.tp * par.pp * par.cp * dp != ctx.plan.hardware.num_devices:
            return      # dp derived from a world tp·pp·cp does not divide (PAR401): no data-parallel size to split over
        lower, upper = B // unit * unit, (B // unit + 1) * unit
        fixes = [batch_fix(ctx, "/workload/batch_size", b,
                           f"set batch_size to {b} ({b // dp} per data-parallel rank"
                           + (f", {b // unit} micro-batches of {par.micro_batch_size})" if work.training else ")"))
                 for b in (lower, upper) if b >= unit]
        if work.training:
            message = (f"global batch {B} is not a multiple of micro_batch_size × dp = {par.micro_batch_size} × {dp} = "
                       f"{unit}: the frameworks refuse to start (nearest: {', '.join(str(b) for b in (lower, upper) if b)})")
            message, data, _ = engine_says(
                ctx, "batch", message, {"batch_size": B, "micro_batch_size": par.micro_batch_size, "dp": dp,
                                        "multiple_of": unit, "nearest": [b for b in (lower, upper) if b]},
                batch=B, micro=par.micro_batch_size, dp=dp,
                gas=ctx.plan.training.gradient_accumulation_steps or B // unit, world=ctx.plan.hardware.num_devices)
            yield self.report("/workload/batch_size", message, severity=Severity.ERROR, fixes=fixes, data=data)
            return
        base, extra = divmod(B, dp)
        split = [base + (1 if r < extra else 0) for r in range(dp)]
        busiest = split[0]
        idle = 1 - B / (busiest * dp)
        shown = "-".join(map(str, split)) if dp <= 8 else f"{busiest} on {extra} ranks, {base} on {dp - extra}"
        yield self.report("/workload/batch_size",
                          f"batch {B} does not split evenly over dp = {dp} replicas: {shown} sequences; the replicas "
                          f"wait for the busiest, {pct(idle)} of replica time idles",
                          data={"batch_size": B, "dp": dp, "split": split, "idle_fraction": round(idle, 4),
                                "nearest": [b for b in (lower, upper) if b]},
                          fixes=fixes)


@hookimpl
def deploylint_rules():
    return [WorldSizeMismatch(), HeadsNotDivisible(), LayersNotDivisible(), GroupSpansNodes(), BetterLayoutExists(),
            BatchNotDivisible(), MemorySaversCost()]
