"""Serving physics: continuous batching, disaggregated pools, speculative decoding, expert-parallel all-to-all.

Sources: Yu et al., "Orca" (OSDI'22) and Agrawal et al., "Sarathi-Serve" (OSDI'24) — under continuous batching a
request's first token waits for its own (chunked) prefill; Zhong et al., "DistServe" (OSDI'24) — prefill and decode
on separate pools; DeepSeek-V3 technical report (arXiv 2412.19437) §2.1.2 and §3.2 — node-limited routing, each token
sent to at most 4 nodes, FP8 dispatch and BF16 combine (§3.3.2); Leviathan et al. 2023 — speculative decoding emits
up to 1 + drafts tokens per verification step.
"""

import os
from dataclasses import replace

import pytest

from deploylint.core.estimate.analysis import analyze
from deploylint.core.estimate.comm import all_to_all_copies
from deploylint.core.plan import Hardware, Model, MoE, Parallelism, Plan, Workload
from deploylint.core.plan.resolve import resolve
from deploylint.core.plan.hardware import CATALOG

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data", "hf-configs")
LLAMA70 = Model(layers=80, hidden_size=8192, num_attention_heads=64, vocab_size=128256, num_kv_heads=8, head_dim=128,
                ffn_hidden_size=28672)
H100 = dict(memory_gib=80, peak_tflops=989.4, memory_bandwidth_gbps=3350, intra_node_bandwidth_gbps=450,
            inter_node_bandwidth_gbps=50)
LLAMA70_PARAMS = 70_553_706_496        # HF safetensors total (domain.md B5)


def _plan(**work):
    base = dict(batch_size=8, seq_len=2048, output_len=256)
    base.update(work)
    return Plan(1, LLAMA70, Hardware(num_devices=4, **H100), Parallelism(tp=4), Workload("inference", **base))


def test_continuous_batching_ttft_is_one_prompts_prefill():
    continuous = analyze(_plan()).bounds
    static = analyze(_plan(batching="static")).bounds
    # one 2,048-token prompt: at least 2 FLOPs per parameter per token over 4 × 989.4 TFLOP/s
    floor = 2 * LLAMA70_PARAMS * 2048 / (4 * 989.4e12) * 1e3
    assert floor <= continuous.ttft_ms < 1.1 * floor
    # the whole batch of 8 before any first token (compute-bound: 8× the work)
    assert static.ttft_ms == pytest.approx(8 * continuous.ttft_ms, rel=0.02)
    # the throughput bound pays every prompt's prefill either way
    assert continuous.max_throughput_samples_per_s == pytest.approx(static.max_throughput_samples_per_s, rel=1e-9)


def test_disaggregated_pools_run_only_their_phase():
    decode = analyze(_plan(phase="decode")).bounds
    prefill = analyze(_plan(phase="prefill")).bounds
    both = analyze(_plan()).bounds
    assert decode.ttft_ms is None and [p.name for p in decode.phases] == ["decode"]
    assert decode.tpot_ms == pytest.approx(both.tpot_ms, rel=1e-9)
    assert prefill.tpot_ms is None and "decode" not in [p.name for p in prefill.phases]
    # a prefill pool holds only the prompts' KV cache: 81,920 B/token/device × 8 × 2,048
    assert analyze(_plan(phase="prefill")).memory.devices[0].kv_cache == 81_920 * 8 * 2048


def test_speculative_tokens_divide_a_memory_bound_step():
    one = analyze(_plan(batch_size=1)).bounds
    mtp = analyze(_plan(batch_size=1, speculative_tokens=1)).bounds
    # at batch 1 the step reads the same weights whether it verifies 1 or 2 tokens: TPOT halves
    assert mtp.tpot_ms == pytest.approx(one.tpot_ms / 2, rel=0.02)


def _deepseek():
    plan, diags = resolve({"schema_version": 1, "model": {"from": os.path.join(CONFIGS, "deepseek-v3.json")},
                           "hardware": {"accelerator": "h100-sxm", "num_devices": 32},
                           "parallelism": {"ep": 32}, "workload": {"mode": "inference", "batch_size": 32,
                                                                   "seq_len": 4096, "dtype": "fp8"}},
                          plan_path=None, accelerators=CATALOG)
    assert not diags
    return plan


def test_node_limited_routing_caps_the_nodes_a_token_reaches():
    moe = _deepseek().model.moe
    assert (moe.n_group, moe.topk_group) == (8, 4)        # DeepSeek-V3 config.json
    # EP 32 over 4 nodes (DeepSeek's prefill deployment): a token's 8 experts come from 4 of the 8 groups, so it
    # reaches at most 4 nodes, 3 of them remote — never 8 copies, one per expert
    off_node, on_node = all_to_all_copies(moe, ep=32, etp=1, dpn=8)
    assert off_node <= 3
    unlimited = all_to_all_copies(replace(moe, n_group=0, topk_group=0), ep=32, etp=1, dpn=8)[0]
    assert off_node < unlimited < 8
    # inside one node nothing crosses the network
    assert all_to_all_copies(moe, ep=8, etp=1, dpn=8)[0] == 0


def test_fp8_dispatch_and_bf16_combine():
    plan = _deepseek()
    a = analyze(plan)
    ep = sum(t.bytes for t in a.comm.request_traffic if t.kind == "ep")
    bf16 = analyze(replace(plan, workload=replace(plan.workload, dtype="bf16", kv_cache_dtype="bf16"))).comm
    ep16 = sum(t.bytes for t in bf16.request_traffic if t.kind == "ep")
    # dispatch 1 byte + combine 2 bytes per element, against 2 + 2
    assert ep == pytest.approx(ep16 * 3 / 4, rel=1e-9)


def test_experts_inside_the_tp_group_need_no_dispatch():
    plan = _deepseek()
    tp8 = replace(plan, hardware=replace(plan.hardware, num_devices=8), parallelism=Parallelism(tp=8, ep=8))
    assert not [t for t in analyze(tp8).comm.traffic if t.kind == "ep"]
    adp = replace(tp8, parallelism=Parallelism(tp=1, dp=8, ep=8))     # attention data parallel: tokens are apart
    assert [t for t in analyze(adp).comm.traffic if t.kind == "ep"]


def test_redundant_experts_are_resident():
    moe = MoE(num_experts=64, top_k=2, expert_ffn_hidden_size=512)
    model = Model(layers=4, hidden_size=1024, num_attention_heads=16, vocab_size=32000, num_kv_heads=16, head_dim=64,
                  ffn_hidden_size=4096, moe=moe)
    hw = Hardware(num_devices=3, memory_gib=64, peak_tflops=400, memory_bandwidth_gbps=1600)
    base = Plan(1, model, hw, Parallelism(dp=3, ep=3), Workload("inference", batch_size=8, seq_len=16))
    plain = analyze(base).memory.devices
    eplb = analyze(replace(base, parallelism=Parallelism(dp=3, ep=3, redundant_experts=2))).memory.devices
    assert [d.experts for d in plain] == [22, 21, 21] and [d.experts for d in eplb] == [22, 22, 22]
    one_expert = 3 * 1024 * 512 * 4 * 2                     # SwiGLU, 4 layers, bf16
    assert eplb[1].weights - plain[1].weights == one_expert


def test_speculative_acceptance_sets_tokens_per_step():
    # DeepSeek-V3 §5.4.3: one MTP draft accepted 85–90% of the time → 1.85–1.9 tokens per step
    one = analyze(_plan(batch_size=1)).bounds
    mtp = analyze(_plan(batch_size=1, speculative_tokens=1, speculative_acceptance=0.85)).bounds
    assert mtp.tpot_ms == pytest.approx(one.tpot_ms / 1.85, rel=0.02)
