"""PAR401–PAR405 with hand-computed figures; fixes are feasible by construction."""

import pytest

from deploylint.core.estimate.layouts import layout_problems


def test_par401_dp_mismatch_has_a_safe_fix(deploylint, plan):
    result = deploylint.lint(plan(parallelism={"tp": 2, "dp": 3}))
    d = result.one("PAR401")
    assert d.data["product"] == 6 and d.data["num_devices"] == 8
    (fix,) = d.fixes
    assert fix.applicability.value == "safe" and "dp = 8 / (tp·pp·cp) = 4" in fix.message
    fixed = deploylint.lint(result.apply_fixes())
    assert "PAR401" not in fixed.codes and fixed.plan.parallelism.dp == 4


def test_par401_underivable_dp_offers_a_feasible_layout(deploylint, plan):
    # tp=3 never divides 8 devices; the offered layout must pass every layout rule
    result = deploylint.lint(plan(parallelism={"tp": 3, "dp": 2}))
    d = result.one("PAR401")
    assert d.fixes and d.fixes[0].applicability.value == "unsafe"
    fixed = deploylint.lint(result.apply_fixes(unsafe=True))
    assert not {"PAR401", "PAR402"} & set(fixed.codes)
    assert layout_problems(fixed.plan, fixed.plan.parallelism) == []


def test_par402_heads_and_kv_replication(deploylint, plan):
    d = deploylint.lint(plan(hardware={"num_devices": 6}, parallelism={"tp": 6, "dp": 1})).with_code("PAR402")[0]
    assert d.severity.value == "error" and d.data == {"heads": 16, "tp": 6}
    # 16 heads / tp=16 is fine for queries; 8 KV heads get replicated twice: a warning
    w = deploylint.lint(plan(hardware={"num_devices": 16, "devices_per_node": 16},
                             parallelism={"tp": 16, "dp": 1})).one("PAR402")
    assert w.severity.value == "warning" and w.data["replication"] == 2



def test_par402_kv_replication_in_training_is_an_info(deploylint, plan):
    # multi-query attention (one KV head) replicates it under any tp > 1, as PaLM trains with 12-way model
    # parallelism (Chowdhery et al. 2022, §4); training keeps no KV cache, so only the KV projections repeat
    p = plan(model={"num_kv_heads": 1}, hardware={"num_devices": 16, "devices_per_node": 16},
             parallelism={"tp": 16, "dp": 1},
             workload={"mode": "training", "batch_size": 16, "seq_len": 1024, "output_len": None})
    d = deploylint.lint(p).one("PAR402")
    assert d.severity.value == "info" and d.data["replication"] == 16
    assert "training keeps no KV cache" in d.message and "KV cache and KV projections stored" not in d.message


def test_par403_stage_sizes(deploylint, plan):
    d = deploylint.lint(plan(model={"layers": 10}, parallelism={"pp": 4, "dp": 2})).one("PAR403")
    assert d.data["stage_layers"] == [3, 3, 2, 2]


def test_par404_tp_across_nodes(deploylint, plan):
    p = plan(hardware={"num_devices": 16, "devices_per_node": 8}, parallelism={"tp": 16, "dp": 1})
    d = deploylint.lint(p).one("PAR404")
    assert d.data["size"] == 16 and "spans 2 nodes" in d.message and "450 GB/s inside a node vs 50 GB/s across" in d.message


def test_par405_fires_only_with_a_real_gain_and_its_layout_is_clean(deploylint, plan):
    # a 70B-class dense model replicated on 8 devices (dp=8) reads all weights per decode step on every device;
    # tp=8 reads one eighth: the search must find it and the fix must pass every other layout rule
    big = {"layers": 80, "hidden_size": 8192, "num_attention_heads": 64, "num_kv_heads": 8, "vocab_size": 128256,
           "ffn_hidden_size": 28672}
    p = plan(model=big, hardware={"memory_gib": 192}, parallelism={"tp": 1, "dp": 8},
             workload={"batch_size": 8, "seq_len": 1024, "output_len": 128})
    result = deploylint.lint(p)
    d = result.one("PAR405")
    assert d.data["gain"] >= 0.15
    assert d.data["best"]["min_latency_ms"] < d.data["current"]["min_latency_ms"]
    fixed = deploylint.lint(result.apply_fixes(unsafe=True))
    assert not [c for c in fixed.codes if c.startswith(("PAR", "MOE"))], fixed.codes
    # a plan already at its best layout gets no PAR405
    assert "PAR405" not in deploylint.lint(plan(model=big, hardware={"memory_gib": 192}, parallelism={"tp": 8, "dp": 1},
                                                workload={"batch_size": 8, "seq_len": 1024, "output_len": 128})).codes


def test_par406_serving_batch_split_over_replicas(deploylint, plan):
    # 64 sequences over dp=8 split evenly; 60 give 8-8-8-8-7-7-7-7: the busiest replica sets the pace,
    # idle share = 1 - 60 / (8 replicas × 8) = 6.25%
    assert "PAR406" not in deploylint.lint(plan()).codes
    result = deploylint.lint(plan(workload={"batch_size": 60}))
    d = result.one("PAR406")
    assert d.severity.value == "warning" and d.path == "/workload/batch_size"
    assert d.data["split"] == [8, 8, 8, 8, 7, 7, 7, 7] and d.data["idle_fraction"] == 0.0625
    assert d.data["nearest"] == [56, 64]
    fixed = deploylint.lint(result.apply_fixes(unsafe=True))
    assert "PAR406" not in fixed.codes and fixed.plan.workload.batch_size % 8 == 0


def test_par406_training_batch_must_be_whole_micro_batches_on_every_rank(deploylint, plan):
    # Megatron-LM: global batch % (micro × dp) == 0, else it refuses to start; 8 ranks × micro 2 = 16
    work = {"mode": "training", "batch_size": 40, "seq_len": 1024, "output_len": None}
    d = deploylint.lint(plan(workload=work, parallelism={"micro_batch_size": 2})).one("PAR406")
    assert d.severity.value == "error"
    assert d.data["multiple_of"] == 16 and d.data["nearest"] == [32, 48]
    assert "micro_batch_size × dp = 2 × 8 = 16" in d.message
    ok = deploylint.lint(plan(workload={**work, "batch_size": 48}, parallelism={"micro_batch_size": 2}))
    assert "PAR406" not in ok.codes


def _deepseek(hardware, parallelism, workload):
    import os
    cfg = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "hf-configs",
                       "deepseek-v3.json")
    return {"schema_version": 1, "model": {"from": cfg}, "hardware": hardware, "parallelism": parallelism,
            "workload": workload}


def test_par404_cross_node_ep_as_deepseek_serves_it_is_not_flagged(deploylint):
    # DeepSeek's inference-system overview (2025): prefill on EP32 over 4 nodes, decode on EP144 over 18 nodes, with
    # 32 redundant experts. 671B fp8 parameters do not fit with the experts inside one node of eight 80 GB devices,
    # so cross-node expert parallelism is the way to run it, and tensor parallelism is not involved.
    prefill = _deepseek({"accelerator": "h100-sxm", "num_devices": 32}, {"dp": 32, "ep": 32, "redundant_experts": 32},
                        {"mode": "inference", "batch_size": 32, "seq_len": 4096, "dtype": "fp8", "phase": "prefill"})
    decode = _deepseek({"accelerator": "h100-sxm", "num_devices": 144}, {"dp": 144, "ep": 144, "redundant_experts": 32},
                       {"mode": "inference", "batch_size": 144 * 128, "seq_len": 4096, "output_len": 1000,
                        "dtype": "fp8", "phase": "decode", "speculative_tokens": 1})
    for p in (prefill, decode):
        result = deploylint.lint(p, format="json")
        assert "PAR404" not in result.codes and "MOE301" not in result.codes
        assert not [d for d in result.diagnostics if d.severity.value == "error"]


def test_par404_cross_node_ep_that_cannot_hide_and_has_an_in_node_alternative(deploylint, moe_plan):
    # a small MoE on 16 devices with ep=16 across two nodes: its prefill all-to-all over 50 GB/s takes longer than its
    # compute, while ep=8 inside each node fits — the warning says both
    p = moe_plan(hardware={"num_devices": 16}, parallelism={"tp": 1, "dp": 16, "ep": 16},
                 workload={"batch_size": 16, "seq_len": 4096, "output_len": 0})
    d = deploylint.lint(p).one("PAR404")
    assert d.data["group"] == "ep" and d.data["ep_network_ms"] > d.data["compute_ms"]
    assert "cannot hide behind it" in d.message and d.fixes


def test_par405_judges_the_plans_own_layout_by_mem101s_limit(deploylint, plan):
    # A training plan filling 96% of each device fits by MEM101; the search keeps 8% headroom for what it *proposes*
    # (allocator, buffers), not for judging the plan. Llama 3 405B's own layouts were called "does not fit" this way.
    big = {"layers": 80, "hidden_size": 8192, "num_attention_heads": 64, "num_kv_heads": 8, "vocab_size": 128256,
           "ffn_hidden_size": 28672}

    def lint(gib):
        return deploylint.lint(plan(model=big, hardware={"num_devices": 64, "memory_gib": gib},
                                    parallelism={"tp": 8, "pp": 4, "dp": 2, "zero_stage": 1, "recompute": "full"},
                                    workload={"mode": "training", "batch_size": 128, "seq_len": 4096,
                                              "output_len": None}))

    used = lint(80).analysis.memory.busiest.total
    result = lint(round(used / 0.96 / 2**30, 3))          # the plan fills 96% of its busiest device
    assert 0.92 < result.analysis.memory.utilization <= 1.0
    assert "MEM101" not in result.codes
    assert all("does not fit" not in d.message for d in result.with_code("PAR405"))


def test_par403_layers_placed_on_purpose(deploylint, plan):
    # Llama 3 (Dubey et al. 2024, §3.3.2) takes one layer off the first and the last stage, which hold the embedding
    # and the head: 126 layers as 7, 8 × 14, 7 over pp = 16 — placed on purpose, not an uneven split
    model = {"layers": 126}
    par = {"tp": 1, "pp": 16, "dp": 1}
    hw = {"num_devices": 16}
    assert "PAR403" in deploylint.lint(plan(model=model, hardware=hw, parallelism=par)).codes
    placed = deploylint.lint(plan(model=model, hardware=hw, parallelism={**par, "pipeline_layers": [7] + [8] * 14 + [7]}))
    assert "PAR403" not in placed.codes
    assert [d.layers for d in placed.analysis.memory.devices][:2] == [7, 8]
    wrong = deploylint.lint(plan(model=model, hardware=hw, parallelism={**par, "pipeline_layers": [8] * 16}))
    d = wrong.one("PAR403")
    assert d.severity.value == "error" and "places 128 layers on 16 stages" in d.message


# A GPT of Narayanan et al. 2021's Table 1 (1.7B: 24 layers, h = 2,304, 24 heads, V = 51,200, s = 2,048) on 32 A100,
# with the paper's full recompute and without sequence parallelism (it came in 2022)
GPT_1_7B = {"layers": 24, "hidden_size": 2304, "num_attention_heads": 24, "vocab_size": 51200,
            "ffn_hidden_size": 4 * 2304, "ffn_activation": "gelu", "norm": "layernorm", "tie_embeddings": True}


def _gpt_1_7b(parallelism, batch):
    return {"schema_version": 1, "model": GPT_1_7B, "hardware": {"accelerator": "a100-80gb", "num_devices": 32},
            "parallelism": {"recompute": "full", "flash_attention": False, "sequence_parallel": False, **parallelism},
            "workload": {"mode": "training", "batch_size": batch, "seq_len": 2048, "dtype": "fp16"}}


def test_par405_keeps_the_plans_memory_savers_and_still_catches_a_deep_pipeline(deploylint):
    # 16 micro-batches through 8 stages of 3 layers: the last stage, which also holds the (tied) output head, runs all
    # 16 after the 7 before it have filled the pipeline once — 16·W_last + 7·W (Narayanan et al. 2021, §2.2.1: with
    # equal stages 1F1B idles (p − 1)/(m + p − 1) of the step) — while without the pipeline the 8× as many devices of
    # a stage share the whole model. Per token, eq. 3's terms: a layer's forward 24·h² + 4·h·s, run four times with
    # full recompute; the head's 2·h·V, three times (it is not recomputed). The proposal keeps full recompute, no
    # ZeRO and no sequence parallelism — the plan's savers — and changes only the layout.
    h, s, V = 2304, 2048, 51200
    layer, head = 4 * (24 * h * h + 4 * h * s), 3 * 2 * h * V
    piped, flat = 16 * (3 * layer + head) + 7 * 3 * layer, 16 * (24 * layer + head) / 8
    result = deploylint.lint(_gpt_1_7b({"tp": 4, "pp": 8, "dp": 1}, batch=16), format="json")
    d = result.one("PAR405")
    assert d.severity.value == "warning" and "does not fit" not in d.message
    best, current = d.data["best"], d.data["current"]
    assert best["pp"] == 1 and (best["recompute"], best["zero_stage"]) == ("full", 0)
    assert best["throughput_samples_per_s"] / current["throughput_samples_per_s"] == pytest.approx(piped / flat, rel=0.01)
    fixed = deploylint.lint(result.apply_fixes(unsafe=True), format="json")
    par = fixed.plan.parallelism
    assert (par.recompute, par.zero_stage, par.sequence_parallel) == ("full", 0, False)
    assert not {"PAR405", "MEM101"} & set(fixed.codes), fixed.codes


def test_par407_prices_full_recompute_where_the_model_fits_without_it(deploylint):
    # Table 1's 1.7B row as run (tp 1, pp 1, dp 32, batch 512): it fits without recompute. PAR405 keeps the savers
    # and has nothing to say; PAR407 informs that dropping recompute leaves the layout as it is and is faster by the
    # FLOPs recompute adds: Megatron eq. 3 counts 96·B·s·l·h²(1 + s/6h + V/16lh) with recompute against
    # 72·B·s·l·h²(1 + s/6h + V/12lh) without (Narayanan et al. 2021, §5.1; Korthikanti et al. 2022, §6) — 1.312 here
    s, h, layers, V = 2048, 2304, 24, 51200
    ratio = 96 * (1 + s / (6 * h) + V / (16 * layers * h)) / (72 * (1 + s / (6 * h) + V / (12 * layers * h)))
    result = deploylint.lint(_gpt_1_7b({"tp": 1, "pp": 1, "dp": 32}, batch=512), format="json")
    assert "PAR405" not in result.codes
    d = result.one("PAR407")
    assert d.severity.value == "info" and not d.fixes
    assert d.data["changes"] == [{"key": "recompute", "old": "full", "new": "none"}]
    best, current = d.data["best"], d.data["current"]
    assert {k: best[k] for k in ("tp", "pp", "dp")} == {"tp": 1, "pp": 1, "dp": 32}
    assert best["throughput_samples_per_s"] / current["throughput_samples_per_s"] == pytest.approx(ratio, rel=0.01)
    assert "recompute=none in place of full" in d.message and "more FLOPs per step" in d.message


def test_par405_offers_any_saver_only_when_the_plan_does_not_fit(deploylint, plan):
    # the same 70B-class plan on devices smaller than its busiest needs: MEM101 fires, and only then does PAR405
    # search every saver and say "the plan does not fit"
    big = {"layers": 80, "hidden_size": 8192, "num_attention_heads": 64, "num_kv_heads": 8, "vocab_size": 128256,
           "ffn_hidden_size": 28672}

    def lint(gib):
        return deploylint.lint(plan(model=big, hardware={"num_devices": 64, "memory_gib": gib},
                                    parallelism={"tp": 8, "pp": 8, "dp": 1},
                                    workload={"mode": "training", "batch_size": 64, "seq_len": 4096,
                                              "output_len": None}))

    used = lint(80).analysis.memory.busiest.total
    result = lint(round(used / 1.1 / 2**30, 3))
    assert "MEM101" in result.codes and "PAR407" not in result.codes
    d = result.one("PAR405")
    assert "the plan does not fit" in d.message and d.data["gain"] is None
    assert (d.data["best"]["recompute"], d.data["best"]["zero_stage"]) != ("none", 0)     # a saver the plan lacks


def test_a_layout_fix_leaves_a_fitting_training_plans_memory_savers_alone(deploylint, plan):
    # 10 layers on pp = 4 (3-3-2-2) with full recompute and ZeRO-1: the fix moves pp to one that divides the layers
    # and keeps the recompute and the ZeRO stage the plan chose (it used to take the fastest layout, without recompute)
    p = plan(model={"layers": 10}, parallelism={"tp": 1, "pp": 4, "dp": 2, "recompute": "full", "zero_stage": 1},
             workload={"mode": "training", "batch_size": 64, "seq_len": 4096, "output_len": None})
    result = deploylint.lint(p)
    d = result.one("PAR403")
    assert d.fixes and "recompute=full" in d.fixes[0].message and "zero_stage=1" in d.fixes[0].message
    fixed = deploylint.lint(result.apply_fixes(unsafe=True))
    assert "PAR403" not in fixed.codes and 10 % fixed.plan.parallelism.pp == 0
    assert (fixed.plan.parallelism.recompute, fixed.plan.parallelism.zero_stage) == ("full", 1)
