"""The layout search prunes (memory before pricing, a lower bound before the whole memory estimate) and shares work
between devices; none of it may change what it finds.

Each plan below is searched twice: the way rules and ``deploylint suggest`` search, and exhaustively (every
layout of the grid, with every memory saver the search tries, estimated in full with :func:`analyze` as
:func:`candidate_for` estimates a plan's own layout). The two must return the same candidates, figure for figure, in
the same order. The devices that share one computation are checked apart: each against its estimate alone. The plans cover what the pruning depends on:
dense and MoE models, training (where most layouts do not fit before ZeRO or recompute) and serving (where most
do), uneven expert placements and pipeline splits, redundant experts, stored attention scores, a plan without
hardware (every layout fits), and device counts from 8 to 1,024. Model shapes are those of the models' published
config.json files (tests/data/hf-configs).
"""

from dataclasses import replace

import pytest

from deploylint.core.estimate.analysis import analyze
from deploylint.core.estimate.layouts import search
from deploylint.core.estimate.memory import estimate_memory, representative_devices
from deploylint.core.estimate.params import count_params
from deploylint.core.plan import MLA, Hardware, Model, MoE, Parallelism, Plan, Training, Workload

H100 = dict(memory_gib=80, peak_tflops=989.4, memory_bandwidth_gbps=3350, devices_per_node=8,
            intra_node_bandwidth_gbps=450, inter_node_bandwidth_gbps=50)
A100_40 = dict(memory_gib=40, peak_tflops=312, memory_bandwidth_gbps=1555, devices_per_node=8,
               intra_node_bandwidth_gbps=300, inter_node_bandwidth_gbps=25)
LLAMA8 = Model(layers=32, hidden_size=4096, num_attention_heads=32, vocab_size=128256, num_kv_heads=8, head_dim=128,
               ffn_hidden_size=14336)
LLAMA70 = Model(layers=80, hidden_size=8192, num_attention_heads=64, vocab_size=128256, num_kv_heads=8, head_dim=128,
                ffn_hidden_size=28672)
MIXTRAL = Model(layers=32, hidden_size=4096, num_attention_heads=32, vocab_size=32000, num_kv_heads=8, head_dim=128,
                ffn_hidden_size=14336, moe=MoE(num_experts=8, top_k=2, expert_ffn_hidden_size=14336))
QWEN3_30B = Model(layers=48, hidden_size=2048, num_attention_heads=32, vocab_size=151936, num_kv_heads=4, head_dim=128,
                  ffn_hidden_size=6144, qk_norm="head",
                  moe=MoE(num_experts=128, top_k=8, expert_ffn_hidden_size=768))
DEEPSEEK_V3 = Model(layers=61, hidden_size=7168, num_attention_heads=128, vocab_size=129280, num_kv_heads=128,
                    head_dim=128, ffn_hidden_size=18432, attention="mla", mtp_layers=1,
                    mla=MLA(q_lora_rank=1536, kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128),
                    moe=MoE(num_experts=256, top_k=8, expert_ffn_hidden_size=2048, shared_experts=1,
                            shared_expert_ffn_hidden_size=2048, dense_layers=3, n_group=8, topk_group=4))


def _train(model, devices, par, batch, seq, hw=H100, **work):
    return Plan(1, model, Hardware(devices, **hw), par, Workload("training", batch_size=batch, seq_len=seq, **work))


def _serve(model, devices, par, batch, seq, out, hw=H100, **work):
    return Plan(1, model, Hardware(devices, **hw), par,
                Workload("inference", batch_size=batch, seq_len=seq, output_len=out, **work))


PLANS = {
    "llama-70b training, 1024 devices": _train(LLAMA70, 1024, Parallelism(tp=8, pp=4, dp=32), 2048, 8192),
    "llama-70b training, 64 devices": _train(LLAMA70, 64, Parallelism(tp=8, pp=8, dp=1), 512, 4096),
    "llama-70b training, 64 A100-40GB (little fits)": _train(LLAMA70, 64, Parallelism(tp=8, pp=8), 256, 4096, hw=A100_40),
    "llama-8b training, 16 devices, no flash attention": _train(LLAMA8, 16, Parallelism(tp=2, dp=8, flash_attention=False),
                                                                64, 4096),
    "llama-8b training, uneven pipeline split": _train(LLAMA8, 32, Parallelism(tp=4, pp=4, dp=2,
                                                                             pipeline_layers=(7, 9, 9, 7)), 64, 4096),
    "llama-70b training, interleaved schedule (4 chunks per rank)": replace(
        _train(LLAMA70, 128, Parallelism(tp=8, pp=4, dp=4), 512, 4096), training=Training(virtual_stages_per_rank=4)),
    "llama-8b training, fp32, ZeRO-1 written": _train(LLAMA8, 8, Parallelism(dp=8, zero_stage=1), 64, 2048, dtype="fp32"),
    "llama-8b serving, 8 devices": _serve(LLAMA8, 8, Parallelism(tp=8), 64, 2048, 256),
    "mixtral training, 256 devices": _train(MIXTRAL, 256, Parallelism(tp=2, pp=4, dp=32, ep=8), 1024, 4096),
    "llama-70b serving, 32 devices, four stages": _serve(LLAMA70, 32, Parallelism(tp=4, pp=4, dp=2), 64, 4096, 512),
    "deepseek-v3 serving, four stages, uneven expert slots": _serve(
        DEEPSEEK_V3, 256, Parallelism(tp=1, pp=4, dp=64, ep=64, redundant_experts=32), 512, 4096, 512,
        speculative_tokens=1),
    "mixtral serving, 1024 devices": _serve(MIXTRAL, 1024, Parallelism(tp=2, dp=512, ep=2), 4096, 2048, 512),
    "mixtral serving, 64 devices, static batching": _serve(MIXTRAL, 64, Parallelism(tp=8, dp=8, ep=8), 256, 4096, 256,
                                                           batching="static"),
    "mixtral serving, prefill pool": _serve(MIXTRAL, 16, Parallelism(tp=4, dp=4, ep=4), 64, 8192, 512, phase="prefill"),
    "mixtral serving, uneven placement": _serve(MIXTRAL, 24, Parallelism(tp=1, dp=24, ep=3, expert_placement=(3, 3, 2)),
                                                48, 1024, 128),
    "qwen3-30b serving, 128 devices": _serve(QWEN3_30B, 128, Parallelism(tp=4, dp=32, ep=16), 1024, 4096, 1024),
    "deepseek-v3 serving, 256 devices, redundant experts": _serve(
        DEEPSEEK_V3, 256, Parallelism(tp=8, dp=32, ep=32, redundant_experts=32), 2048, 4096, 1024, speculative_tokens=1),
    "deepseek-v3 training, 512 devices": _train(DEEPSEEK_V3, 512, Parallelism(tp=1, pp=16, dp=32, ep=32), 1920, 4096),
    "llama-70b serving, 8 A100-40GB, hardware unknown (nominal: nothing fits)": replace(
        _serve(LLAMA70, 8, Parallelism(tp=8), 32, 2048, 256, hw=A100_40), unknown=frozenset({"hardware"})),
    "mixtral serving, hardware unknown": replace(_serve(MIXTRAL, 16, Parallelism(tp=2, dp=8, ep=2), 64, 2048, 128),
                                                 unknown=frozenset({"hardware"})),
}


@pytest.mark.parametrize("name", PLANS)
def test_pruned_search_finds_what_the_exhaustive_one_finds(name):
    plan = PLANS[name]
    pruned = search(plan)
    exhaustive = search(plan, exhaustive=True)
    assert [c.describe() for c in pruned] == [c.describe() for c in exhaustive]
    assert pruned == exhaustive


def test_the_plans_exercise_both_prunings():
    """Some plans have layouts that fit and some that do not (else the comparison would not test the pruning)."""
    from deploylint.core.estimate import layouts

    rejected = priced = 0
    for plan in PLANS.values():
        stats = layouts.SearchStats()
        search(plan, stats=stats)
        rejected += stats.rejected_by_memory
        priced += stats.priced
    assert rejected > 0 and priced > 0


@pytest.mark.parametrize("name", PLANS)
def test_each_device_estimated_alone_as_in_the_whole(name):
    """Devices that hold the same share one computation (every EP rank of a balanced placement, the middle stages
    of an even split): each device's figures are still those it has when estimated on its own."""
    plan = PLANS[name]
    counts = count_params(plan.model)
    whole = estimate_memory(plan, counts)
    assert [estimate_memory(plan, counts, [i]).devices[0] for i in range(plan.hardware.num_devices)] == list(whole.devices)


@pytest.mark.parametrize("par, devices", [
    (Parallelism(tp=2, pp=4, dp=8, ep=4, etp=2), 64), (Parallelism(tp=1, pp=3, dp=5, ep=5), 15),
    (Parallelism(tp=4, pp=2, dp=2, ep=16), 16),     # more EP ranks than a stage has devices
    (Parallelism(tp=8, pp=4, dp=2), 60),             # the last stage short of devices
    (Parallelism(tp=2, pp=8, dp=4), 20)])            # stages past the last device
def test_representative_devices_are_the_first_of_each_stage_and_ep_rank(par, devices):
    from deploylint.core.estimate.layout import coords

    first: dict[tuple[int, int], int] = {}
    for i in range(devices):
        c = coords(i, par)
        first.setdefault((c.stage, c.ep_rank), i)
    assert representative_devices(par, devices) == sorted(first.values())


def test_the_distinct_devices_hold_the_busiest():
    for plan in PLANS.values():
        devices = representative_devices(plan.parallelism, plan.hardware.num_devices)
        counts = count_params(plan.model)
        distinct = estimate_memory(plan, counts, devices, distinct=True)
        assert distinct.busiest == estimate_memory(plan, counts).busiest
        assert len(distinct.devices) <= len(devices)


def test_a_given_memory_estimate_is_the_one_analyze_uses():
    plan = PLANS["mixtral serving, 1024 devices"]
    counts = count_params(plan.model)
    memory = estimate_memory(plan, counts, representative_devices(plan.parallelism, plan.hardware.num_devices),
                             distinct=True)
    assert analyze(plan, counts=counts, memory=memory) == analyze(plan, counts=counts, all_devices=False)


@pytest.mark.parametrize("name", PLANS)
def test_the_own_candidate_read_from_the_plans_estimate_is_the_one_estimated_again(name):
    """Rules read the plan's own layout from the engine's estimate of every device (``candidate_from``) instead of
    estimating it again on one device of each kind (``candidate_for``): the same candidate, figure for figure."""
    from deploylint.core.estimate.layouts import candidate_for, candidate_from

    plan = PLANS[name]
    assert candidate_from(plan, analyze(plan)) == candidate_for(plan)
