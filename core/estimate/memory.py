"""Memory per device: weights, gradients, optimizer states, activations and KV cache, in bytes.

Conventions (docs/analysis.md states them for users):

* Model states follow the ZeRO paper (Rajbhandari et al. 2020, §3.1): 16-bit
  weights and gradients, and for Adam K = 12 bytes of fp32 master weight,
  momentum and variance per parameter (K = 8 when training in fp32: the weight
  is its own master copy). ZeRO stage 1 shards the optimizer states over the
  data-parallel group, 2 also the gradients, 3 also the weights. Optimizer
  offload (ZeRO-Offload, Ren et al. 2021) moves the optimizer states and the
  gradients off the device; parameter offload at stage 3 (ZeRO-Infinity)
  leaves two layers' weights on it (the one computed, the one prefetched).
* Dense weights (attention, dense MLP, shared experts, embeddings) shard over
  tp; key/value projections are replicated once tp exceeds the KV heads;
  norms and routers are replicated. Routed experts shard over ep (by the
  placement) and etp, and their ZeRO group is the expert-data-parallel group
  (Megatron-LM PR #4687).
* Training activations follow Korthikanti et al. 2022 (§4), generalised to
  GQA, gated MLPs and MoE (k routed copies of each token), with the 1F1B
  schedule keeping ``pp - stage`` micro-batches in flight (the interleaved
  schedule's v chunks per rank: ``pp + (pp - 1)/v`` on the first stage). Attention scores
  are not stored (FlashAttention), which is also what selective recompute
  removes; :func:`layer_activation_bytes` can include them to reproduce the
  paper's table.
* Inference: the KV cache holds the tokens of the sequences in flight (:func:`held_tokens`); GQA
  stores K and V per KV head (replicated when tp > kv heads), MLA one
  compressed latent of kv_lora_rank + qk_rope_head_dim per token and layer.
"""

from __future__ import annotations


from ..records import record, field
from ..plan import DTYPE_BYTES
from .layout import dualpipe, expert_data_parallel, micro_batches, rank_stages, stage_layers, virtual_stages
from .params import ParamCounts, kv_projection_params


@record(frozen=True, slots=True)
class DeviceMemory:
    index: int
    stage: int
    ep_rank: int
    layers: int
    experts: int
    weights: int
    gradients: int
    optimizer: int
    activations: int
    kv_cache: int
    capacity: int
    params: int
    #: weights + gradients + optimizer + activations + kv_cache, summed once (rules read it for every device)
    total: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", self.weights + self.gradients + self.optimizer + self.activations + self.kv_cache)

    @property
    def utilization(self) -> float:
        return self.total / self.capacity if self.capacity else 0.0

    def to_json(self) -> dict:
        return {"index": self.index, "stage": self.stage, "ep_rank": self.ep_rank, "layers": self.layers,
                "experts": self.experts, "params": self.params, "weights": self.weights, "gradients": self.gradients,
                "optimizer": self.optimizer, "activations": self.activations, "kv_cache": self.kv_cache,
                "total": self.total, "capacity": self.capacity, "utilization": round(self.utilization, 6)}


def activation_bytes_per_element(dtype: str) -> int:
    """Activations are kept in 16 bits for fp8 and 16-bit runs, in 32 bits for fp32 runs."""
    return 4 if dtype == "fp32" else 2


def optimizer_bytes_per_param(optimizer: str, dtype: str) -> int:
    """Optimizer state per parameter: Adam m and v in fp32, plus an fp32 master copy unless training in fp32."""
    master = 0 if dtype == "fp32" else 4
    return master + (8 if optimizer == "adam" else 4)


#: Megatron-LM's ``--recompute-modules`` (``TransformerConfig.recompute_modules``) that change what a block keeps, under
#: ``--recompute-granularity selective``; its default there is ``["core_attn"]``
RECOMPUTE_MODULES = ("core_attn", "layernorm", "mla_up_proj", "mlp", "moe", "moe_act", "shared_experts")
DEFAULT_RECOMPUTE_MODULES = ("core_attn",)


def layer_activation_bytes(model, layer_is_moe: bool, *, s: int, b: int, tp: int, sp: bool, recompute: str,
                           dtype: str = "bf16", etp: int = 1, store_scores: bool = False,
                           modules: tuple[str, ...] = DEFAULT_RECOMPUTE_MODULES, cache_dtype: str | None = None) -> float:
    """Activation bytes one transformer block keeps for the backward pass (Korthikanti et al. 2022, §4.1).

    With MHA, a 4h GELU MLP, 16-bit activations and ``store_scores`` this is
    exactly the paper's ``sbh(34 + 5as/h)`` (and its TP, SP, selective and full
    recompute rows); other architectures change only the shapes counted.
    Each tensor is one of the paper's terms, so a partial recompute drops the
    terms its module rebuilds: ``modules`` (under selective recompute) are
    Megatron-LM's recompute modules (:data:`RECOMPUTE_MODULES`), and
    ``cache_dtype`` is the dtype the matmuls' inputs are cached in for the
    backward pass (``fp8``: DeepSeek-V3 §3.3.3) — None keeps them at 16 bits.
    """
    h = model.hidden_size
    act = activation_bytes_per_element(dtype)       # bytes of a 16-bit (fp32 run: 32-bit) activation
    sbh = s * b * h
    if recompute == "full":
        # the block's input only (Korthikanti et al. 2022, Table 2: 2sbh); with sequence parallelism that input is
        # the rank's sequence shard, [s/t, b, h] — what Megatron-LM's checkpoint keeps — so 2sbh/t
        return act * sbh / (tp if sp and tp > 1 else 1)
    rebuilt = set(modules) if recompute == "selective" else set()
    # a matmul's input, kept for its weight gradient: at 16 bits, or in the cache dtype ("it is a natural choice to
    # cache activations in FP8 format for the backward pass of the Linear operator", DeepSeek-V3 §3.3.3)
    mm = DTYPE_BYTES[cache_dtype] if cache_dtype else act
    tokens = s * b
    n_h, n_kv = model.num_attention_heads, model.num_kv_heads
    latents = 0
    if model.attention == "mla" and model.mla is not None:
        m = model.mla
        q_width = n_h * (m.qk_nope_head_dim + m.qk_rope_head_dim)
        kv_width = n_h * (m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim) / 2
        out_width = n_h * m.v_head_dim
        # the compressed query and key-value latents (the up-projections' inputs) and the shared RoPE key
        latents = (m.q_lora_rank or 0) + m.kv_lora_rank + m.qk_rope_head_dim
    else:
        q_width = out_width = n_h * model.head_dim
        kv_width = n_kv * model.head_dim
    # Outside the tensor-parallel regions (Korthikanti et al. 2022, §4.1): the two norms' inputs (4sbh), their outputs
    # — the attention's and the MLP's inputs (4sbh), which recomputing the norms ("layernorm": Megatron-LM recomputes
    # input_layernorm and pre_mlp_layernorm; DeepSeek-V3 §3.2.3 "all RMSNorm operations") does not keep — and the two
    # dropout masks (2sbh, one byte each), none when the model trains without dropout (Llama, DeepSeek and Qwen set 0).
    block_inputs = 0 if "layernorm" in rebuilt else 2 * mm * h
    unsharded = tokens * (2 * act * h + block_inputs + (2 * h if getattr(model, "dropout", True) else 0))
    # Inside them: Q, K and V (the attention core's inputs; rebuilt from the latents when the MLA up-projections are
    # recomputed, "mla_up_proj", DeepSeek-V3 §3.2.3), the latents, and the attention output, which is the output
    # projection's input and also read by attention's backward — kept at 16 bits (V3 keeps it in a 12-bit E5M6).
    qkv = 0 if latents and "mla_up_proj" in rebuilt else act * (q_width + 2 * kv_width)
    attention = tokens * (qkv + mm * latents + act * out_width)
    if store_scores and "core_attn" not in rebuilt:
        # softmax input and output and the dropout mask (5as²b), what selective recompute of the core removes
        attention += (2 * act + 1) * n_h * s * s * b
    gated = model.ffn_activation == "swiglu"

    def mlp(width: int, act_in: float, keep_act_out: bool) -> float:
        """An MLP's inner activations per token: the activation function's input (the gate and up projections of
        a gated MLP, Korthikanti's GeLU input) and its output, the second matmul's input."""
        return (2 if gated else 1) * width * act_in + (width * mm if keep_act_out else 0)

    if layer_is_moe and model.moe is not None:
        moe = model.moe
        inner = 0.0
        if "moe" not in rebuilt:
            # each of the k routed copies: the expert's input (the permuted token its weight gradient needs) and its
            # MLP, expert-parallel (not tp-sharded: × tp against the / tp below); "moe_act" recomputes the
            # activation function's output; DeepSeek-V3 caches the SwiGLU inputs in FP8 too (§3.3.3)
            routed = h * mm + mlp(moe.expert_ffn_hidden_size, mm, "moe_act" not in rebuilt) / max(1, etp)
            inner = tokens * moe.top_k * routed * tp
            if moe.shared_expert_ffn_hidden_size and "shared_experts" not in rebuilt:
                inner += tokens * mlp(moe.shared_expert_ffn_hidden_size, mm, True)
            unsharded += 4 * tokens * moe.num_experts  # fp32 router logits
    else:
        inner = 0.0 if "mlp" in rebuilt else tokens * mlp(model.ffn_hidden_size, act, True)
    sharded = (attention + inner) / tp
    return sharded + (unsharded / tp if sp and tp > 1 else unsharded)


def _weight(d: DeviceMemory) -> tuple[int, int]:
    """What ``busiest`` maximises: the total, then the lower index."""
    return d.total, -d.index


@record(frozen=True, slots=True)
class MemoryEstimate:
    devices: tuple[DeviceMemory, ...]
    _busiest: DeviceMemory | None = field(default=None, init=False, repr=False, compare=False)
    _fits: bool | None = field(default=None, init=False, repr=False, compare=False)
    _imbalance: float | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def busiest(self) -> DeviceMemory:
        """The device with the most bytes (the first of equal ones); found once, as rules ask for it many times and a
        plan may have 100,000 devices (:func:`estimate_memory` gives it from the distinct devices it computed)."""
        busiest = self._busiest
        if busiest is None:
            if not self.devices:
                raise ValueError("no devices")
            busiest = max(self.devices, key=_weight)
            object.__setattr__(self, "_busiest", busiest)
        return busiest

    @property
    def utilization(self) -> float:
        return self.busiest.utilization

    @property
    def fits(self) -> bool:
        if self._fits is None:   # computed once, as the busiest device is
            object.__setattr__(self, "_fits", all(d.total <= d.capacity for d in self.devices))
        return self._fits

    @property
    def imbalance(self) -> float:
        """max / mean of the per-device totals (1.0 = perfectly even)."""
        if self._imbalance is None:
            totals = [d.total for d in self.devices]
            mean = sum(totals) / len(totals)
            object.__setattr__(self, "_imbalance", max(totals) / mean if mean else 1.0)
        return self._imbalance


#: tokens one prefill forward pass processes at once (chunked prefill; vLLM's and SGLang's defaults are 2k–16k)
PREFILL_CHUNK_TOKENS = 8192


def representative_devices(par, num_devices: int) -> list[int]:
    """One device per (pipeline stage, EP rank): every other device repeats one of them."""
    stride = max(1, par.tp * par.cp * par.dp)
    etp = max(1, par.etp)
    # the first device of each EP rank inside a stage (ranks past ``stride`` add no device), and stages past the last
    # device none: a stage's offsets stay inside it, so no device repeats across stages
    offsets = list(dict.fromkeys((r * etp) % stride for r in range(min(max(1, par.ep), stride))))
    out = [i for start in range(0, min(par.pp, num_devices // stride + 1) * stride, stride) for i in
           (start + o for o in offsets) if i < num_devices]
    return out or [0]


def distinct_devices(par, num_devices: int, num_experts: int) -> list[int]:
    """The devices :func:`estimate_memory` with ``distinct`` keeps of :func:`representative_devices`: one per pipeline
    stage and number of experts held, the first of each (every EP rank of a balanced placement holds as many: one
    device per stage). A device left out repeats the figures of one before it in its stage."""
    stride = max(1, par.tp * par.cp * par.dp)
    etp, ep = max(1, par.etp), max(1, par.ep)
    held = par.expert_counts(num_experts) if num_experts else ()
    first: dict[int, int] = {}   # experts held → the first EP rank holding as many
    for r in range(min(ep, -(-stride // etp))):
        first.setdefault(held[r] if r < len(held) else 0, r)
    offsets = sorted(r * etp for r in first.values())
    out = [start + o for start in range(0, min(par.pp, num_devices // stride + 1) * stride, stride) for o in offsets
           if start + o < num_devices]
    return out or [0]


def estimate_memory(plan, counts: ParamCounts, devices: list[int] | None = None, *,
                    distinct: bool = False, stop_above: float | None = None,
                    memo: dict | None = None) -> MemoryEstimate:
    """Memory of every device (or of ``devices`` only: the layout search asks for one per stage and EP rank).

    For the layout search, which needs only the busiest device: with ``distinct`` a device whose figures repeat an
    earlier one's is left out (the first of equal devices is the one ``busiest`` picks when ``devices`` ascend); with
    ``stop_above`` the estimate stops at the first device past that many bytes (the layout cannot fit). ``memo`` is a
    dict the caller keeps across estimates of one model (``counts``): each stage's parameter sums and activations,
    keyed by everything they are computed from, are computed once for all the layouts the search tries.
    """
    model, hw, par, work = plan.model, plan.hardware, plan.parallelism, plan.workload
    training = work.training
    w = DTYPE_BYTES[work.dtype]
    stages = stage_layers(model.layers, par.pp, par.pipeline_layers)
    held = rank_stages(plan, stages)     # under DualPipe a rank holds its stage and its mirror's
    dual = len(held[0]) > 1 if held else False
    capacity = hw.memory_bytes
    m = micro_batches(plan)
    v = virtual_stages(plan) if training else 1
    edp = expert_data_parallel(par)
    # HSDP (TorchTitan data_parallel_shard_degree, FSDP HYBRID_SHARD): ZeRO shards over the dp_shard ranks only
    shard = getattr(getattr(plan, "training", None), "dp_shard", None)
    dense_shard = max(1, (shard if shard and par.dp % shard == 0 else par.dp) * par.cp)
    kv_attn = kv_projection_params(model)
    kv_div = min(par.tp, model.num_kv_heads) if kv_attn else par.tp
    opt_k = optimizer_bytes_per_param(work.optimizer, work.dtype)
    E = model.moe.num_experts if model.moe else 0

    # A device's figures depend on what its stage holds (the layers' parameter sums, the embedding on the first, the
    # head on the last), the micro-batches it keeps in flight, and the experts of its EP rank: devices that agree on
    # all of these — every EP rank of a balanced placement, the middle stages of an even split — share one
    # computation (the key below names every input of it; tests/core/estimate/test_layout_search_pruning.py checks
    # each device against its estimate alone).
    cache: dict[tuple, DeviceMemory] = {}
    seen: dict[tuple[int, int], DeviceMemory] = {}   # (stage, experts held) → the figures, once known
    stage_keys: dict[int, tuple] = {}
    stage_acts: dict[int, float] = {}
    ep_counts = par.expert_counts(E) if E else ()
    n_counts = len(ep_counts)
    stride, etp, ep, last_stage = par.tp * par.cp * par.dp, max(1, par.etp), max(1, par.ep), par.pp - 1

    every = devices is None and stop_above is None and not distinct and stride > 0
    n = hw.num_devices
    if every:
        # every device: the figures of each (stage, EP rank) are found on its first device (the loop below), then
        # repeated for the devices after it
        present = range(min(last_stage, (n - 1) // stride) + 1 if n > 0 else 0)
        devices = [stage * stride + r * etp for stage in present for r in range(ep)
                   if r * etp < stride and stage * stride + r * etp < (n if stage == last_stage else min(n, (stage + 1) * stride))]
    out: list[DeviceMemory] = []
    fresh: list[DeviceMemory] = []
    for i in (range(n) if devices is None else devices):
        # (stage, EP rank) as layout.coords gives them, without building the coordinates of every device
        stage = i // stride
        if stage > last_stage:
            stage = last_stage
        ep_rank = (i % stride // etp) % ep
        n_experts = ep_counts[ep_rank] if ep_rank < n_counts else 0
        hit = seen.get((stage, n_experts))
        if hit is None:
            sk = stage_keys.get(stage)
            if sk is None:
                parts = []
                for rng in held[stage]:
                    part = memo.get((rng.start, rng.stop)) if memo is not None else None
                    if part is None:
                        part = _stage_sums(counts, rng, kv_attn)
                        if memo is not None:
                            memo[rng.start, rng.stop] = part
                    parts.append(part)
                sums = parts[0] if len(parts) == 1 else tuple(map(sum, zip(*parts)))
                # the embedding and the head: on the first and the last stage, and under DualPipe on both end ranks
                embeds = stage == 0 or (dual and stage == last_stage)
                heads = stage == last_stage or (dual and stage == 0)
                if not training:
                    in_flight = 0
                elif dual:
                    # DeepSeek-V3 Table 2: PP + 1 micro-batches of a stage's activations, over the rank's two stages
                    in_flight = min(par.pp + 1, m) / 2
                else:
                    in_flight = _in_flight(par.pp, stage, m, v)
                sk = stage_keys[stage] = (sums, embeds, heads, in_flight)
            key = (*sk, n_experts)
            hit = cache.get(key)
            if hit is not None:
                seen[stage, n_experts] = hit
        if hit is not None:
            if not distinct:
                out.append(DeviceMemory(i, stage, ep_rank, hit.layers, hit.experts, hit.weights, hit.gradients,
                                        hit.optimizer, hit.activations, hit.kv_cache, hit.capacity, hit.params))
            continue
        sums, embeds, heads, in_flight = sk
        layers = stages[stage]
        n_layers = sums[2]
        sharded_sum, replicated_sum, kv_layers, expert_unit, moe_count = sums
        dense = sharded_sum / par.tp + kv_layers * kv_attn / kv_div + replicated_sum
        expert = expert_unit * n_experts / max(1, par.etp)
        if embeds:
            dense += counts.embedding / par.tp
        if heads:
            dense += counts.final_norm + (counts.lm_head if counts.lm_head else (counts.embedding if par.pp > 1 else 0)) / par.tp
            if counts.mtp and model.mtp_layers and (training or work.speculative_tokens):
                last = counts.layers[-1]
                mtp_dense = counts.mtp // model.mtp_layers - last.routed_experts
                dense += model.mtp_layers * mtp_dense / par.tp
                expert += model.mtp_layers * last.expert * n_experts / max(1, par.etp)
        params = dense + expert
        if training:
            z = par.zero_stage
            weights = (dense / (dense_shard if z >= 3 else 1) + expert / (edp if z >= 3 else 1)) * w
            grads = (dense / (dense_shard if z >= 2 else 1) + expert / (edp if z >= 2 else 1)) * w
            opt = (dense / (dense_shard if z >= 1 else 1) + expert / (edp if z >= 1 else 1)) * opt_k
            if par.offload_optimizer != "none":
                # ZeRO-Offload (Ren et al. 2021, §4.1): the fp32 optimizer states and the 16-bit gradients live on
                # the host (or NVMe) and the optimizer step runs there; the device keeps the 16-bit weights
                grads = opt = 0
            if par.offload_params != "none" and z >= 3:
                # ZeRO-Infinity (Rajbhandari et al. 2021): parameters are fetched layer by layer; the device holds
                # the layer being computed and the one being prefetched
                weights = 2 * params / max(1, n_layers) * w
            s = max(1, work.seq_len // par.cp)
            per_mb = stage_acts.get(stage)
            if per_mb is None:
                shape = dict(s=s, b=par.micro_batch_size, tp=par.tp, sp=par.sequence_parallel, recompute=par.recompute,
                             dtype=work.dtype, etp=par.etp, store_scores=not par.flash_attention,
                             modules=par.recompute_modules, cache_dtype=work.activation_cache_dtype)
                # the memo's key is every argument of the computation (the model is the memo's own)
                acts_key = ("activations", moe_count, n_layers, *shape.values())
                per_mb = memo.get(acts_key) if memo is not None else None
                if per_mb is None:
                    per_mb = sum(n * layer_activation_bytes(model, is_moe, **shape)
                                 for is_moe, n in ((True, moe_count), (False, n_layers - moe_count)) if n)
                    if memo is not None:
                        memo[acts_key] = per_mb
                stage_acts[stage] = per_mb
            acts = per_mb * in_flight
            if heads:
                acts += 4 * s * par.micro_batch_size * model.vocab_size / par.tp  # fp32 logits for the loss
            kv = 0
        else:
            weights = params * w
            grads = opt = 0
            batch = -(-work.batch_size // max(1, par.dp))
            s = max(1, work.seq_len // par.cp)
            # the working set of one block during prefill (not kept across blocks)
            chunk = min(batch * s, PREFILL_CHUNK_TOKENS)
            acts = stage_acts.get(stage)
            if acts is None:
                # the memo's key is every argument of the computation (the model is the memo's own)
                acts_key = ("serving activations", moe_count > 0, len(layers) > 0, chunk, batch, s, par.tp,
                            par.sequence_parallel, work.dtype, par.etp, bool(work.output_len))
                acts = memo.get(acts_key) if memo is not None else None
                if acts is None:
                    acts = layer_activation_bytes(model, moe_count > 0, s=chunk, b=1, tp=par.tp, sp=par.sequence_parallel,
                                                  recompute="none", dtype=work.dtype, etp=par.etp) if len(layers) else 0
                    # fp32 logits of each sequence's last position: the whole batch in a decode step; in a prefill-only
                    # plan, the sequences that end inside one chunk
                    logit_rows = batch if work.output_len else min(batch, -(-chunk // s) + 1)
                    acts += 4 * logit_rows * model.vocab_size / par.tp
                    if memo is not None:
                        memo[acts_key] = acts
                stage_acts[stage] = acts
            kv = kv_cache_bytes(model, len(layers), tokens=held_tokens(work) / par.cp, batch=batch,
                                tp=par.tp, dtype=work.kv_cache_dtype)
        dev = DeviceMemory(i, stage, ep_rank, n_layers, n_experts, int(weights), int(grads), int(opt),
                           int(acts), int(kv), capacity, int(params))
        cache[key] = seen[stage, n_experts] = dev
        out.append(dev)
        fresh.append(dev)
        if stop_above is not None and dev.total > stop_above:
            break
    if not every:
        return MemoryEstimate(tuple(out))
    # the first devices' figures repeated over their stages; the busiest and whether all fit are read from the devices
    # computed (the first of equal devices is the busiest, and devices ascend)
    rows = {}
    for dev in out:
        rows[dev.stage, dev.ep_rank] = (dev.stage, dev.ep_rank, dev.layers, dev.experts, dev.weights, dev.gradients,
                                        dev.optimizer, dev.activations, dev.kv_cache, dev.capacity, dev.params)
    everyone: list[DeviceMemory] = []
    for stage in present:
        lo = stage * stride
        row = [rows.get((stage, r)) for r in range(ep)]
        everyone += [DeviceMemory(i, *row[(i % stride // etp) % ep])
                     for i in range(lo, n if stage == last_stage else min(n, lo + stride))]
    estimate = MemoryEstimate(tuple(everyone))
    if fresh:
        object.__setattr__(estimate, "_busiest", everyone[max(fresh, key=_weight).index])
        object.__setattr__(estimate, "_fits", all(d.total <= d.capacity for d in fresh))
    return estimate


def _in_flight(pp: int, stage: int, m: int, v: int) -> float:
    """Micro-batches of a stage's activations held at the peak, in units of the whole stage's layers.

    1F1B: stage k holds pp − k (Narayanan et al. 2021, §2.2.1). Interleaved with v chunks per rank, Megatron-LM's
    schedule warms up with 2(pp − k − 1) + (v − 1)·pp chunk-micro-batches and holds one more, each 1/v of the stage:
    on the first stage pp + (pp − 1)/v, the paper's L·(1 + (p − 1)/(p·v)) layers (Korthikanti et al. 2022, §4.2.3).
    Never more than the m·v chunk-micro-batches the step has.
    """
    if v <= 1:
        return min(pp - stage, m)
    return min(2 * (pp - stage - 1) + (v - 1) * pp + 1, m * v) / v


def held_tokens(work) -> float:
    """Tokens of KV cache one sequence holds: a prefill pool only the prompt; a static batch every sequence at its full
    length; continuous batching (requests joining and leaving at every step) the prompt plus half the output on
    average — what paged KV caches (Kwon et al., "vLLM", SOSP'23) allocate as the tokens are generated."""
    if work.phase == "prefill" or not work.output_len:
        return work.seq_len
    if work.batching == "static":
        return work.seq_len + work.output_len
    return work.seq_len + work.output_len / 2


def _stage_sums(counts: ParamCounts, layers: range, kv_attn: int) -> tuple[float, float, int, float, int]:
    """Per-stage parameter sums: tp-sharded, replicated, the number of layers with KV projections, one expert's
    parameters summed over the stage's MoE layers, and the MoE layer count."""
    sharded = replicated = expert_unit = 0.0
    moe = 0
    for li in layers:
        lp = counts.layers[li]
        sharded += lp.attention - kv_attn + lp.mlp + lp.shared_experts
        replicated += lp.norms + lp.router
        if lp.is_moe:
            expert_unit += lp.expert
            moe += 1
    return sharded, replicated, len(layers), expert_unit, moe


def kv_bytes_per_token(model, layers: int, tp: int, dtype: str) -> float:
    """KV-cache bytes of one token on one device holding ``layers`` blocks."""
    b = DTYPE_BYTES[dtype]
    if model.attention == "mla" and model.mla is not None:
        return layers * (model.mla.kv_lora_rank + model.mla.qk_rope_head_dim) * b
    heads = -(-model.num_kv_heads // tp) if tp <= model.num_kv_heads else 1
    return 2 * layers * heads * model.head_dim * b


def kv_cache_bytes(model, layers: int, *, tokens: float, batch: int, tp: int, dtype: str) -> float:
    return kv_bytes_per_token(model, layers, tp, dtype) * tokens * batch
