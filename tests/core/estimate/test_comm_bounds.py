"""Communication volumes and roofline bounds against the published formulas.

* Megatron-LM (Shoeybi et al. 2019, §3; Narayanan et al. 2021, §3.2): tensor parallelism costs two all-reduces of
  the b·s·h activations per transformer layer in the forward pass; a ring all-reduce moves 2(n−1)/n of the message
  per device (Patarasuk & Yuan 2009).
* Pipeline bubble (Narayanan et al. 2021, §2.2): (p−1)/(m+p−1) of the time of a 1F1B step of equal stages; the
  interleaved schedule with v model chunks per rank (§2.2.2) divides the bubble by v, (p−1)/(v·m+p−1), and sends v
  times the pipeline traffic. The stages are not equal — the last one holds the output head — so the step is the
  slowest stage's m micro-batches plus the fill of the stages before it: m·W_last + (p−1)·W (1F1B), with only the
  first chunk of each earlier rank in the fill under interleaving (W/v). The stage FLOPs are Narayanan et al.'s
  eq. 3 terms per layer, 24·B·s·h² + 4·B·s²·h forward (an MLP of 4h, here SwiGLU's 3 matrices of 3.5h: the same
  matmul count, GQA's K/V projections aside), and 2·B·s·h·V for the head, tripled for the backward pass.
* Roofline (Williams et al. 2009): time ≥ max(FLOPs / peak, bytes / bandwidth).
"""

from dataclasses import replace

import pytest

from deploylint.core.estimate.analysis import analyze
from deploylint.core.plan import Hardware, Model, Parallelism, Plan, Training, Workload

LLAMA70 = Model(layers=80, hidden_size=8192, num_attention_heads=64, vocab_size=128256, num_kv_heads=8, head_dim=128,
                ffn_hidden_size=28672)
H100 = dict(memory_gib=80, peak_tflops=989.4, memory_bandwidth_gbps=3350, intra_node_bandwidth_gbps=450,
            inter_node_bandwidth_gbps=50)


def test_tp_all_reduce_volume_in_prefill():
    plan = Plan(1, LLAMA70, Hardware(num_devices=4, **H100), Parallelism(tp=4),
                Workload("inference", batch_size=8, seq_len=2048, output_len=256))
    a = analyze(plan)
    (tp,) = [t for t in a.comm.traffic if t.kind == "tp"]
    message = 8 * 2048 * 8192 * 2                         # b·s·h bf16 activations
    assert tp.bytes == pytest.approx(2 * 80 * 2 * (4 - 1) / 4 * message, rel=1e-12)
    assert tp.link == "intra"
    # over 450 GB/s per direction: 143.2 ms (llm-analysis 0.2.2 reports the same prefill_latency_fwd_tp_comm)
    assert a.bounds.phase("prefill").comm_s * 1e3 == pytest.approx(143.2, abs=0.1)


def test_tp_across_nodes_is_hierarchical():
    # A 16-way all-reduce over two nodes of 8: reduce-scatter and all-gather over NVLink (2·7/8 of the message), and
    # only each device's 1/8 shard across the network, a 2-node ring (2·1/2 of M/8) — NCCL's hierarchical algorithms
    # (Jeaugey 2019) and ZeRO's §7 accounting; a flat 16-device ring would send 2·15/16·M over the network.
    plan = Plan(1, LLAMA70, Hardware(num_devices=16, devices_per_node=8, **H100), Parallelism(tp=16),
                Workload("inference", batch_size=8, seq_len=2048))
    tp = {t.link: t.bytes for t in analyze(plan).comm.traffic if t.kind == "tp"}
    message = 8 * 2048 * 8192 * 2
    assert tp["inter"] == pytest.approx(2 * 80 * 2 * (1 / 2) * message / 8, rel=1e-12)
    assert tp["intra"] == pytest.approx(2 * 80 * 2 * (7 / 8) * message, rel=1e-12)


def _stage_s(layers: int, head: bool, batch: int = 256, devices: int = 16, s: int = 8192) -> float:
    """Seconds one pipeline stage of LLAMA70 takes for the whole batch at the BF16 peak (3 × forward, no recompute);
    the attention scores of the causal half a FlashAttention kernel computes, (s + 1) / 2 context tokens a query on
    average (Dao 2023, FlashAttention-2, §3.1.1)."""
    h, heads, kv, d = 8192, 64, 8, 128
    matmul = 2 * h * heads * d + 2 * h * kv * d + 3 * h * 28672      # q and o, GQA's k and v, the SwiGLU MLP
    forward = layers * (2 * matmul + 4 * heads * d * (s + 1) / 2) + (2 * 128256 * h if head else 0)
    return 3 * forward * s * batch / (devices * 989.4e12)


def test_pipeline_bubble_and_compute_bound_step():
    plan = Plan(1, LLAMA70, Hardware(num_devices=64, **H100), Parallelism(tp=8, pp=4, dp=2, recompute="selective"),
                Workload("training", batch_size=256, seq_len=8192))
    a = analyze(plan)
    step = a.bounds.phase("step")
    m = 256 // 2                                          # micro-batches of 1 per replica
    # the last stage (20 layers and the head) runs all m micro-batches; the three before it fill and drain once
    last, fill = _stage_s(20, True), 3 * _stage_s(20, False) / m
    assert step.compute_s == pytest.approx(last, rel=1e-12)
    assert step.bubble == pytest.approx(fill / (last + fill), rel=1e-12)
    # with equal stages that is 1F1B's (p − 1)/(m + p − 1); the head (2·h·V a token) makes the last stage 5.3% slower
    assert step.bubble == pytest.approx(3 / (m + 3), rel=0.06)
    assert step.compute_s > a.flops.computed_flops_per_sample * 256 / (64 * 989.4e12)
    assert step.time_s == pytest.approx(max(step.compute_s, step.memory_s, step.comm_s) / (1 - step.bubble), rel=1e-12)
    assert a.bounds.max_throughput_samples_per_s == pytest.approx(256 / step.time_s, rel=1e-12)


@pytest.mark.parametrize("training, v", [(Training(virtual_stages_per_rank=5), 5), (Training(layers_per_virtual_stage=4), 5),
                                         (Training(virtual_stages_per_rank=50), 20)])
def test_interleaved_pipeline_bubble_and_traffic(training, v):
    # 80 layers over pp = 4: 20 per stage; v chunks of 20/v layers (50 asked: at most one layer per chunk, v = 20)
    base = Plan(1, LLAMA70, Hardware(num_devices=64, **H100), Parallelism(tp=8, pp=4, dp=2, recompute="selective"),
                Workload("training", batch_size=256, seq_len=8192))
    plain = analyze(base)
    inter = analyze(Plan(1, base.model, base.hardware, base.parallelism, base.workload, training=training))
    m = 256 // 2
    # each earlier rank's first chunk of 20/v layers fills the pipeline once: (p − 1)/(v·m + p − 1) of equal stages
    last, fill = _stage_s(20, True), 3 * _stage_s(20 // v, False) / m
    assert inter.bounds.phase("step").bubble == pytest.approx(fill / (last + fill), rel=1e-12)
    assert inter.bounds.phase("step").bubble == pytest.approx(3 / (v * m + 3), rel=0.06)
    pp = lambda a: sum(t.bytes for t in a.comm.traffic if t.kind == "pp")
    assert pp(inter) == pytest.approx(v * pp(plain), rel=1e-12)
    assert inter.bounds.max_throughput_samples_per_s > plain.bounds.max_throughput_samples_per_s


def test_decode_is_memory_bound_at_small_batch():
    # one sequence, one device: every weight byte is read once per token; FLOPs are 2 per parameter
    plan = Plan(1, LLAMA70, Hardware(num_devices=2, memory_gib=192, peak_tflops=989.4, memory_bandwidth_gbps=3350),
                Parallelism(tp=2), Workload("inference", batch_size=1, seq_len=128, output_len=128))
    a = analyze(plan)
    decode = a.bounds.phase("decode")
    assert decode.bottleneck == "memory bandwidth"
    assert decode.memory_s >= a.memory.devices[0].weights / 3350e9
    assert decode.compute_s < decode.memory_s / 50


def test_fp8_peak_only_for_fp8_matmuls():
    # NVIDIA H100 SXM datasheet: dense FP8 Tensor Core 1,979 TFLOP/s, BF16 989 (the catalog's 1,978.9 and 989.4).
    # An FP8 run's Linear GEMMs go at the FP8 rate; the attention core, the output head and the router stay in BF16
    # (DeepSeek-V3 report §3.3.1; Transformer Engine casts only Linear layers' GEMMs to FP8).
    from deploylint.core.estimate.flops import high_precision_flops_per_token
    from deploylint.core.plan.hardware import CATALOG
    from deploylint.core.plan.resolve import resolve

    raw = {"schema_version": 1, "model": {"layers": 80, "hidden_size": 8192, "num_attention_heads": 64,
                                          "num_kv_heads": 8, "vocab_size": 128256, "ffn_hidden_size": 28672},
           "hardware": {"accelerator": "h100-sxm", "num_devices": 64},
           "parallelism": {"tp": 8, "dp": 8},
           "workload": {"mode": "training", "batch_size": 64, "seq_len": 8192, "dtype": "fp8"}}
    plan, diags = resolve(raw, plan_path=None, accelerators=CATALOG)
    assert diags == []
    assert (plan.hardware.peak_tflops, plan.hardware.high_precision_peak_tflops) == (1978.9, 989.4)
    a = analyze(plan)
    f = a.flops
    # over the causal half of the scores that FlashAttention computes, (8,192 + 1) / 2 tokens of context on average
    hp = 3 * high_precision_flops_per_token(plan.model, a.params, (8192 + 1) / 2) * 8192 * 64
    total = f.computed_flops_per_sample * 64
    assert a.bounds.phase("step").compute_s == pytest.approx(((total - hp) / 1978.9e12 + hp / 989.4e12) / 64, rel=1e-9)
    # attention over 8,192 tokens and the head are a real share of a 70B model's FLOPs: slower than all-FP8
    assert a.bounds.phase("step").compute_s > 1.05 * total / (64 * 1978.9e12)


@pytest.mark.parametrize("batch", [2, 8, 256])
def test_pipeline_of_an_unstated_uneven_split(batch):
    # Told to split unevenly (Megatron-LM --decoder-first/last-pipeline-num-layers) without saying how, the bound holds
    # for every split: it is at most the slowest-stage bound of each split the 80 layers could take, and with one
    # micro-batch, which crosses the stages one after the other, it is the whole model's time on one stage's devices
    work = Workload("training", batch_size=batch, seq_len=8192)
    par = Parallelism(tp=8, pp=4, dp=2, recompute="selective")
    hw = Hardware(num_devices=64, **H100)
    told = analyze(Plan(1, LLAMA70, hw, par, work, training=Training(uneven_pipeline=True))).bounds.phase("step")
    for split in [(20, 20, 20, 20), (26, 24, 20, 10), (10, 20, 24, 26), (40, 20, 10, 10), (1, 1, 1, 77), (77, 1, 1, 1)]:
        stated = analyze(Plan(1, LLAMA70, hw, replace(par, pipeline_layers=split), work)).bounds.phase("step")
        assert told.time_s <= stated.time_s * (1 + 1e-12), split
    compute = told.compute_s / (1 - told.bubble)
    if batch == 2:                                       # one micro-batch per replica
        assert compute == pytest.approx(_stage_s(80, True, batch=2), rel=1e-12)
