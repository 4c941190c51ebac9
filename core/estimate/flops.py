"""Floating-point operations: per token, per sample, per training step.

One multiply-add is 2 FLOPs. A token's forward pass costs 2 FLOPs per
*active* matmul parameter (attention projections, the dense MLP or the
top_k routed experts plus shared experts, the router and the LM head; the
input embedding is a lookup) plus the attention scores, ``2·n_h·d`` each for
QKᵀ and for the weighted sum of V per token of context.

Training counts model FLOPs as 3× the forward pass (PaLM, Appendix B;
Narayanan et al. 2021, eq. 3) over the full ``s²`` attention as both papers
do (the time bounds count only the causal half a FlashAttention kernel
computes: :func:`training_score_context`); hardware FLOPs add the recomputed
forward of every block with full recompute, and of the matmul modules a
selective recompute names (the
attention core adds nothing with FlashAttention, which recomputes the scores
in its backward pass anyway; the norms and the MoE activation are elementwise). Inference counts causal attention (each token attends
to the tokens before it).
"""

from __future__ import annotations


from ..records import record
from .params import ParamCounts


def matmul_params_per_token(counts: ParamCounts) -> int:
    """Active parameters that a token multiplies through: blocks, router, k experts, and the LM head."""
    return counts.matmul_per_token


def score_flops_per_context_token(model) -> int:
    """FLOPs of QKᵀ and of the V sum, per layer, for one query token and one context token."""
    if model.attention == "mla" and model.mla is not None:
        m = model.mla
        return 2 * model.num_attention_heads * (m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim)
    return 4 * model.num_attention_heads * model.head_dim


def forward_flops_per_token(model, counts: ParamCounts, context: float) -> float:
    return 2 * matmul_params_per_token(counts) + model.layers * score_flops_per_context_token(model) * context


def high_precision_flops_per_token(model, counts: ParamCounts, context: float) -> float:
    """Forward FLOPs per token that stay in 16 bits when a run computes in FP8: the attention core (QKᵀ and the V
    sum), the output head and the MoE router. DeepSeek-V3 (technical report §3.3.1) keeps "the embedding module, the
    output head, MoE gating modules, normalization operators, and attention operators" in BF16 or FP32; Transformer
    Engine's FP8 recipes cast only the Linear layers' GEMMs (its attention runs in BF16 unless asked otherwise), and
    TorchTitan's float8 converter leaves the output layer out (``filter_fqns = ["output"]``)."""
    head = counts.lm_head or counts.embedding
    return 2 * (head + counts.router_params) + model.layers * score_flops_per_context_token(model) * context


def recomputed_matmul_params(model, counts: ParamCounts, modules, layers: range | None = None) -> int:
    """Matmul parameters per token whose forward selective recompute runs again (Megatron-LM --recompute-modules):
    the dense MLP ("mlp", dense layers), the router and the k routed experts ("moe"), the shared experts ("moe" or
    "shared_experts") and the MLA up-projections ("mla_up_proj", DeepSeek-V3 §3.2.3); of the blocks ``layers`` (one
    pipeline stage's), all of them by default."""
    modules = set(modules)
    blocks = counts.layers if layers is None else counts.layers[layers.start:layers.stop]
    n = 0
    for l in blocks:
        if "mlp" in modules:
            n += l.mlp
        if "moe" in modules:
            n += l.router + l.top_k * l.expert
        if modules & {"moe", "shared_experts"}:
            n += l.shared_experts
    m = model.mla
    if "mla_up_proj" in modules and model.attention == "mla" and m is not None:
        heads = model.num_attention_heads
        q_up = (m.q_lora_rank or 0) * heads * (m.qk_nope_head_dim + m.qk_rope_head_dim)
        kv_up = m.kv_lora_rank * heads * (m.qk_nope_head_dim + m.v_head_dim)
        n += len(blocks) * (q_up + kv_up)
    return n


def training_score_context(plan) -> float:
    """Context tokens per query token whose attention scores a training step's kernels compute.

    Model and hardware FLOPs count the full ``s²`` as the papers do (PaLM, Appendix B; Narayanan et al. 2021,
    eq. 3), but a causal kernel never computes the masked half: FlashAttention skips every block above the diagonal,
    forward and backward (Dao 2023, FlashAttention-2, §3.1.1, "Causal masking"), so ``(s + 1) / 2`` context tokens
    per query token on average are the least a lower bound on the step may assume. Unfused attention
    (``flash_attention = false``) multiplies the whole ``s × s`` score matrix and masks it after: all ``s``."""
    s = plan.workload.seq_len
    return (s + 1) / 2 if plan.parallelism.flash_attention else s


def stage_training_flops(plan, counts: ParamCounts, layers: range, head: bool) -> tuple[float, float]:
    """Hardware FLOPs per sample of one pipeline stage in training, and the 16-bit part of them: the blocks
    ``layers`` and, on the last stage (``head``), the output head; the input embedding is a lookup. The same terms as
    :func:`estimate_flops` (3 × forward, the recomputed forward, the causal half of the scores), so that the stages
    of a plan add up to its ``computed_flops_per_sample`` and ``computed_high_precision_per_sample``."""
    model, par, s = plan.model, plan.parallelism, plan.workload.seq_len
    matmul, router = counts.layer_sums(layers)
    out = 2 * (counts.lm_head or counts.embedding) if head else 0
    scores = len(layers) * score_flops_per_context_token(model) * training_score_context(plan)
    fwd = 2 * matmul + scores + out
    hp = 2 * router + scores + out
    extra = hp_extra = 0.0
    if par.recompute == "full":
        extra, hp_extra = fwd - out, hp - out
    elif par.recompute == "selective":
        extra = 2 * recomputed_matmul_params(model, counts, par.recompute_modules, layers)
    return (3 * fwd + extra) * s, (3 * hp + hp_extra) * s


@record(frozen=True, slots=True)
class FlopsEstimate:
    flops_per_token: float          # model FLOPs per processed token (training: fwd+bwd; inference: per generated token, or per prompt token without output)
    flops_per_sample: float         # model FLOPs per sample (training) or per request (prefill + decode)
    hardware_flops_per_sample: float  # including recomputation
    prefill_flops_per_sample: float
    decode_flops_per_token: float   # at the mean decode context
    formula: str
    # of the hardware, prefill and decode FLOPs above, those that run at the 16-bit peak in an FP8 run (attention core,
    # output head, router): see high_precision_flops_per_token
    high_precision_per_sample: float = 0.0
    high_precision_prefill: float = 0.0
    high_precision_decode_per_token: float = 0.0
    # what the kernels compute, which the time bounds use: in training the hardware FLOPs over the causal half of the
    # attention scores (training_score_context); in inference the same as the hardware FLOPs (already causal)
    computed_flops_per_sample: float = 0.0
    computed_high_precision_per_sample: float = 0.0


def estimate_flops(plan, counts: ParamCounts) -> FlopsEstimate:
    model, work, par = plan.model, plan.workload, plan.parallelism
    s = work.seq_len
    if work.training:
        fwd = forward_flops_per_token(model, counts, context=s)
        per_token = 3 * fwd
        extra = 0.0
        if par.recompute == "full":
            extra = fwd - 2 * (counts.lm_head or counts.embedding)
        elif par.recompute == "selective":
            extra = 2 * recomputed_matmul_params(model, counts, par.recompute_modules)
        # Selective recompute of the attention core re-runs what FlashAttention (assumed throughout) recomputes in
        # its backward pass anyway, and of the norms and MoE activation function only elementwise work: no FLOPs
        # beyond the model's; the matmul modules (mlp, moe, shared_experts, mla_up_proj) run their forward again.
        hp = high_precision_flops_per_token(model, counts, context=s)
        hp_hw = 3 * hp + (hp - 2 * (counts.lm_head or counts.embedding) if par.recompute == "full" else 0.0)
        # what the kernels compute (the causal half of the scores): the whole model as one stage with the head
        computed, computed_hp = stage_training_flops(plan, counts, range(model.layers), head=True)
        return FlopsEstimate(per_token, per_token * s, (per_token + extra) * s, fwd * s, 0.0,
                             "training: 3 × (2·active matmul params + attention scores over the full sequence) per token",
                             hp_hw * s, hp * s, 0.0, computed, computed_hp)
    matmul = 2 * matmul_params_per_token(counts)
    scores = model.layers * score_flops_per_context_token(model)
    prefill = matmul * s + scores * s * (s + 1) / 2
    out = work.output_len
    mean_context = s + (out + 1) / 2
    decode_token = matmul + scores * mean_context
    sample = prefill + decode_token * out
    per_token = decode_token if out else sample / s
    head = 2 * (counts.lm_head or counts.embedding) + 2 * counts.router_params
    hp_prefill = head * s + scores * s * (s + 1) / 2
    hp_decode = head + scores * mean_context
    return FlopsEstimate(per_token, sample, sample, prefill, decode_token,
                         "inference: 2·active matmul params per token + causal attention scores",
                         hp_prefill + hp_decode * out, hp_prefill, hp_decode,
                         sample, hp_prefill + hp_decode * out)
