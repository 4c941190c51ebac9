"""The Analysis: one estimate of a plan's physics, computed once and shared by every rule.

:func:`analyze` composes the pure estimators (parameters, memory, FLOPs,
communication) into roofline bounds: a step cannot take less time than its
FLOPs at peak, its bytes at HBM bandwidth, or its traffic at link bandwidth,
and a pipeline adds its bubble. From those follow the maximum throughput and
the minimum latency the hardware allows, with the bottleneck named. Claims
are turned into the utilization they imply, so rules compare like with like.
"""

from __future__ import annotations

from typing import Any

from ..records import record
from ..plan import DTYPE_BYTES
from .comm import CommEstimate, estimate_comm
from .flops import FlopsEstimate, estimate_flops, stage_training_flops
from .layout import dualpipe, expert_data_parallel, micro_batches, stage_layers, virtual_stages
from .memory import MemoryEstimate, distinct_devices, estimate_memory, kv_bytes_per_token
from .params import ParamCounts, count_params


@record(frozen=True, slots=True)
class PhaseBound:
    """Lower bounds on the time of one phase (a training step, a prefill, one decode step), in seconds."""

    name: str
    compute_s: float
    memory_s: float
    comm_s: float | None      # None when a link bandwidth it needs is missing
    bubble: float = 0.0       # pipeline bubble as a share of the phase

    @property
    def time_s(self) -> float:
        core = max(self.compute_s, self.memory_s, self.comm_s or 0.0)
        return core / (1 - self.bubble) if self.bubble < 1 else core

    @property
    def serial_s(self) -> float:
        """The phase with its communication not overlapped: a pessimistic companion to :attr:`time_s`."""
        core = max(self.compute_s, self.memory_s) + (self.comm_s or 0.0)
        return core / (1 - self.bubble) if self.bubble < 1 else core

    @property
    def bottleneck(self) -> str:
        parts = {"compute": self.compute_s, "memory bandwidth": self.memory_s, "communication": self.comm_s or 0.0}
        return max(parts, key=parts.get)

    def to_json(self) -> dict:
        return {"time_ms": self.time_s * 1e3, "compute_ms": self.compute_s * 1e3, "memory_ms": self.memory_s * 1e3,
                "comm_ms": None if self.comm_s is None else self.comm_s * 1e3, "bubble": self.bubble,
                "bottleneck": self.bottleneck}


@record(frozen=True)
class Bounds:
    max_throughput_samples_per_s: float
    max_throughput_tokens_per_s: float
    min_latency_ms: float
    min_latency_ms_per_layer: float
    bottleneck: str
    phases: tuple[PhaseBound, ...]
    ttft_ms: float | None = None
    tpot_ms: float | None = None

    def phase(self, name: str) -> PhaseBound | None:
        return next((p for p in self.phases if p.name == name), None)


@record(frozen=True)
class Implied:
    """What the claims imply, when they say enough to imply it."""

    throughput_samples_per_s: float | None = None
    source: str | None = None            # which claim the throughput came from
    flops: float | None = None           # whole deployment, FLOP/s
    utilization: float | None = None     # MFU
    bandwidth_utilization: float | None = None  # MBU (decode)


@record(frozen=True)
class Analysis:
    plan: Any
    params: ParamCounts
    memory: MemoryEstimate
    flops: FlopsEstimate
    comm: CommEstimate
    bounds: Bounds
    implied: Implied
    phase: str                     # "training", "prefill" or "decode": the phase that dominates the time
    missing: tuple[str, ...] = ()  # hardware keys a bound needed and did not have
    assumptions: tuple[str, ...] = ()

    @property
    def peak_flops(self) -> float:
        hw = self.plan.hardware
        return hw.num_devices * hw.peak_tflops * 1e12

    def to_json(self) -> dict:
        p, mem, fl, b, im = self.params, self.memory, self.flops, self.bounds, self.implied
        busiest = mem.busiest
        return {
            "version": 1,
            "plan": self.plan.name,
            "model": {
                "total_params": p.total,
                "active_params": p.active,
                "embedding_params": p.embedding,
                "expert_params": p.expert_params,
                "dense_params": p.dense_params,
                "lm_head_params": p.lm_head,
                "mtp_params": p.mtp,
                "layers": len(p.layers),
                "moe_layers": sum(1 for l in p.layers if l.is_moe),
                "weight_bytes": p.total * DTYPE_BYTES[self.plan.workload.dtype],
                "per_layer": _layer_groups(p),
            },
            "memory": {
                "devices": [d.to_json() for d in mem.devices],
                "utilization": round(mem.utilization, 6),
                "busiest_device": busiest.index,
                "imbalance": round(mem.imbalance, 6),
                "fits": mem.fits,
            },
            "compute": {
                "flops_per_token": fl.flops_per_token,
                "flops_per_sample": fl.flops_per_sample,
                "hardware_flops_per_sample": fl.hardware_flops_per_sample,
                "peak_flops": self.peak_flops,
                "implied_flops": im.flops,
                "implied_utilization": im.utilization,
                "implied_bandwidth_utilization": im.bandwidth_utilization,
                "implied_throughput_samples_per_s": im.throughput_samples_per_s,
                "implied_from": im.source,
                "formula": fl.formula,
            },
            "communication": [{"kind": t.kind, "bytes": t.bytes, "link": t.link, "group": t.group} for t in self.comm.traffic],
            "bounds": {
                "max_throughput_samples_per_s": b.max_throughput_samples_per_s,
                "max_throughput_tokens_per_s": b.max_throughput_tokens_per_s,
                "min_latency_ms": b.min_latency_ms,
                "min_latency_ms_per_layer": b.min_latency_ms_per_layer,
                "ttft_ms": b.ttft_ms,
                "tpot_ms": b.tpot_ms,
                "bottleneck": b.bottleneck,
                "phases": {ph.name: ph.to_json() for ph in b.phases},
            },
            "phase": self.phase,
            "missing": list(self.missing),
            "assumptions": list(self.assumptions),
        }


def _layer_groups(p: ParamCounts) -> list[dict]:
    """The per-layer breakdown, consecutive identical layers folded into one row (``first``..``last``)."""
    out: list[dict] = []
    for layer in p.layers:
        row = {"attention": layer.attention, "norms": layer.norms, "mlp": layer.mlp, "router": layer.router,
               "routed_experts": layer.routed_experts, "shared_experts": layer.shared_experts,
               "total": layer.total, "active": layer.active}
        if out and all(out[-1][k] == v for k, v in row.items()):
            out[-1]["last"] = layer.index
        else:
            out.append({"first": layer.index, "last": layer.index, **row})
    return out


ASSUMPTIONS = (
    "model states: 16-bit weights and gradients, Adam keeps fp32 master weights, momentum and variance (ZeRO paper, K=12)",
    "activations: Korthikanti et al. 2022 generalised to GQA, gated MLPs and MoE; attention scores not stored (FlashAttention)",
    "training FLOPs: 3 × forward over the full sequence (PaLM/Megatron model FLOPs); inference: causal attention",
    "bounds: perfect overlap of compute, memory traffic and communication; ring collectives; uniform expert routing",
    "inference prefill works in chunks of at most 8192 tokens; continuous batching: each request's first token waits "
    "for its own prefill, and the KV cache holds seq_len + output_len/2 tokens per sequence on average (static "
    "batching: the whole batch's prefill, seq_len + output_len)",
)


def _comm_time(comm: CommEstimate, hw, decode: bool, missing: set[str], *, request: bool = False) -> float | None:
    times = []
    for link, key in (("intra", "intra_node_bandwidth_gbps"), ("inter", "inter_node_bandwidth_gbps")):
        volume = comm.bytes_on(link, decode, request=request)
        if not volume:
            continue
        bw = getattr(hw, key)
        if not bw:
            missing.add(key)
            return None
        times.append(volume / (bw * 1e9))
    return max(times, default=0.0)


def compute_time(flops: float, high_precision: float, devices: float, hw) -> float:
    """Seconds ``devices`` devices need for ``flops`` at peak, the ``high_precision`` part of them at the 16-bit peak
    (an FP8 run's attention core, head and router; the FP8 rate is for FP8 matmuls only: NVIDIA's H100 datasheet gives
    FP8 Tensor Core throughput twice the BF16 one, and Transformer Engine runs only the Linear layers' GEMMs in FP8)."""
    peak = hw.peak_tflops * 1e12
    hp = (hw.high_precision_peak_tflops or hw.peak_tflops) * 1e12
    high_precision = min(high_precision, flops)
    return ((flops - high_precision) / peak + high_precision / hp) / max(devices, 1e-30)


def distinct_experts_touched(experts_here: int, num_experts: int, top_k: int, tokens: float) -> float:
    """Expected experts (of ``experts_here`` on one rank) that at least one of ``tokens`` tokens is routed to, uniform routing."""
    if experts_here <= 0 or num_experts <= 0:
        return 0.0
    miss = (1 - min(top_k, num_experts) / num_experts) ** tokens
    return experts_here * (1 - miss)


def analyze(plan, *, counts: ParamCounts | None = None, all_devices: bool = True,
            memory: MemoryEstimate | None = None) -> Analysis:
    """The shared estimate of ``plan`` (pure: no I/O, no globals).

    ``all_devices=False`` estimates one device of each kind (pipeline stage,
    experts held; the others repeat one of them figure for figure): the busiest
    device and whether all fit, what the layout search and the rules' trial
    layouts need. ``memory`` is the plan's memory estimate when the caller has
    it already (the layout search estimates memory first and prices only what
    fits).
    """
    model, hw, par, work = plan.model, plan.hardware, plan.parallelism, plan.workload
    counts = counts or count_params(model)
    if memory is None:
        E = model.moe.num_experts if model.moe else 0
        memory = estimate_memory(plan, counts, None if all_devices else distinct_devices(par, hw.num_devices, E),
                                 distinct=not all_devices)
    flops = estimate_flops(plan, counts)
    comm = estimate_comm(plan, counts, memory)
    missing: set[str] = set()
    hbm = hw.memory_bandwidth_gbps * 1e9
    N = hw.num_devices
    busiest = memory.busiest

    if work.training:
        m = micro_batches(plan)
        v = virtual_stages(plan)
        compute_s, bubble = _pipeline_compute(plan, counts, flops, m, v)
        # weights read forward and backward (and once more with full recompute) per micro-batch, activations written
        # and read once, and the optimizer step reading and writing every state once
        reads = 3 if par.recompute == "full" else 2
        traffic = m * (reads * busiest.weights + 2 * busiest.activations / max(1, min(par.pp, m))) \
            + 2 * (busiest.weights + busiest.gradients + busiest.optimizer)
        memory_s = traffic / hbm
        comm_s = _comm_time(comm, hw, False, missing)
        step = PhaseBound("step", compute_s, memory_s, comm_s, bubble)
        t = step.time_s
        bounds = Bounds(work.batch_size / t, work.batch_size * work.seq_len / t, t * 1e3, t * 1e3 / model.layers,
                        step.bottleneck if bubble < 0.5 else "pipeline bubble", (step,))
        phase = "training"
    else:
        bounds, phase = _serving_bounds(plan, counts, memory, flops, comm, missing)

    implied = _implied(plan, flops, bounds, memory, counts)
    return Analysis(plan, counts, memory, flops, comm, bounds, implied, phase, tuple(sorted(missing)), ASSUMPTIONS)


def _pipeline_compute(plan, counts: ParamCounts, flops: FlopsEstimate, m: int, v: int) -> tuple[float, float]:
    """The compute time of a training step's slowest pipeline rank, and the pipeline's fill and drain as a share of
    the step: ``compute / (1 − bubble)`` is the least time the step's FLOPs allow.

    A rank can start only when the first micro-batch has gone forward through the stages before it, and once it has
    run its last backward that micro-batch's backward still crosses them again; in between it computes its m
    micro-batches. So the step takes at least m·W_k + Σ_{j<k} W_j for every rank k, with W the time of one
    micro-batch's forward and backward on a stage — whatever the schedule (Narayanan et al. 2021, §2.2.1: with equal
    stages this is 1F1B's (m + p − 1)·W, a bubble of (p − 1)/(m + p − 1)). The stages are the plan's split
    (``pipeline_layers``, else the even one that Megatron-LM builds: num_layers / pp), with the output head on the
    last: unequal stages make the slowest one the bound, not the average. Under the interleaved schedule (§2.2.2) a
    rank computes all its v chunks and the fill crosses only the first chunk of each earlier rank, taken as
    ⌊layers / v⌋ of its first layers (Megatron-LM builds a rank's chunks of equal size; Llama 3's first chunk holds
    only the embedding): (p − 1)/(v·m + p − 1) with equal stages. DualPipe (DeepSeek-V3 §3.2.1) feeds half the
    micro-batches from each end, so a rank computes half of them through each of its two stages.
    """
    model, hw, par, work = plan.model, plan.hardware, plan.parallelism, plan.workload
    batch, pp = work.batch_size, par.pp
    if pp <= 1:
        return compute_time(flops.computed_flops_per_sample * batch, flops.computed_high_precision_per_sample * batch,
                            hw.num_devices, hw), 0.0
    devices = hw.num_devices / pp
    training = getattr(plan, "training", None)
    if par.pipeline_layers is None and training is not None and training.uneven_pipeline:
        # the framework splits unevenly and the plan does not say how: the bound must hold for any split. Over real
        # splits, max_k (m·W_k + Σ_{j<k} W_j) is least when every rank reaches it, W_k = (B − Σ_{j<k} W_j)/m, which
        # gives B = W / (1 − (1 − 1/m)^p) for the W of one micro-batch through the whole model; an interleaved
        # schedule's first chunks can be empty, so it keeps only the average rank's m micro-batches
        average = compute_time(flops.computed_flops_per_sample * batch, flops.computed_high_precision_per_sample * batch,
                               hw.num_devices, hw)
        if v > 1 or dualpipe(plan):
            return average, 0.0
        return average, 1 - (1 - (1 - 1 / m) ** pp) * m / pp
    stages = stage_layers(model.layers, pp, par.pipeline_layers)
    last = pp - 1

    seen: dict[tuple, float] = {}
    alike = counts.blocks_alike          # alike blocks are all dense or all MoE: selective recompute repeats too

    def stage_time(layers: range, share: float, head: bool) -> float:
        # stages of as many alike blocks take one computation (the middle stages of an even split: the layout search
        # prices hundreds of candidates)
        key = (len(layers) if alike else (layers.start, layers.stop), share, head)
        if key not in seen:
            hw_flops, high = stage_training_flops(plan, counts, layers, head)
            seen[key] = compute_time(hw_flops * batch * share, high * batch * share, devices, hw)
        return seen[key]

    if dualpipe(plan):
        ranks = [stage_time(stages[r], 0.5, r == last) + stage_time(stages[last - r], 0.5, r == 0) for r in range(pp)]
        # DeepSeek-V3 Table 2: (PP/2 − 1)(F&B + B − 3W) against the m·(F + B) a rank computes. At the least F&B is
        # F + B (overlap hides communication, not FLOPs), the full backward B twice the forward F and the weights'
        # backward W one forward: (PP/2 − 1) · 2/3 of a micro-batch's F + B
        slots = (pp / 2 - 1) * 2 / 3
        return max(ranks), slots / (m + slots)
    ranks = [stage_time(r, 1.0, k == last) for k, r in enumerate(stages)]
    firsts = ranks if v == 1 else [stage_time(range(r.start, r.start + len(r) // v), 1.0, False) for r in stages]
    best, fill, before = 0.0, 0.0, 0.0
    for k in range(pp):
        if ranks[k] + before / m >= best + fill:
            best, fill = ranks[k], before / m
        before += firsts[k]
    return best, fill / (best + fill) if best + fill else 0.0


def _serving_bounds(plan, counts: ParamCounts, memory: MemoryEstimate, flops: FlopsEstimate, comm: CommEstimate,
                    missing: set[str]) -> tuple[Bounds, str]:
    """Inference bounds: the batch's prefill, one request's first token, and one decode step.

    Under continuous batching (vLLM, SGLang, TensorRT-LLM's in-flight batching; Yu et al., "Orca", OSDI'22) a
    request's first token waits for *its own* prefill — chunked and interleaved with the other requests' decode steps
    (Agrawal et al., "Sarathi-Serve", OSDI'24) — so the TTFT bound is one prompt's prefill; a static batch prefills
    every prompt before the first token. The throughput bound always pays the whole batch's prefill. A
    disaggregated pool (``workload.phase``) runs only its own phase (Zhong et al., "DistServe", OSDI'24).
    """
    model, hw, par, work = plan.model, plan.hardware, plan.parallelism, plan.workload
    hbm = hw.memory_bandwidth_gbps * 1e9
    busiest = memory.busiest
    w = DTYPE_BYTES[work.dtype]
    batch = -(-work.batch_size // max(1, par.dp))       # sequences one replica serves at once
    replica_devices = par.tp * par.cp * par.pp
    kv_token = kv_bytes_per_token(model, busiest.layers, par.tp, work.kv_cache_dtype)
    moe_here = 0
    per_expert = 0.0
    if model.moe:
        per_expert = counts.first_expert_params * w / max(1, par.etp)
        moe_here = counts.moe_span(stage_layers(model.layers, par.pp, par.pipeline_layers)[busiest.stage])[0]

    def weights_read(tokens_per_replica: float) -> float:
        """Weight bytes the busiest device reads in one pass over ``tokens_per_replica`` tokens of each replica:
        the experts no token is routed to stay unread (uniform routing)."""
        if not model.moe or not busiest.experts:
            return busiest.weights
        seen = tokens_per_replica * max(1, par.dp) / expert_data_parallel(par)
        touched = distinct_experts_touched(busiest.experts, par.expert_slots(model.moe.num_experts),
                                           model.moe.top_k, seen)
        return busiest.weights - moe_here * (busiest.experts - touched) * per_expert

    phases: list[PhaseBound] = []
    ttft = tpot = None
    prefill_s = decode_total_s = 0.0
    if work.phase != "decode" or not work.output_len:
        # the batch's prefill: every prompt once through every stage (the throughput bound pays all of it)
        prefill_compute = compute_time(batch * flops.prefill_flops_per_sample, batch * flops.high_precision_prefill,
                                       replica_devices, hw) * par.pp
        kv_written = kv_token * batch * work.seq_len / par.cp
        prefill_memory = (weights_read(batch * work.seq_len) + kv_written) / hbm * par.pp
        prefill_comm = _comm_time(comm, hw, False, missing)
        prefill = PhaseBound("prefill", prefill_compute, prefill_memory,
                             None if prefill_comm is None else prefill_comm * par.pp)
        phases.append(prefill)
        prefill_s = prefill.time_s
        if work.batching == "static" or batch == 1:
            ttft = prefill.time_s
        else:
            # one request's own prefill: its attention and dense layers on its replica's tp·cp devices, its routed
            # experts spread over the ep·etp devices that hold them (the same devices do both, one after the other)
            expert_flops = 2 * counts.routed_active_params * work.seq_len
            dense_flops = flops.prefill_flops_per_sample - expert_flops
            group = par.ep * par.etp if model.moe else par.tp * par.cp
            first_compute = (compute_time(dense_flops, flops.high_precision_prefill, par.tp * par.cp, hw)
                             + compute_time(expert_flops, 0.0, max(1, group), hw))
            first_memory = (weights_read(work.seq_len / max(1, par.dp)) + kv_token * work.seq_len / par.cp) / hbm * par.pp
            first_comm = _comm_time(comm, hw, False, missing, request=True)
            first = PhaseBound("first token", first_compute, first_memory,
                               None if first_comm is None else first_comm * par.pp)
            phases.append(first)
            ttft = first.time_s
    if work.output_len and work.phase != "prefill":
        # one decode step: every sequence of the replica advances by up to 1 + speculative_tokens tokens
        per_step = 1 + work.speculative_tokens
        context = work.seq_len + (work.output_len + 1) / 2
        kv_read = kv_token * batch * context / par.cp
        decode_compute = compute_time(batch * per_step * flops.decode_flops_per_token,
                                      batch * per_step * flops.high_precision_decode_per_token, replica_devices, hw) * par.pp
        decode_memory = (weights_read(batch * per_step) + kv_read) / hbm * par.pp
        decode_comm = _comm_time(comm, hw, True, missing)
        decode = PhaseBound("decode", decode_compute, decode_memory, None if decode_comm is None else decode_comm * par.pp)
        phases.append(decode)
        tpot = decode.time_s / work.tokens_per_step
        decode_total_s = work.output_len * tpot
    # Pipelining: a replica can keep up to pp micro-batches of its batch in flight.
    in_flight = min(par.pp, batch)
    total = prefill_s + decode_total_s
    throughput = work.batch_size / total * in_flight if total else float("inf")
    request = (ttft or 0.0) + decode_total_s
    tokens = work.output_len or work.seq_len
    weight = {"decode": work.output_len / work.tokens_per_step, "first token": 0.0}
    slowest = max(phases, key=lambda p: p.time_s * weight.get(p.name, 1))
    bounds = Bounds(throughput, throughput * tokens, request * 1e3, request * 1e3 / model.layers, slowest.bottleneck,
                    tuple(phases), None if ttft is None else ttft * 1e3, None if tpot is None else tpot * 1e3)
    return bounds, slowest.name


def _implied(plan, flops: FlopsEstimate, bounds: Bounds, memory: MemoryEstimate, counts: ParamCounts) -> Implied:
    c, work, hw, model = plan.claims, plan.workload, plan.hardware, plan.model
    peak = hw.num_devices * hw.peak_tflops * 1e12
    samples = None
    source = None
    if c.throughput_samples_per_s:
        samples, source = c.throughput_samples_per_s, "throughput_samples_per_s"
    elif c.throughput_tokens_per_s:
        per_sample = work.seq_len if work.training or not work.output_len else work.output_len
        samples, source = c.throughput_tokens_per_s / per_sample, "throughput_tokens_per_s"
    else:
        latency = c.latency_ms or (c.latency_ms_per_layer * model.layers if c.latency_ms_per_layer else None)
        if latency:
            # Little's law: the batch in flight divided by the time each request takes
            samples = work.batch_size / (latency / 1e3)
            source = "latency_ms" if c.latency_ms else "latency_ms_per_layer"
    achieved = None
    if samples:
        achieved = samples * flops.flops_per_sample
    elif c.achieved_tflops_per_device:
        achieved, source = c.achieved_tflops_per_device * 1e12 * hw.num_devices, "achieved_tflops_per_device"
    elif c.mfu:
        achieved, source = c.mfu * peak, "mfu"
    if achieved is not None and not samples and flops.flops_per_sample:
        samples = achieved / flops.flops_per_sample      # the throughput a FLOP-rate claim implies
    util = achieved / peak if achieved is not None else None
    mbu = None
    if samples and not work.training and work.output_len:
        decode = bounds.phase("decode")
        if decode is not None:
            # bytes the decode steps move per second across the deployment, over the HBM bandwidth of all devices
            steps_per_s = samples * work.output_len / max(1, work.batch_size)
            # decode.memory_s sums the pp stages; each device is busy with its own stage's bytes only
            mbu = steps_per_s * decode.memory_s / max(1, plan.parallelism.pp)
    return Implied(samples, source, achieved, util, mbu)
