"""Published training and serving cases as plans: never called impossible, bounds within 4× of the measurement.

Each case is a layout its authors ran and measured, with the table it comes from. The measured step time is the
published iteration time (Korthikanti's Table 5, MT-NLG's §2.4, MLPerf's result logs) or is derived from the published
throughput or MFU with the paper's own FLOP formula (Megatron), from the published MFU with deploylint's model FLOPs
(Llama 3), or from published tokens per second (Megatron-Bridge). Contract (docs/validation.md): no error, none of the
structural warnings that would tell the authors to run it differently, and 1 ≤ measured / bound ≤ 4.
"""

import os

import pytest

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "hf-configs")
#: warnings that contradict a layout chosen on purpose (a different layout, groups, batch or device count)
STRUCTURAL = {"MEM101", "MEM102", "MEM104", "MOE301", "PAR401", "PAR402", "PAR403", "PAR404", "PAR405", "PAR406"}

# Narayanan et al., "Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM", SC'21,
# Table 1 (weak scaling on A100 80GB, fp16, s = 2048, V = 51,200, activation recomputation): params (B), heads,
# hidden, layers, TP, PP, GPUs, batch, achieved TFLOP/s per GPU (counted with eq. 3, recomputation included).
MEGATRON_2021 = [
    (1.7, 24, 2304, 24, 1, 1, 32, 512, 137),
    (3.6, 32, 3072, 30, 2, 1, 64, 512, 138),
    (7.5, 32, 4096, 36, 4, 1, 128, 512, 142),
    (18.4, 48, 6144, 40, 8, 1, 256, 1024, 135),
    (39.1, 64, 8192, 48, 8, 2, 512, 1536, 138),
    (76.1, 80, 10240, 60, 8, 4, 1024, 1792, 140),
    (145.6, 96, 12288, 80, 8, 8, 1536, 2304, 148),
    (310.1, 128, 16384, 96, 8, 16, 1920, 2160, 155),
    (529.6, 128, 20480, 105, 8, 35, 2520, 2520, 163),
    (1008.0, 160, 25600, 128, 8, 64, 3072, 3072, 163),
]

# Dubey et al., "The Llama 3 Herd of Models" (2024), Table 4 (Llama 3 405B pre-training on H100): GPUs, TP, CP, PP,
# DP, sequence length, batch size per DP rank, BF16 MFU.
LLAMA3_405B = [
    (8192, 8, 1, 16, 64, 8192, 32, 0.43),
    (16384, 8, 1, 16, 128, 8192, 16, 0.41),
    (16384, 8, 16, 16, 8, 131072, 16, 0.38),
]
LLAMA3_405B_MODEL = {"layers": 126, "hidden_size": 16384, "num_attention_heads": 128, "num_kv_heads": 8,
                     "ffn_hidden_size": 53248, "vocab_size": 128256, "dropout": False}


def _check(deploylint, plan, measured_ms, key="latency_ms"):
    plan = dict(plan, claims={key: measured_ms})
    result = deploylint.lint(plan, format="json")
    errors = [f"{d.code}: {d.message}" for d in result.diagnostics if d.severity.value == "error"]
    assert errors == []
    # no exception pinned: the layout search keeps the authors' memory savers (PAR405); what changing them would buy is
    # PAR407's information, not a warning
    # an info (PAR402's KV-head replication in training, say) tells no one to run differently
    structural = sorted({d.code for d in result.diagnostics if d.severity.value != "info"} & STRUCTURAL)
    assert structural == [], [d.message for d in result.diagnostics if d.code in structural]
    b = result.analysis.bounds
    bound = b.min_latency_ms if key == "latency_ms" else getattr(b, key)
    assert 1 <= measured_ms / bound <= 4, (measured_ms, bound)
    return measured_ms / bound


@pytest.mark.parametrize("row", MEGATRON_2021, ids=lambda r: f"{r[0]}B")
def test_megatron_2021_table_1(deploylint, row):
    params, heads, h, layers, tp, pp, gpus, batch, tflops = row
    s, V = 2048, 51200
    plan = {"schema_version": 1, "name": f"megatron-2021-{params}B",
            "model": {"layers": layers, "hidden_size": h, "num_attention_heads": heads, "vocab_size": V,
                      "ffn_hidden_size": 4 * h, "ffn_activation": "gelu", "norm": "layernorm", "tie_embeddings": True},
            "hardware": {"accelerator": "a100-80gb", "num_devices": gpus},
            # 2021: no FlashAttention yet — the softmax scores were stored, which is what made recompute necessary —
            # and no sequence parallelism (Korthikanti et al. 2022 introduced it)
            "parallelism": {"tp": tp, "pp": pp, "dp": gpus // (tp * pp), "recompute": "full", "flash_attention": False,
                            "sequence_parallel": False},
            "workload": {"mode": "training", "batch_size": batch, "seq_len": s, "dtype": "fp16"}}
    # eq. 3 of the paper: FLOPs per iteration with recomputation; the step took that over the achieved rate
    flops = 96 * batch * s * layers * h * h * (1 + s / (6 * h) + V / (16 * layers * h))
    _check(deploylint, plan, flops / (tflops * 1e12 * gpus) * 1e3)


@pytest.mark.parametrize("row", LLAMA3_405B, ids=lambda r: f"{r[0]}gpus-cp{r[2]}-s{r[5]}")
def test_llama3_405b_table_4(deploylint, row):
    gpus, tp, cp, pp, dp, s, per_dp, mfu = row
    name = "llama3-405b-8192" if s == 8192 else "llama3-405b-131072"
    plan = {"schema_version": 1, "name": name, "model": LLAMA3_405B_MODEL,
            "hardware": {"accelerator": "h100-sxm", "num_devices": gpus},
            # §3.3.2: one layer fewer on the first and the last stage, so that "the first model chunk on the first
            # stage has only the embedding, and the last model chunk on the last stage has only output projection and
            # loss": an interleaved schedule of one-layer chunks, 8 per rank (126 layers + embedding + head = 16 × 8)
            "parallelism": {"tp": tp, "cp": cp, "pp": pp, "dp": dp, "zero_stage": 2,
                            "pipeline_layers": [7] + [8] * 14 + [7]},
            "training": {"virtual_stages_per_rank": 8},
            "workload": {"mode": "training", "batch_size": dp * per_dp, "seq_len": s}}
    # The step time from the published MFU of 8,192 or 16,384 H100s (989.4 TFLOP/s dense BF16) and the model FLOPs
    # per token as MFU is defined in Chowdhery et al. 2022 (PaLM), Appendix B: 6N + 12·L·H·Q·T, with N the
    # non-embedding parameters, L layers, H heads of Q dimensions, T the sequence length. N from the shape above
    # (attention q and o h², k and v h × 8 KV heads × 128; SwiGLU 3 × h × ffn) is 401.6B, 405.8B with the untied
    # 128,256-entry embedding and head: the "405B" of the paper's title, within 1%.
    L, h, ffn, kv, V = 126, 16384, 53248, 8 * 128, 128256
    N = L * (2 * h * h + 2 * h * kv + 3 * h * ffn)
    assert (N + 2 * V * h) / 405e9 == pytest.approx(1, abs=0.01)
    per_token = 6 * N + 12 * L * h * s          # H·Q = h
    measured = per_token * dp * per_dp * s / (mfu * 989.4e12 * gpus) * 1e3
    _check(deploylint, plan, measured)


def test_deepseek_inference_system_decode_pool(deploylint):
    # DeepSeek, "DeepSeek-V3/R1 Inference System Overview" (open-infra-index, day 6, 2025): decode on EP144 over 18
    # H800 nodes with 32 redundant experts and MTP, 14.8k output tokens/s per node, 20–22 tokens/s per user. By
    # Little's law that is 18 × 14,800 × (1/21 s) ≈ 12,686 sequences in flight (12,672 = 88 per device); TPOT = 1/21 s. H800: the H100 SXM
    # die with NVLink cut to 400 GB/s (200 per direction); V3's MTP drafts one token per step, 85–90% of them accepted (report §2.2, §5.4.3).
    cfg = os.path.join(CONFIGS, "deepseek-v3.json")
    plan = {"schema_version": 1, "name": "deepseek-decode", "model": {"from": cfg},
            "hardware": {"accelerator": "h100-sxm", "num_devices": 144, "intra_node_bandwidth_gbps": 200},
            "parallelism": {"dp": 144, "ep": 144, "redundant_experts": 32},
            "workload": {"mode": "inference", "batch_size": 12672, "seq_len": 4096, "output_len": 1000,
                         "dtype": "fp8", "phase": "decode", "speculative_tokens": 1,
                         "speculative_acceptance": 0.85}}
    _check(deploylint, plan, 1000 / 21, key="tpot_ms")


# Korthikanti et al., "Reducing Activation Recomputation in Large Transformer Models" (MLSys 2023; arXiv 2205.05198),
# abstract and §6: the 530B GPT (MT-NLG's shape, Table 3: a = 128, h = 20,480, L = 105, t = 8, p = 35) on 2,240 A100
# reaches 54.2% MFU with sequence parallelism and selective recompute, 42.1% with full recompute. MFU counts model
# FLOPs (Megatron eq. 3 without recomputation) against 312 TFLOP/s. The abstract gives no batch; it is taken as
# MT-NLG's 1,920 sequences of 2,048 (MT_NLG below): the ratio depends on it only through the bubble.
@pytest.mark.parametrize("recompute, mfu", [("full", 0.421), ("selective", 0.542)])
def test_korthikanti_2022_530b(deploylint, recompute, mfu):
    h, layers, V, s, batch, gpus = 20480, 105, 51200, 2048, 1920, 2240
    plan = {"schema_version": 1, "name": f"korthikanti-530b-{recompute}",
            "model": {"layers": layers, "hidden_size": h, "num_attention_heads": 128, "vocab_size": V,
                      "ffn_hidden_size": 4 * h, "ffn_activation": "gelu", "norm": "layernorm", "tie_embeddings": True},
            "hardware": {"accelerator": "a100-80gb", "num_devices": gpus},
            "parallelism": {"tp": 8, "pp": 35, "dp": 8, "recompute": recompute,
                            "sequence_parallel": recompute == "selective", "flash_attention": False},
            "workload": {"mode": "training", "batch_size": batch, "seq_len": s, "dtype": "bf16"}}
    model_flops = 72 * batch * s * layers * h * h * (1 + s / (6 * h) + V / (12 * layers * h))
    _check(deploylint, plan, model_flops / (mfu * 312e12 * gpus) * 1e3)


# Smith et al., "Using DeepSpeed and Megatron to Train Megatron-Turing NLG 530B" (2022; arXiv 2201.11990), §2.4, as
# quoted by cli99/llm-analysis examples/megatron-turing-nlg/README.md (b60b392): global batch 1,920 sequences of 2,048
# on 280, 350 and 420 DGX A100 nodes (8 GPUs each), iteration time (s) and TFLOP/s per GPU (counted with Megatron eq. 3,
# recomputation included). The shape (105 layers, h = 20,480, 128 heads) and tp 8 × pp 35 are the same source's
# (its mt-nlg-530b config and run_train.sh); the rest of the devices is data parallel. The vocabulary is Megatron's
# padded 51,200 as in Narayanan's Table 1 (llm-analysis's config has 50,272; either gives the TFLOP/s column from the
# iteration time within 0.5%). Selene's DGX A100 carry the
# 80 GB A100 (the NVIDIA/Microsoft announcement, as quoted by gpt3demo.com/apps/mt-nlg-by-microsoft-and-nvidia-ai).
MT_NLG = [(280, 60.1, 126), (350, 50.2, 121), (420, 44.4, 113)]


@pytest.mark.parametrize("row", MT_NLG, ids=lambda r: f"{r[0]}nodes")
def test_mt_nlg_530b_section_2_4(deploylint, row):
    nodes, seconds, tflops = row
    h, layers, V, s, batch, gpus = 20480, 105, 51200, 2048, 1920, nodes * 8
    plan = {"schema_version": 1, "name": f"mt-nlg-530b-{nodes}-nodes",
            "model": {"layers": layers, "hidden_size": h, "num_attention_heads": 128, "vocab_size": V,
                      "ffn_hidden_size": 4 * h, "ffn_activation": "gelu", "norm": "layernorm", "tie_embeddings": True},
            "hardware": {"accelerator": "a100-80gb", "num_devices": gpus},
            "parallelism": {"tp": 8, "pp": 35, "dp": gpus // 280, "recompute": "full", "flash_attention": False,
                            "sequence_parallel": False},
            "workload": {"mode": "training", "batch_size": batch, "seq_len": s, "dtype": "bf16"}}
    # the two published columns agree: eq. 3's FLOPs per iteration over the iteration time is the TFLOP/s column
    flops = 96 * batch * s * layers * h * h * (1 + s / (6 * h) + V / (16 * layers * h))
    assert flops / (seconds * gpus) / 1e12 == pytest.approx(tflops, rel=0.01)
    _check(deploylint, plan, seconds * 1e3)


# Korthikanti et al. 2022 (arXiv 2205.05198), Table 5: end-to-end iteration time of each model of its Table 3 with full
# recompute and with sequence parallelism + selective recompute, on A100 80GB (Selene), fp16, s = 2,048, V = 51,200.
# Transcribed by Calculon (calculon-ai/calculon at caa4b11: calculon/llm/validation.py seqsel_tab5 gives the times,
# "reported here: https://arxiv.org/pdf/2205.05198.pdf, Table 5"; validation/seqsel/tab5/*.json the layouts,
# models/*.json the shapes, calculon/llm/llm.py the 51,200-token embedding). Model, heads, hidden, layers, tp, pp
# (dp 1: the GPUs are tp · pp), global batch, micro-batch, interleaved chunks per rank, seconds (full), seconds
# (selective + SP).
KORTHIKANTI_TABLE_5 = [
    ("22B", 64, 6144, 48, 8, 1, 4, 4, 1, 1.42, 1.10),
    ("175B", 96, 12288, 96, 8, 8, 64, 1, 3, 18.13, 13.75),
    ("530B", 128, 20480, 105, 8, 35, 280, 1, 3, 49.05, 37.83),
    ("1T", 160, 25600, 128, 8, 64, 512, 1, 1, 94.42, 71.49),
]


@pytest.mark.parametrize("recompute", ["full", "selective"])
@pytest.mark.parametrize("row", KORTHIKANTI_TABLE_5, ids=lambda r: r[0])
def test_korthikanti_2022_table_5(deploylint, row, recompute):
    name, heads, h, layers, tp, pp, batch, mbs, chunks, full_s, selective_s = row
    plan = {"schema_version": 1, "name": f"korthikanti-{name}-{recompute}",
            "model": {"layers": layers, "hidden_size": h, "num_attention_heads": heads, "vocab_size": 51200,
                      "ffn_hidden_size": 4 * h, "ffn_activation": "gelu", "norm": "layernorm", "tie_embeddings": True},
            "hardware": {"accelerator": "a100-80gb", "num_devices": tp * pp},
            # the full-recompute baseline has no sequence parallelism (Calculon's file: all-reduce tensor parallelism);
            # selective recompute comes with it (reduce-scatter/all-gather), as the paper's "present work"
            "parallelism": {"tp": tp, "pp": pp, "dp": 1, "micro_batch_size": mbs, "recompute": recompute,
                            "sequence_parallel": recompute == "selective", "flash_attention": False},
            "workload": {"mode": "training", "batch_size": batch, "seq_len": 2048, "dtype": "fp16"}}
    if chunks > 1:
        plan["training"] = {"virtual_stages_per_rank": chunks}
    _check(deploylint, plan, (full_s if recompute == "full" else selective_s) * 1e3)


# Megatron-Bridge performance summary (NVIDIA-NeMo/Megatron-Bridge docs/performance-summary.md, 25.11 NeMo container,
# "System: DGX-H100" table): model, GPUs, GBS, MBS, sequence length, FSDP, TP, PP, CP, VP, tokens/s/GPU; all FP8-CS
# (FP8 current scaling). The step time is GBS × sequence length over tokens/s/GPU × GPUs.
MBRIDGE_H100 = [
    ("llama3-8b", "llama-3.1-8b.json", 8, 128, 1, 8192, 1, 1, 1, 1, None, 14451),
    ("llama3-70b", "llama-3.1-70b.json", 64, 128, 1, 8192, 0, 4, 8, 1, 5, 1602),
    ("llama3.1-405b", None, 1024, 512, 1, 8192, 0, 8, 8, 2, 8, 292),
]


@pytest.mark.parametrize("row", MBRIDGE_H100, ids=lambda r: r[0])
def test_megatron_bridge_h100_fp8(deploylint, row):
    name, config, gpus, gbs, mbs, s, fsdp, tp, pp, cp, vp, tokens_per_gpu = row
    model = {"from": os.path.join(CONFIGS, config)} if config else LLAMA3_405B_MODEL
    par = {"tp": tp, "pp": pp, "cp": cp, "dp": gpus // (tp * pp * cp), "micro_batch_size": mbs,
           "zero_stage": 3 if fsdp else 1, "sequence_parallel": tp > 1}
    if config is None:
        # 126 layers do not split over 8 stages × 8 chunks; counting the embedding and the loss as a layer each
        # (Megatron-Bridge's account_for_embedding/loss_in_pipeline_split, from its performance guide) gives
        # 128 / 64 = 2 per chunk: 15 layers on the first and the last stage, 16 on the others
        par["pipeline_layers"] = [15] + [16] * 6 + [15]
    plan = {"schema_version": 1, "name": f"mbridge-{name}", "model": model,
            "hardware": {"accelerator": "h100-sxm", "num_devices": gpus}, "parallelism": par,
            "workload": {"mode": "training", "batch_size": gbs, "seq_len": s, "dtype": "fp8"}}
    if vp:
        plan["training"] = {"virtual_stages_per_rank": vp}
    _check(deploylint, plan, gbs * s / (tokens_per_gpu * gpus) * 1e3)


# MLPerf Training v4.0, closed division, NVIDIA, GPT-3 175B (mlcommons/training_results_v4.0 at 6fe9543).
# NVIDIA/benchmarks/gpt3/implementations/nemo: conf/custom.yaml (96 layers, hidden 12,288, 4·hidden FFN, 96 heads,
# sequence 2,048, dropout 0, sequence parallelism on, no activation checkpointing), config_common.sh (distributed
# optimizer: ZeRO-1), config_fp8.sh (FP8 GEMMs) and config_DGXH100_<nodes>x8x<MINIBS>x<TP>x<PP>_*.sh (tp, pp,
# interleaved chunks, micro-batch); the vocabulary (50,304) is Google's gpt3-175b.yml of the same round
# (Google/benchmarks/gpt3/implementations/maxtext/.../configs/models/gpt3-175b.yml). The step time is read in
# NVIDIA/results/<system>/gpt3/result_{0,1,2}.txt: each training block (block_start to block_stop, evaluation excluded)
# covers epoch_count tokens, an integral number of steps of the logged global_batch_size × 2,048 tokens; the figure is
# the median over the three runs of each run's median block time per step (their spread is under 1%). The logged
# gradient_accumulation_steps (72, 6, 6) equal GBS / (dp · MBS) for the layouts below: the log and the config agree.
# System, nodes of 8 H100 SXM, tp, pp, chunks per rank, micro-batch, global batch (logged), step (s).
MLPERF_GPT3 = [
    ("eos_n64", 64, 4, 8, 4, 2, 2304, 10.982),
    ("eos-dfw_n1344", 1344, 4, 6, 8, 1, 2688, 0.9207),
    ("eos-dfw_n1452", 1452, 4, 6, 8, 1, 2904, 0.9214),
]


@pytest.mark.parametrize("row", MLPERF_GPT3, ids=lambda r: r[0])
def test_mlperf_training_v4_gpt3(deploylint, row):
    system, nodes, tp, pp, chunks, mbs, gbs, seconds = row
    gpus = nodes * 8
    dp = gpus // (tp * pp)
    assert {64: 72, 1344: 6, 1452: 6}[nodes] == gbs // (dp * mbs)       # the logged gradient_accumulation_steps
    plan = {"schema_version": 1, "name": f"mlperf-gpt3-{system}",
            "model": {"layers": 96, "hidden_size": 12288, "num_attention_heads": 96, "vocab_size": 50304,
                      "ffn_hidden_size": 4 * 12288, "ffn_activation": "gelu", "norm": "layernorm", "tie_embeddings": True,
                      "dropout": False},
            "hardware": {"accelerator": "h100-sxm", "num_devices": gpus},
            "parallelism": {"tp": tp, "pp": pp, "dp": dp, "micro_batch_size": mbs, "zero_stage": 1,
                            "sequence_parallel": True},
            "training": {"virtual_stages_per_rank": chunks},
            "workload": {"mode": "training", "batch_size": gbs, "seq_len": 2048, "dtype": "fp8"}}
    _check(deploylint, plan, seconds * 1e3)


def test_megatron_bridge_gpt_oss_120b_h100(deploylint):
    # Megatron-Bridge performance summary, 26.02 NeMo container, "System: DGX-H100" table (docs/performance-summary.md
    # at c0b9a00): GPT OSS 120B on 64 H100 in BF16, GBS 1,280, MBS 1, sequence 4,096, TP 1, PP 4, EP 8, 5,993
    # tokens/s/GPU. The recipe at that commit (scripts/performance/configs/gpt_oss: GPT_OSS_120B_PRETRAIN_CONFIG_H100_BF16)
    # recomputes ["layernorm", "moe_act"], keeps the even split of the 36 layers (account_for_embedding/loss_in_
    # pipeline_split false, no layout: 9 a stage, the 201,088-token head on the last) and forces balanced routing
    # (moe_router_force_load_balancing). The bound is the last stage's: 9 layers and the head.
    gbs, s, gpus = 1280, 4096, 64
    plan = {"schema_version": 1, "name": "mbridge-gpt-oss-120b",
            "model": {"from": os.path.join(CONFIGS, "gpt-oss-120b.json")},
            "hardware": {"accelerator": "h100-sxm", "num_devices": gpus},
            "parallelism": {"pp": 4, "dp": 16, "ep": 8, "micro_batch_size": 1, "zero_stage": 1,
                            "recompute": "selective", "recompute_modules": ["layernorm", "moe_act"]},
            "workload": {"mode": "training", "batch_size": gbs, "seq_len": s, "dtype": "bf16"}}
    _check(deploylint, plan, gbs * s / (5993 * gpus) * 1e3)


def test_deepseek_v3_pre_training(deploylint):
    # DeepSeek-AI, "DeepSeek-V3 Technical Report" (arXiv 2412.19437v2). §3.2: 2,048 H800 GPUs, 16-way pipeline
    # parallelism with DualPipe (§3.2.1, Table 2), 64-way expert parallelism over 8 nodes, ZeRO-1 data parallelism, no
    # tensor parallelism. §3.2.3: RMSNorm and the MLA up-projections recomputed in the backward pass. §3.3: FP8 GEMMs;
    # §3.3.3: activations cached in FP8 for the Linear operators' backward, and the MoE SwiGLU inputs cached in FP8
    # with its output recomputed. §4.2: sequences of 4K tokens in batches of 15,360. §1 (Table 1): 180K H800 GPU hours
    # per trillion tokens, so a step of 15,360 × 4,096 tokens takes 180e3 · 3,600 s · 62.9e6 / 1e12 / 2,048 = 19.9 s.
    # The 61 layers cannot split evenly over 16 stages; the paper does not give its split, so the plan states the
    # as-even-as-possible one (4 layers on the first 13 stages, 3 on the last three). H800: the H100 SXM die with
    # NVLink cut to 400 GB/s (200 per direction).
    cfg = os.path.join(CONFIGS, "deepseek-v3.json")
    gbs, s, gpus = 15360, 4096, 2048
    plan = {"schema_version": 1, "name": "deepseek-v3-pre-training", "model": {"from": cfg},
            "hardware": {"accelerator": "h100-sxm", "num_devices": gpus, "intra_node_bandwidth_gbps": 200},
            "parallelism": {"pp": 16, "dp": 128, "ep": 64, "zero_stage": 1, "pipeline_layers": [4] * 13 + [3] * 3,
                            "recompute": "selective", "recompute_modules": ["layernorm", "mla_up_proj", "moe_act"]},
            "training": {"pipeline_schedule": "dualpipe"},
            "workload": {"mode": "training", "batch_size": gbs, "seq_len": s, "dtype": "fp8",
                         "activation_cache_dtype": "fp8"}}
    measured = 180e3 * 3600 * gbs * s / 1e12 / gpus * 1e3
    _check(deploylint, plan, measured)


def test_palm_540b(deploylint):
    # Chowdhery et al., "PaLM: Scaling Language Modeling with Pathways" (2022; arXiv 2204.02311). Table 1 and §2:
    # 118 layers, d_model 18,432, 48 heads of 256 (attention width 12,288), multi-query attention (one key/value
    # head), SwiGLU of 4 · d_model, shared input/output embeddings over a 256k vocabulary, no biases: 540.35B
    # parameters. §4: 6,144 TPU v4 chips in two pods; in each pod 12-way model parallelism × 256-way fully sharded data
    # parallelism, data parallel across the two; "one fully sharded activation tensor is saved from each layer", the
    # rest rematerialized (full recompute, the layer input sharded over the model-parallel ranks). Appendix B: 238.3K
    # tokens/s at 46.2% MFU. The batch is the last of §5's schedule, 2,048 sequences of 2,048 tokens (the ratio does
    # not depend on it: no pipeline, one batch's work and time both scale with it). TPU v4 (cloud.google.com/tpu/docs/v4):
    # 275 TFLOP/s bf16, 32 GiB HBM2 at 1,200 GB/s; its inter-chip links are not given per chip there, so the
    # communication bound is skipped (an info) and the bound is the compute and memory floor. The table and appendix
    # figures are read as quoted by secondary sources (docs/validation.md says which), not from the PDF.
    batch, s, chips = 2048, 2048, 6144
    plan = {"schema_version": 1, "name": "palm-540b",
            "model": {"layers": 118, "hidden_size": 18432, "num_attention_heads": 48, "num_kv_heads": 1,
                      "head_dim": 256, "ffn_hidden_size": 4 * 18432, "ffn_activation": "swiglu", "vocab_size": 256000,
                      "tie_embeddings": True, "dropout": False},
            "hardware": {"num_devices": chips, "memory_gib": 32, "peak_tflops": 275, "memory_bandwidth_gbps": 1200,
                         "devices_per_node": 3072},         # ICI joins the chips of a pod; the pods meet over DCN
            "parallelism": {"tp": 12, "dp": 512, "zero_stage": 3, "recompute": "full", "sequence_parallel": True},
            "training": {"dp_shard": 256},
            "workload": {"mode": "training", "batch_size": batch, "seq_len": s, "dtype": "bf16"}}
    assert deploylint.lint(plan).analysis.params.total / 1e9 == pytest.approx(540.35, rel=0.001)   # Table 1's count
    measured = batch * s / 238.3e3 * 1e3
    _check(deploylint, plan, measured)
