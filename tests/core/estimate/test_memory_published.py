"""Memory estimates against published tables.

* ZeRO (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion
  Parameter Models", SC'20), Table 1: model-state memory per device for
  Ψ = 7.5B at N_d = 64 — 120 GB baseline, 31.4 GB P_os, 16.6 GB P_os+g,
  1.88 GB P_os+g+p (GB = 1e9 bytes, mixed-precision Adam, K = 12).
* Korthikanti et al., "Reducing Activation Recomputation in Large Transformer
  Models" (MLSys 2023), Table 2: activation bytes per transformer layer, e.g.
  sbh(34 + 5as/h) without parallelism, 34·sbh/t with tensor + sequence parallelism
  and selective recompute, 2·sbh with full recompute.
"""

from dataclasses import replace

import pytest

from deploylint.core.estimate.analysis import analyze
from deploylint.core.estimate.memory import layer_activation_bytes
from deploylint.core.plan import Hardware, Model, Parallelism, Plan, Training, Workload

# A GPT-style model of 7.5B parameters (Megatron-LM 2021 Table 1 row: 32 heads, h=4096, 36 layers).
GPT_7_5B = Model(layers=36, hidden_size=4096, num_attention_heads=32, vocab_size=51200, num_kv_heads=32, head_dim=128,
                 ffn_hidden_size=4 * 4096, ffn_activation="gelu", norm="layernorm", tie_embeddings=True)


def _zero_plan(stage: int) -> Plan:
    return Plan(1, GPT_7_5B, Hardware(num_devices=64, memory_gib=80, peak_tflops=312, memory_bandwidth_gbps=2039),
                Parallelism(dp=64, zero_stage=stage), Workload("training", batch_size=64, seq_len=2048, dtype="fp16"))


@pytest.mark.parametrize("stage, published_gb", [(0, 120.0), (1, 31.4), (2, 16.6), (3, 1.88)])
def test_zero_table1_model_states_per_device(stage, published_gb):
    analysis = analyze(_zero_plan(stage))
    psi = analysis.params.total
    # The model has 7.5B parameters by Megatron's count; scale to exactly Ψ = 7.5e9 as the table does.
    assert psi == pytest.approx(7.5e9, rel=0.02)
    d = analysis.memory.devices[0]
    states = (d.weights + d.gradients + d.optimizer) * (7.5e9 / psi)
    # The table rounds to three significant figures: stated tolerance 0.5%.
    assert states / 1e9 == pytest.approx(published_gb, rel=0.005)


# Korthikanti et al. 2022, GPT-3 175B row of Table 3: a=96, h=12288, s=2048, b=1, t=8.
GPT3 = Model(layers=96, hidden_size=12288, num_attention_heads=96, vocab_size=51200, num_kv_heads=96, head_dim=128,
             ffn_hidden_size=4 * 12288, ffn_activation="gelu", norm="layernorm")
S, B, H, A, T = 2048, 1, 12288, 96, 8
SBH = S * B * H


@pytest.mark.parametrize("tp, sp, recompute, formula", [
    (1, False, "none", SBH * (34 + 5 * A * S / H)),                       # no parallelism
    (T, False, "none", SBH * (10 + 24 / T + 5 * A * S / (H * T))),        # tensor parallel
    (T, True, "none", SBH * (34 / T + 5 * A * S / (H * T))),              # tensor + sequence parallel
    (T, False, "selective", SBH * (10 + 24 / T)),                         # tensor parallel + selective recompute
    (T, True, "selective", SBH * 34 / T),                                 # tensor + sequence parallel + selective
    (T, False, "full", SBH * 2),                                          # full recompute
    # with sequence parallelism the checkpointed input is the rank's [s/t, b, h] shard (Megatron-LM's checkpoint)
    (T, True, "full", SBH * 2 / T),
])
def test_korthikanti_table2_activation_rows(tp, sp, recompute, formula):
    got = layer_activation_bytes(GPT3, False, s=S, b=B, tp=tp, sp=sp, recompute=recompute, dtype="fp16",
                                 store_scores=True)
    # The paper's formulas are exact in its model (16-bit activations, 1-byte dropout masks): tolerance 1e-9.
    assert got == pytest.approx(formula, rel=1e-9)


def test_korthikanti_gpt3_tp_sp_row_in_mib():
    # The same row as published figures: 342 MiB per layer with TP+SP at t=8 (b=1, s=2048), 48 MiB with full recompute.
    got = layer_activation_bytes(GPT3, False, s=S, b=B, tp=T, sp=True, recompute="none", dtype="fp16", store_scores=True)
    assert got / 2**20 == pytest.approx(342, abs=0.5)
    full = layer_activation_bytes(GPT3, False, s=S, b=B, tp=T, sp=False, recompute="full", dtype="fp16")
    assert full / 2**20 == pytest.approx(48, abs=0.5)
    # without dropout (Llama-style configs) the two 1-byte masks of sbh go: 2sbh fewer bytes per layer
    nodrop = layer_activation_bytes(replace(GPT3, dropout=False), False, s=S, b=B, tp=T, sp=True, recompute="none",
                                    dtype="fp16", store_scores=True)
    assert got - nodrop == pytest.approx(2 * S * B * GPT3.hidden_size / T, rel=1e-12)


# Korthikanti et al. 2022, §4.1, the terms behind Table 2's 34 (per layer, 16-bit, units of sbh): attention 11 (QKV
# input 2, Q and K 4, V 2, output projection input 2, dropout mask 1), MLP 19 (first linear input 2, GeLU input 8,
# second linear input 8, dropout mask 1), the two LayerNorms' inputs 4. A partial recompute drops the terms its
# module rebuilds (Megatron-LM --recompute-modules); an FP8 cache halves the matmul inputs (DeepSeek-V3 §3.3.3:
# activations cached "in FP8 format for the backward pass of the Linear operator").
@pytest.mark.parametrize("modules, cache, saved", [
    (("core_attn", "layernorm"), None, 2 + 2),          # the norms' outputs: the QKV and first-linear inputs
    (("core_attn", "mlp"), None, 8 + 8),                # the MLP's inner activations (its input stays: the checkpoint)
    (("core_attn", "layernorm", "mlp"), None, 2 + 2 + 8 + 8),
    (("core_attn",), "fp8", (2 + 2 + 8) / 2),           # QKV, first- and second-linear inputs at 1 byte; the output
    (("core_attn",), "fp32", -(2 + 2 + 8)),             # projection's input, which attention's backward reads, stays;
])                                                      # a 32-bit cache stores those inputs at 4 bytes: more, not less
def test_partial_recompute_and_fp8_cache_drop_korthikanti_terms(modules, cache, saved):
    kw = dict(s=S, b=B, tp=1, sp=False, dtype="fp16", store_scores=True)
    selective = layer_activation_bytes(GPT3, False, recompute="selective", **kw)
    assert selective == pytest.approx(SBH * 34, rel=1e-9)
    got = layer_activation_bytes(GPT3, False, recompute="selective", modules=modules, cache_dtype=cache, **kw)
    assert got == pytest.approx(SBH * (34 - saved), rel=1e-9)


def test_moe_layer_keeps_each_routed_copy_and_recomputing_moe_drops_them():
    # A structural test, not a published figure: no paper or manual gives a MoE layer's stored bytes per routed
    # copy, so this asserts the structure alone. Each of a token's top-k routed copies keeps its own expert
    # activations, so what recomputing them saves grows by the same amount with each copy; "moe_act" (Megatron-Core's
    # --recompute-modules: the expert MLP's activation function, "when the expert intermediate activation
    # dominates", Megatron-Bridge's activation-recomputation guide) drops part of what "moe" (the whole MoE block
    # rebuilt from its input) drops, in proportion to the copies.
    from deploylint.core.plan import MoE
    h, f, E = 2048, 768, 128

    def dropped(k, module):
        moe = Model(layers=1, hidden_size=h, num_attention_heads=32, vocab_size=1000, num_kv_heads=4, head_dim=128,
                    ffn_hidden_size=6144, moe=MoE(num_experts=E, top_k=k, expert_ffn_hidden_size=f), dropout=False)
        kw = dict(s=S, b=B, tp=1, sp=False, dtype="bf16", recompute="selective")
        return layer_activation_bytes(moe, True, **kw) - layer_activation_bytes(moe, True, modules=("core_attn", module), **kw)

    whole = [dropped(k, "moe") for k in (2, 4, 6, 8)]
    act = [dropped(k, "moe_act") for k in (2, 4, 6, 8)]
    assert all(0 < a < w for a, w in zip(act, whole))
    steps = [later - earlier for earlier, later in zip(whole, whole[1:])]
    assert steps[0] > 0 and steps == pytest.approx([steps[0]] * 3, rel=1e-12)     # the same for each two copies more
    assert act == pytest.approx([act[0] * k / 2 for k in (2, 4, 6, 8)], rel=1e-12)   # the copies' part alone


def test_first_pipeline_stage_holds_pp_microbatches_in_flight():
    # 1F1B (Narayanan et al. 2021 §2.2): stage k keeps pp - k micro-batches of activations.
    plan = Plan(1, GPT3, Hardware(num_devices=64, memory_gib=80, peak_tflops=312, memory_bandwidth_gbps=2039),
                Parallelism(tp=8, pp=8, dp=1, sequence_parallel=True, recompute="selective"),
                Workload("training", batch_size=64, seq_len=2048))
    mem = analyze(plan).memory
    first = next(d for d in mem.devices if d.stage == 0)
    fourth = next(d for d in mem.devices if d.stage == 4)
    per_layer = SBH * 34 / T
    assert first.activations == pytest.approx(per_layer * 12 * 8, rel=1e-6)
    assert fourth.activations == pytest.approx(per_layer * 12 * 4, rel=1e-6)


@pytest.mark.parametrize("v", [2, 3, 6])
def test_interleaved_first_stage_holds_korthikanti_layers(v):
    # Korthikanti et al. 2022, §4.2.3: the interleaved schedule's first stage stores activations of
    # L·(1 + (p − 1)/(p·m)) layers, m the model chunks per rank (v here); 1F1B stores L (p micro-batches of L/p).
    plan = Plan(1, GPT3, Hardware(num_devices=64, memory_gib=80, peak_tflops=312, memory_bandwidth_gbps=2039),
                Parallelism(tp=8, pp=8, dp=1, sequence_parallel=True, recompute="selective"),
                Workload("training", batch_size=64, seq_len=2048), training=Training(virtual_stages_per_rank=v))
    first = next(d for d in analyze(plan).memory.devices if d.stage == 0)
    p, L = 8, 96
    assert first.activations == pytest.approx(SBH * 34 / T * L * (1 + (p - 1) / (p * v)), rel=1e-6)


def test_kv_cache_llama70b_matches_published_per_token_size():
    # domain.md A6: Llama-3.1-70B bf16 KV cache = 2·80·8·128·2 = 327,680 bytes per token; with TP=4 each
    # device keeps 2 of the 8 KV heads. llm-analysis 0.2.2 reports 1,509,949,440 B/GPU for batch 8,
    # 2048+256 tokens, TP4 — the same figure.
    llama70 = Model(layers=80, hidden_size=8192, num_attention_heads=64, vocab_size=128256, num_kv_heads=8, head_dim=128,
                    ffn_hidden_size=28672)
    plan = Plan(1, llama70, Hardware(num_devices=4, memory_gib=80, peak_tflops=989, memory_bandwidth_gbps=3350),
                Parallelism(tp=4), Workload("inference", batch_size=8, seq_len=2048, output_len=256, batching="static"))
    d = analyze(plan).memory.devices[0]
    assert d.kv_cache == 1_509_949_440
    # continuous batching: sequences join and leave at every step, so on average each holds its prompt and half its
    # output (paged KV cache, Kwon et al. SOSP'23): 81,920 B/token/device × 8 × (2048 + 128)
    continuous = analyze(replace(plan, workload=replace(plan.workload, batching="continuous"))).memory.devices[0]
    assert continuous.kv_cache == 81_920 * 8 * (2048 + 128)


def test_mla_kv_cache_is_the_compressed_latent():
    # DeepSeek-V2 paper §2.1: MLA caches (d_c + d_h^R) elements per token and layer, shared by all heads;
    # DeepSeek-V3 (kv_lora_rank 512, qk_rope_head_dim 64, 61 layers) in bf16: 61 · 576 · 2 = 70,272 bytes per token.
    import os

    from deploylint.core.estimate.memory import kv_bytes_per_token
    from deploylint.core.plan.resolve import _model

    data = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data", "hf-configs")
    v3 = _model({"from": os.path.join(data, "deepseek-v3.json")}, os.path.join(data, "plan.toml"), [])
    assert kv_bytes_per_token(v3, 61, tp=1, dtype="bf16") == 70_272
    assert kv_bytes_per_token(v3, 61, tp=8, dtype="bf16") == 70_272      # the latent is not split across TP ranks


def test_placement_22_21_21_makes_device_0_the_heaviest():
    from deploylint.core.plan import MoE

    m = Model(layers=4, hidden_size=1024, num_attention_heads=16, vocab_size=32000, num_kv_heads=16, head_dim=64,
              ffn_hidden_size=4096, moe=MoE(num_experts=64, top_k=2, expert_ffn_hidden_size=512))
    plan = Plan(1, m, Hardware(num_devices=3, memory_gib=64, peak_tflops=400, memory_bandwidth_gbps=1600),
                Parallelism(dp=3, ep=3, expert_placement=(22, 21, 21)), Workload("inference", batch_size=8, seq_len=16))
    devices = analyze(plan).memory.devices
    one_expert = 3 * 1024 * 512 * 4 * 2            # gated expert, 4 layers, bf16 bytes
    assert [d.experts for d in devices] == [22, 21, 21]
    assert devices[0].weights - devices[1].weights == one_expert and devices[1].weights == devices[2].weights


def test_zero_offload_leaves_only_the_16bit_weights_on_the_device():
    # Ren et al., "ZeRO-Offload: Democratizing Billion-Scale Model Training" (USENIX ATC '21), §4.1: with the
    # fp32 optimizer states and the fp16 gradients on the CPU, the GPU keeps the 2M bytes of fp16 parameters
    # of the 16M a mixed-precision Adam run needs — which is how a 13B model trains on one 32 GB V100 (abstract).
    v100 = Hardware(num_devices=1, memory_gib=32, peak_tflops=125, memory_bandwidth_gbps=900)
    work = _zero_plan(0).workload
    base = analyze(Plan(1, GPT_7_5B, v100, Parallelism(dp=1, zero_stage=2), work))
    offloaded = analyze(Plan(1, GPT_7_5B, v100, Parallelism(dp=1, zero_stage=2, offload_optimizer="cpu"), work))
    psi = offloaded.params.total
    on, off = base.memory.devices[0], offloaded.memory.devices[0]
    assert (on.weights + on.gradients + on.optimizer) / psi == pytest.approx(16, rel=0.001)
    assert (off.weights + off.gradients + off.optimizer) / psi == pytest.approx(2, rel=0.001)
    # 13B parameters × 2 bytes = 26 GB of model states: inside a 32 GB V100, as the paper reports
    assert 13e9 * (off.weights + off.gradients + off.optimizer) / psi < 32e9


def test_parameter_offload_needs_zero_stage_3():
    # DeepSpeed offloads parameters only at ZeRO stage 3 (offload_param is a stage-3 option): below it, nothing moves
    hw = Hardware(num_devices=8, memory_gib=80, peak_tflops=312, memory_bandwidth_gbps=2039)
    work = Workload("training", batch_size=64, seq_len=2048, dtype="fp16")
    stage2 = analyze(Plan(1, GPT_7_5B, hw, Parallelism(dp=8, zero_stage=2, offload_params="cpu"), work)).memory.devices[0]
    plain = analyze(Plan(1, GPT_7_5B, hw, Parallelism(dp=8, zero_stage=2), work)).memory.devices[0]
    assert stage2.weights == plain.weights
    stage3 = analyze(Plan(1, GPT_7_5B, hw, Parallelism(dp=8, zero_stage=3, offload_params="cpu"), work)).memory.devices[0]
    sharded = analyze(Plan(1, GPT_7_5B, hw, Parallelism(dp=8, zero_stage=3), work)).memory.devices[0]
    assert stage3.weights < sharded.weights


def test_dualpipe_holds_two_stages_and_pp_plus_one_micro_batches():
    # DeepSeek-V3 technical report §3.2.1, Table 2: DualPipe keeps 2× the parameters of 1F1B (each rank holds stage r
    # of one direction and stage pp − 1 − r of the other) and PP + 1 micro-batches of activations (1F1B: PP, on the
    # first stage); its bubble is (PP/2 − 1)(F&B + B − 3W) against 1F1B's (PP − 1)(F + B).
    hw = Hardware(num_devices=64, memory_gib=80, peak_tflops=312, memory_bandwidth_gbps=2039)
    par = Parallelism(tp=8, pp=8, dp=1, sequence_parallel=True, recompute="selective")
    work = Workload("training", batch_size=64, seq_len=2048)
    one = analyze(Plan(1, GPT3, hw, par, work))
    dual = analyze(Plan(1, GPT3, hw, par, work, training=Training(pipeline_schedule="dualpipe")))
    by = lambda a, k: next(d for d in a.memory.devices if d.stage == k)
    # a middle rank (no embedding, no head): stages 2 and 5, 12 layers each
    assert by(dual, 2).params == by(one, 2).params + by(one, 5).params == 2 * by(one, 2).params
    assert by(dual, 2).activations == pytest.approx(by(one, 0).activations * (8 + 1) / 8, rel=1e-9)
    # both end ranks hold the embedding and the head
    assert by(dual, 0).params == by(dual, 7).params == by(one, 0).params + by(one, 7).params
    # the bubble at its least: F&B = F + B (overlap hides communication, not FLOPs), B = 2F, W = F, so
    # (PP/2 − 1)(F + B + B − 3W) = (PP/2 − 1)·2F of the m·3F a rank computes; m = 64 micro-batches here
    m, p = 64, 8
    slots = (p / 2 - 1) * 2 / 3
    assert dual.bounds.phases[0].bubble == pytest.approx(slots / (m + slots), rel=1e-12)
    # the stages' FLOPs per sample (Narayanan et al. 2021, eq. 3's terms: 24·s·h² + 4·s²·h a layer forward, 2·s·h·V
    # the head, tripled for the backward pass; biases aside, < 0.1%): under 1F1B the last stage (12 layers and the
    # head) runs all 64 micro-batches after the 7 stages before it have filled the pipeline once; under DualPipe an
    # end rank runs half of them through stage 0 and half through stage 7 (with the head), the busiest rank. The
    # 4·s²·h of the scores is the causal half FlashAttention computes, 4·s·(s + 1)/2·h (FlashAttention-2, §3.1.1)
    layer, head = 3 * S * (24 * H * H + 4 * S * (S + 1) / 2 * H / S), 3 * S * 2 * H * 51200
    seconds = lambda flops: flops * 64 / (8 * 312e12)
    last, fill = seconds(12 * layer + head), 7 * seconds(12 * layer) / m
    assert one.bounds.phases[0].compute_s == pytest.approx(last, rel=1e-3)
    assert one.bounds.phases[0].bubble == pytest.approx(fill / (last + fill), rel=1e-3)
    assert dual.bounds.phases[0].compute_s == pytest.approx(seconds(12 * layer + head / 2), rel=1e-3)
