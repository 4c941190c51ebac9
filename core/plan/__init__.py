"""The resolved plan: typed, frozen, defaults filled in.

Attribute names are the plan's keys (PLAN_FORMAT.md), so a rule reads
``ctx.plan.parallelism.ep`` exactly as the author wrote ``[parallelism] ep``.
The one exception is ``[model] from``, a Python keyword, exposed as
``model.from_``. Resolution (defaults, the accelerator catalog, a Hugging Face
``config.json``) lives in :mod:`deploylint.core.plan.resolve`.
"""

from __future__ import annotations

from typing import Any

from ..records import record, field, fields


@record(frozen=True, slots=True)
class MoE:
    num_experts: int
    top_k: int
    expert_ffn_hidden_size: int
    shared_experts: int = 0
    shared_expert_ffn_hidden_size: int = 0
    dense_layers: int = 0
    layer_frequency: int = 1
    # Architecture details that only a config.json usually sets (see PLAN_FORMAT.md).
    router_bias: bool = False
    expert_bias: bool = False
    shared_expert_gate: bool = False
    # Node-limited routing (DeepSeek-V3 §2.1.2): experts form n_group groups and each token picks its experts from
    # at most topk_group of them (HF config n_group / topk_group); 0 = unrestricted.
    n_group: int = 0
    topk_group: int = 0

    def is_moe_layer(self, index: int) -> bool:
        """Whether 0-based layer ``index`` has routed experts (dense first-k, then every n-th)."""
        if index < self.dense_layers:
            return False
        return (index - self.dense_layers) % self.layer_frequency == self.layer_frequency - 1 if self.layer_frequency > 1 else True

    def moe_layer_count(self, layers: int) -> int:
        return sum(1 for i in range(layers) if self.is_moe_layer(i))


@record(frozen=True, slots=True)
class MLA:
    q_lora_rank: int
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


@record(frozen=True, slots=True)
class Model:
    layers: int
    hidden_size: int
    num_attention_heads: int
    vocab_size: int
    num_kv_heads: int
    head_dim: int
    ffn_hidden_size: int
    ffn_activation: str = "swiglu"
    tie_embeddings: bool = False
    attention: str = "gqa"
    mla: MLA | None = None
    moe: MoE | None = None
    from_: str | None = None
    # Architecture details (defaults = the Llama family); a config.json sets them.
    qkv_bias: bool = False
    attention_out_bias: bool = False
    qk_norm: str = "none"          # "none" | "head" (Qwen3, per-head) | "full" (OLMoE, over all heads)
    attention_sinks: bool = False  # gpt-oss
    norm: str = "rmsnorm"          # "rmsnorm" | "layernorm"
    mtp_layers: int = 0            # DeepSeek-V3 multi-token prediction modules (not in the headline count)
    model_type: str | None = None  # the config.json model_type it came from, if any
    max_position_embeddings: int | None = None   # the longest context the model was built for
    id: str | None = None          # the model id (Hugging Face repo id) it was resolved from, if any
    dropout: bool = True           # training keeps dropout masks (Korthikanti's GPT); a config with 0 dropout sets false

    @property
    def is_moe(self) -> bool:
        return self.moe is not None


@record(frozen=True, slots=True)
class Hardware:
    num_devices: int
    memory_gib: float
    peak_tflops: float
    memory_bandwidth_gbps: float
    devices_per_node: int = 8
    intra_node_bandwidth_gbps: float | None = None
    inter_node_bandwidth_gbps: float | None = None
    accelerator: str | None = None
    # The 16-bit (BF16) peak of an FP8 run, for the work FP8 recipes leave in 16 bits (attention core, output head,
    # router); None = peak_tflops for all of it (a plan without a catalog accelerator).
    high_precision_peak_tflops: float | None = None

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * 2**30)


@record(frozen=True, slots=True)
class Parallelism:
    tp: int = 1
    pp: int = 1
    dp: int = 1
    cp: int = 1
    ep: int = 1
    etp: int = 1
    expert_placement: tuple[Any, ...] | None = None
    zero_stage: int = 0
    recompute: str = "none"
    # What selective recompute rebuilds in the backward pass: Megatron-LM's --recompute-modules (its default
    # ["core_attn"]): "layernorm", "moe_act", "mla_up_proj", "mlp", "moe", "shared_experts" drop their activations.
    recompute_modules: tuple[str, ...] = ("core_attn",)
    sequence_parallel: bool = False
    micro_batch_size: int = 1
    # Replicas of the busiest experts kept in addition to the routed experts (DeepSeek's EPLB, "redundant experts",
    # DeepSeek-V3 §3.4): each EP rank holds (num_experts + redundant_experts) / ep expert slots. All the replicas the
    # deployment holds: the plan's own and the engine's (``Serving.redundant_experts``, added by resolve).
    redundant_experts: int = 0
    # Layers of each pipeline stage when the author places them (Llama 3 §3.3.2: one layer fewer on the first and last
    # stages, which hold the embedding and the head); None = as even as possible, earlier stages taking the rest.
    pipeline_layers: tuple[int, ...] | None = None
    # Attention kernels that keep no score matrix (FlashAttention, Dao et al. 2022); false = the softmax scores and
    # their dropout mask are stored for the backward pass (5as²b per layer, Korthikanti et al. 2022), as in 2021-era
    # Megatron-LM, and selective recompute is what removes them.
    flash_attention: bool = True
    offload_optimizer: str = "none"   # "none" | "cpu" | "nvme": ZeRO-Offload keeps optimizer states and gradients there
    offload_params: str = "none"      # "none" | "cpu" | "nvme": ZeRO-Infinity keeps the parameters there (stage 3)

    def expert_slots(self, num_experts: int) -> int:
        """The experts the EP ranks hold between them: the routed experts and their replicas (the one definition the
        memory estimate, the layout search and the MOE rules use)."""
        return num_experts + self.redundant_experts

    def expert_counts(self, num_experts: int) -> tuple[int, ...]:
        """Expert slots held by each EP rank: the placement as written, or the balanced split (replicas included)."""
        if self.expert_placement:
            return tuple(len(p) if isinstance(p, (list, tuple)) else int(p) for p in self.expert_placement)
        base, extra = divmod(self.expert_slots(num_experts), self.ep)
        return tuple(base + (1 if r < extra else 0) for r in range(self.ep))


@record(frozen=True, slots=True)
class Workload:
    mode: str
    batch_size: int
    seq_len: int
    output_len: int = 0
    dtype: str = "bf16"
    kv_cache_dtype: str = "bf16"
    optimizer: str = "adam"
    # Training: the dtype the matmuls' inputs are cached in for the backward pass; None = 16 bits (32 for an fp32
    # run). "fp8" is DeepSeek-V3's scheme (§3.3.3): linear-layer and MoE SwiGLU inputs cached in FP8.
    activation_cache_dtype: str | None = None
    # Inference only. How requests share the engine: "continuous" batching (vLLM, SGLang, TensorRT-LLM) gives each
    # request its own prefill, interleaved with the others' decode steps; "static" runs the whole batch's prefill first.
    batching: str = "continuous"
    # Which serving phases this plan runs: "both", or one pool of a disaggregated deployment ("prefill" or "decode").
    phase: str = "both"
    # Draft tokens verified per decode step (speculative decoding, e.g. DeepSeek-V3's MTP module): up to
    # 1 + speculative_tokens tokens per step.
    speculative_tokens: int = 0
    # Share of drafts the target model accepts (DeepSeek-V3 §5.4.3: 85–90% for its MTP token); 1 = every draft,
    # the fastest the step can go. Tokens per step: 1 + a + a² + … over the drafts.
    speculative_acceptance: float = 1.0

    @property
    def tokens_per_step(self) -> float:
        a = self.speculative_acceptance
        return 1 + sum(a ** i for i in range(1, self.speculative_tokens + 1))

    @property
    def training(self) -> bool:
        return self.mode == "training"


@record(frozen=True, slots=True)
class Claims:
    throughput_samples_per_s: float | None = None
    throughput_tokens_per_s: float | None = None
    latency_ms: float | None = None
    latency_ms_per_layer: float | None = None
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    memory_per_device_mib: float | tuple[float, ...] | None = None
    mfu: float | None = None
    achieved_tflops_per_device: float | None = None

    def any(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


@record(frozen=True, slots=True)
class Serving:
    """A serving engine's limits (``[serving]``): caps on what runs, not the load.

    ``memory_fraction`` is the engine's memory knob; ``memory_fraction_of`` says
    what it is a fraction of: ``"device"`` (vLLM ``gpu_memory_utilization``,
    SGLang ``mem_fraction_static``: weights, activations and KV cache together
    get that share of the device) or ``"free"`` (TensorRT-LLM
    ``free_gpu_memory_fraction``: the KV cache gets that share of what is left
    after the weights).
    """

    engine: str | None = None
    max_model_len: int | None = None
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    memory_fraction: float | None = None
    memory_fraction_of: str = "device"
    chunked_prefill: bool | None = None
    redundant_experts: int = 0
    expert_load_balancing: bool = False


@record(frozen=True, slots=True)
class Training:
    """What a training framework adds to the layout (``[training]``).

    ``framework`` names the framework whose start-up checks apply (``megatron``,
    ``torchtitan``, ``deepspeed``, ``accelerate``); None for a framework-neutral plan.
    """

    framework: str | None = None
    gradient_accumulation_steps: int | None = None
    step_batch_size_schedule: str | None = None
    rampup_batch_size: tuple[int, int, int] | None = None     # Megatron-LM: start, increment, ramp-up samples
    layers_per_virtual_stage: int | None = None
    virtual_stages_per_rank: int | None = None
    uneven_pipeline: bool = False
    dp_shard: int | None = None
    # "1f1b" (interleaved when virtual stages are given) or "dualpipe": DeepSeek-V3's bidirectional schedule (§3.2.1),
    # each pipeline rank holding stage r and stage pp − 1 − r (an even pp ≥ 2; otherwise priced as 1F1B)
    pipeline_schedule: str = "1f1b"


@record(frozen=True, slots=True)
class Plan:
    schema_version: int
    model: Model
    hardware: Hardware
    parallelism: Parallelism
    workload: Workload
    claims: Claims = field(default_factory=Claims)
    name: str | None = None
    path: str | None = None
    serving: "Serving | None" = None
    training: Training = field(default_factory=Training)
    #: inputs the file did not give and nobody supplied ("hardware", "workload"): the values in their
    #: place are nominal, and rules that need them are not run (``Rule.requires``)
    unknown: frozenset = frozenset()


#: bytes per element of each dtype the plan format names
DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1}
