"""Training and inference FLOPs against published formulas and one published table row.

Narayanan et al., "Efficient Large-Scale Language Model Training on GPU Clusters
Using Megatron-LM" (SC'21), §5.1 eq. 3: with full activation recomputation one
iteration costs F = 96·B·s·L·h²·(1 + s/(6h) + V/(16·L·h)) FLOPs; without it
(model FLOPs) 72·B·s·L·h²·(1 + s/(6h) + V/(12·L·h)). Table 1, row "18.4B":
48 heads, h = 6144, 40 layers, TP 8, 256 A100s, batch 1024, s = 2048,
V = 51200, 135 TFLOP/s per GPU = 43% of the 312 TFLOP/s peak.
"""

import pytest

from deploylint.core.estimate.analysis import analyze
from deploylint.core.estimate.flops import estimate_flops
from deploylint.core.estimate.params import count_params
from deploylint.core.plan import Claims, Hardware, Model, Parallelism, Plan, Workload

S, V = 2048, 51200


def gpt(layers, h, heads):
    return Model(layers=layers, hidden_size=h, num_attention_heads=heads, vocab_size=V, num_kv_heads=heads,
                 head_dim=h // heads, ffn_hidden_size=4 * h, ffn_activation="gelu", norm="layernorm", tie_embeddings=True)


ROW_18B = dict(layers=40, h=6144, heads=48, tp=8, gpus=256, batch=1024, tflops_per_gpu=135, share=0.43)


def _plan(recompute="full", claims=Claims()):
    r = ROW_18B
    return Plan(1, gpt(r["layers"], r["h"], r["heads"]),
                Hardware(num_devices=r["gpus"], memory_gib=80, peak_tflops=312, memory_bandwidth_gbps=2039),
                Parallelism(tp=r["tp"], dp=r["gpus"] // r["tp"], recompute=recompute),
                Workload("training", batch_size=r["batch"], seq_len=S, dtype="fp16"), claims)


def eq3_full(B, L, h):
    return 96 * B * S * L * h * h * (1 + S / (6 * h) + V / (16 * L * h))


def eq3_model(B, L, h):
    return 72 * B * S * L * h * h * (1 + S / (6 * h) + V / (12 * L * h))


def test_hardware_flops_with_full_recompute_match_eq3():
    r = ROW_18B
    plan = _plan("full")
    f = estimate_flops(plan, count_params(plan.model))
    # eq. 3 counts matmuls only (no biases, norms or the router): our count includes biases; tolerance 0.5%.
    assert f.hardware_flops_per_sample * r["batch"] == pytest.approx(eq3_full(r["batch"], r["layers"], r["h"]), rel=0.005)


def test_model_flops_without_recompute_match_eq3():
    r = ROW_18B
    plan = _plan("none")
    f = estimate_flops(plan, count_params(plan.model))
    assert f.flops_per_sample * r["batch"] == pytest.approx(eq3_model(r["batch"], r["layers"], r["h"]), rel=0.005)


def test_table1_row_utilization_is_reproduced():
    # The row's iteration time follows from its published rate: t = F / (GPUs × 135 TFLOP/s).
    r = ROW_18B
    t = eq3_full(r["batch"], r["layers"], r["h"]) / (r["gpus"] * r["tflops_per_gpu"] * 1e12)
    plan = _plan("full", Claims(throughput_samples_per_s=r["batch"] / t))
    a = analyze(plan)
    hardware_util = a.implied.throughput_samples_per_s * a.flops.hardware_flops_per_sample / a.peak_flops
    # Published: 43% of peak (rounded to a whole percent): tolerance ±0.6 points.
    assert hardware_util == pytest.approx(r["share"], abs=0.006)
    # Model FLOPs utilization is lower: recomputation is work the model did not need (PaLM's MFU vs HFU).
    assert a.implied.utilization < hardware_util


def test_palm_formula_6n_plus_attention():
    # PaLM (Chowdhery et al. 2022, App. B): training FLOPs per token 6N + 12·L·H·Q·T (H heads, Q head dim, T seq len).
    m = gpt(24, 2304, 24)
    plan = Plan(1, m, Hardware(num_devices=1, memory_gib=80, peak_tflops=312, memory_bandwidth_gbps=2039), Parallelism(),
                Workload("training", batch_size=8, seq_len=S))
    counts = count_params(m)
    n_matmul = sum(l.attention + l.mlp for l in counts.layers) + counts.embedding   # blocks + the (tied) head
    expected = 6 * n_matmul + 12 * m.layers * m.num_attention_heads * m.head_dim * S
    assert estimate_flops(plan, counts).flops_per_token == pytest.approx(expected, rel=0.001)


@pytest.mark.parametrize("modules, extra_h2", [(("core_attn",), 0), (("core_attn", "layernorm"), 0),
                                               (("core_attn", "mlp"), 16)])
def test_selective_recompute_adds_the_forward_of_the_matmul_modules_it_rebuilds(modules, extra_h2):
    # eq. 3's derivation (Narayanan et al. 2021, §5.1): a layer's forward is 24·B·s·h² matmul FLOPs, of which the MLP's
    # two h×4h matmuls are 16·B·s·h². Recomputing the MLP (Megatron-LM --recompute-modules mlp) runs that forward
    # again; the attention core under FlashAttention and the norms (elementwise) add no matmul FLOPs.
    from dataclasses import replace
    r = ROW_18B
    plan = _plan("selective")
    plan = replace(plan, parallelism=replace(plan.parallelism, recompute_modules=modules))
    f = estimate_flops(plan, count_params(plan.model))
    extra = (f.hardware_flops_per_sample - f.flops_per_sample) * r["batch"]
    expected = extra_h2 * r["batch"] * S * r["layers"] * r["h"] ** 2
    # the count includes the MLP biases (4h + h per layer): tolerance 0.5%
    assert extra == pytest.approx(expected, rel=0.005, abs=1.0)


def test_the_matmul_parameters_follow_the_counts_asked_about_not_the_last_ones():
    # the layout search asks hundreds of times about one model's counts; another model in between gets its own
    from deploylint.core.estimate.flops import matmul_params_per_token

    small = count_params(Model(layers=2, hidden_size=64, num_attention_heads=4, num_kv_heads=4, head_dim=16, vocab_size=100, ffn_hidden_size=256))
    large = count_params(Model(layers=4, hidden_size=128, num_attention_heads=4, num_kv_heads=4, head_dim=32, vocab_size=100, ffn_hidden_size=512))

    def direct(c):
        return sum(l.active - l.norms for l in c.layers) + (c.lm_head or c.embedding)

    for counts in (small, large, small, small, large):
        assert matmul_params_per_token(counts) == direct(counts)
    assert direct(small) != direct(large)
