"""Training costs the layout search must price: ZeRO-3 gathers, context-parallel exchange, stored attention scores.

Sources: Rajbhandari et al. 2020 (ZeRO, §7) — stage 3 all-gathers the weights before the forward and again before
the backward pass; with m micro-batches per step that is 2m gathers and one reduce-scatter. Liu et al. 2023 (ring
attention) / Megatron-LM context parallelism — each rank's K and V chunk visits the cp − 1 other ranks per layer.
Korthikanti et al. 2022 (Table 2) — without FlashAttention the softmax scores and their dropout mask, 5as²b bytes
per layer, are stored, and selective recompute removes exactly them.
"""

from dataclasses import replace

import pytest

from deploylint.core.estimate.analysis import analyze
from deploylint.core.plan import Hardware, Model, Parallelism, Plan, Workload

LLAMA8 = Model(layers=32, hidden_size=4096, num_attention_heads=32, vocab_size=128256, num_kv_heads=8, head_dim=128,
               ffn_hidden_size=14336)
H100 = dict(memory_gib=80, peak_tflops=989.4, memory_bandwidth_gbps=3350, intra_node_bandwidth_gbps=450,
            inter_node_bandwidth_gbps=50)


def _train(par, batch=64, seq=4096, devices=16):
    return Plan(1, LLAMA8, Hardware(num_devices=devices, **H100), par, Workload("training", batch_size=batch, seq_len=seq))


def _dp(plan):
    return sum(t.bytes for t in analyze(plan).comm.traffic if t.kind == "dp")


def test_zero3_gathers_weights_for_every_micro_batch():
    zero1 = _dp(_train(Parallelism(dp=16, zero_stage=1)))              # 4 micro-batches per replica
    zero3 = _dp(_train(Parallelism(dp=16, zero_stage=3)))
    # all-reduce = 2 × (n−1)/n·M; stage 3: 2m all-gathers + 1 reduce-scatter = (2m + 1) × (n−1)/n·M with m = 4
    assert zero3 / zero1 == pytest.approx((2 * 4 + 1) / 2, rel=1e-9)
    one_mb = _dp(_train(Parallelism(dp=16, zero_stage=3), batch=16))  # m = 1: the ZeRO paper's 3Ψ against 2Ψ
    assert one_mb / zero1 == pytest.approx(1.5, rel=1e-9)


def test_context_parallel_ring_exchange():
    plan = _train(Parallelism(dp=8, cp=2), seq=8192)
    (cp,) = [t for t in analyze(plan).comm.traffic if t.kind == "cp"]
    tokens = 8192 // 2                                                  # one micro-batch's shard on a rank
    kv = tokens * 2 * 8 * 128 * 2                                       # K and V, 8 heads of 128, bf16
    micro_batches = 64 // 8
    # forward: the other rank's chunk once; backward: K/V again and their gradients — 3 exchanges per layer
    assert cp.bytes == pytest.approx(micro_batches * 3 * 32 * kv * (2 - 1), rel=1e-9)
    assert cp.link == "intra"


def test_stored_scores_without_flash_attention_and_what_selective_recompute_saves():
    base = _train(Parallelism(dp=16))
    flash = analyze(base).memory.busiest.activations
    stored = analyze(replace(base, parallelism=Parallelism(dp=16, flash_attention=False))).memory.busiest.activations
    scores = 5 * 32 * 4096 * 4096 * 1 * 32                              # 5as²b per layer, 32 layers, b = 1
    assert stored - flash == pytest.approx(scores, rel=1e-9)
    selective = Parallelism(dp=16, flash_attention=False, recompute="selective")
    assert analyze(replace(base, parallelism=selective)).memory.busiest.activations == flash
