"""MOE301–MOE304 with hand-computed figures and their fixes."""

FORMATS = ("toml", "yaml", "json", "python")


def test_moe301_seed_split_and_fixes(deploylint, moe_plan):
    # 64 experts on ep=3 (3 devices): 22-21-21, max/mean = 22 / (64/3) = 1.03125
    p = moe_plan(hardware={"num_devices": 3}, parallelism={"tp": 1, "dp": 3, "ep": 3}, workload={"batch_size": 6})
    d = deploylint.lint(p).one("MOE301")
    assert d.path == "/parallelism/ep"
    assert d.data["distribution"] == [22, 21, 21]
    assert d.data["imbalance"] == round(22 / (64 / 3), 3) == 1.031
    assert d.data["divisible_expert_counts"] == [63, 66]
    assert "22-21-21" in d.message
    # the nearest feasible ep on 3 devices is 1 (64 is not divisible by 3); the model-change fixes say so
    assert d.data["nearest_feasible_ep"] == 1
    messages = [f.message for f in d.fixes]
    assert any(m.startswith("use ep=1 (dp=3)") for m in messages)
    assert any("model change: 63 experts" in m for m in messages)
    assert all(f.applicability.value == "unsafe" for f in d.fixes)


def test_moe301_silent_when_divisible(deploylint, moe_plan):
    result = deploylint.lint(moe_plan(parallelism={"ep": 8}))
    assert "MOE301" not in result.codes


def test_moe302_placement_sum_and_length(deploylint, moe_plan):
    p = moe_plan(parallelism={"ep": 4, "expert_placement": [16, 16, 16]})
    d = deploylint.lint(p).one("MOE302")
    assert "lists 3 ranks but ep=4" in d.message and "places 48 experts but the model has 64" in d.message
    fixed = deploylint.lint(p).apply_fixes()
    again = deploylint.lint(fixed)
    assert "MOE302" not in again.codes
    assert again.plan.parallelism.expert_placement == (16, 16, 16, 16)


def test_moe302_ids_missing_and_duplicate(deploylint, moe_plan):
    ids = [list(range(0, 16)), list(range(16, 32)), list(range(32, 48)), list(range(47, 63))]
    d = deploylint.lint(moe_plan(parallelism={"ep": 4, "expert_placement": ids})).one("MOE302")
    assert d.data["missing"] == [63] and d.data["duplicates"] == [47]


def test_moe303_ep_above_experts(deploylint, moe_plan):
    p = moe_plan(model={"moe": {"num_experts": 4, "top_k": 2, "expert_ffn_hidden_size": 512}}, parallelism={"ep": 8})
    d = deploylint.lint(p).one("MOE303")
    assert d.data == {"ep": 8, "num_experts": 4}
    assert "4 EP ranks hold none" in d.message


def test_moe304_uneven_placement_gets_balanced(deploylint, moe_plan):
    p = moe_plan(parallelism={"ep": 4, "expert_placement": [20, 12, 16, 16]})
    result = deploylint.lint(p)
    d = result.one("MOE304")
    assert d.data["distribution"] == [20, 12, 16, 16]
    assert d.data["imbalance"] == 1.25          # 20 / 16
    assert d.data["balanced"] == [16, 16, 16, 16]
    fixed = result.apply_fixes()
    assert "MOE304" not in deploylint.lint(fixed).codes


def test_moe301_redundant_experts_fill_the_ranks(deploylint, moe_plan):
    # DeepSeek-V3 §3.4 (EPLB): replicas of the hottest experts even out the ranks without changing the model.
    # 64 experts + 2 replicas on ep=3: 22-22-22, nothing to report, never a "retrain" fix
    p = moe_plan(hardware={"num_devices": 3}, parallelism={"tp": 1, "dp": 3, "ep": 3}, workload={"batch_size": 6})
    d = deploylint.lint(p).one("MOE301")
    replicas = [f for f in d.fixes if "redundant experts" in f.message]
    assert replicas and "model unchanged" in replicas[0].message
    eplb = moe_plan(hardware={"num_devices": 3}, parallelism={"tp": 1, "dp": 3, "ep": 3, "redundant_experts": 2},
                    workload={"batch_size": 6})
    result = deploylint.lint(eplb)
    assert "MOE301" not in result.codes
    assert [d.experts for d in result.analysis.memory.devices] == [22, 22, 22]


def test_moe302_replicas_may_repeat_ids(deploylint, moe_plan):
    # 64 experts plus 4 redundant slots over ep=4: ids 0..63 once each and four hot experts twice
    ids = [list(range(0, 16)) + [0], list(range(16, 32)) + [16], list(range(32, 48)) + [32], list(range(48, 64)) + [48]]
    ok = moe_plan(parallelism={"ep": 4, "redundant_experts": 4, "expert_placement": ids})
    assert "MOE302" not in deploylint.lint(ok).codes
    too_many = moe_plan(parallelism={"ep": 4, "redundant_experts": 2, "expert_placement": ids})
    assert "MOE302" in deploylint.lint(too_many).codes


def _deepseek_v3(num_devices: int, parallelism: dict, **sections) -> dict:
    import os
    cfg = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "hf-configs",
                       "deepseek-v3.json")
    return {"schema_version": 1, "model": {"from": cfg},
            "hardware": {"accelerator": "h100-sxm", "num_devices": num_devices, "intra_node_bandwidth_gbps": 200},
            "parallelism": parallelism, **sections,
            "workload": {"mode": "inference", "batch_size": num_devices, "seq_len": 4096, "output_len": 1000,
                         "dtype": "fp8", "phase": "decode"}}


def test_replicas_let_ep_exceed_the_routed_experts(deploylint):
    # DeepSeek-V3 technical report §3.4.2: decoding runs the MoE part on EP320, "each GPU hosts only one expert, and
    # 64 GPUs are responsible for hosting redundant experts" (attention TP4 with DP80): 256 routed + 64 redundant
    # = 320 slots, one per rank. No rank is left without an expert, and the split is even.
    result = deploylint.lint(_deepseek_v3(320, {"tp": 4, "dp": 80, "ep": 320, "redundant_experts": 64}), format="json")
    assert "MOE303" not in result.codes and "MOE301" not in result.codes
    assert {d.experts for d in result.analysis.memory.devices} == {1}
    # without the replicas, 64 of the 320 ranks would hold none: MOE303 says so
    bare = deploylint.lint(_deepseek_v3(320, {"tp": 4, "dp": 80, "ep": 320}), format="json").one("MOE303")
    assert "64 EP ranks hold none" in bare.message


def test_the_engines_redundant_experts_are_held_like_the_plans(deploylint):
    # DeepSeek's inference-system overview (2025, as in test_published_cases): prefill on EP32 with 32 redundant
    # experts, (256 + 32) / 32 = 9 experts per GPU. Stated as the engine's option (SGLang --ep-num-redundant-experts,
    # vLLM num_redundant_experts: [serving] redundant_experts) or in the layout, the ranks hold the same 9 experts,
    # and a placement of 9 per rank is complete either way.
    as_layout = _deepseek_v3(32, {"dp": 32, "ep": 32, "redundant_experts": 32})
    as_engine = _deepseek_v3(32, {"dp": 32, "ep": 32}, serving={"redundant_experts": 32})
    for plan in (as_layout, as_engine):
        result = deploylint.lint(plan, format="json")
        assert [d.experts for d in result.analysis.memory.devices] == [9] * 32
        assert "MOE301" not in result.codes
        placed = {**plan, "parallelism": {**plan["parallelism"], "expert_placement": [9] * 32}}
        assert "MOE302" not in deploylint.lint(placed, format="json").codes
    # the memory of the two is the same: the replicas are resident in both
    a, b = (deploylint.lint(p, format="json").analysis.memory.devices[0].weights for p in (as_layout, as_engine))
    assert a == b


def test_the_layout_search_counts_the_engines_redundant_experts(deploylint):
    # 256 + 32 = 288 slots split over 9 ranks (32 each) but 256 experts do not: a layout with ep = 9 is feasible
    # only with the replicas, wherever they are stated
    from deploylint.core.estimate.layouts import layout_problems
    from deploylint.core.records import replace

    for plan in (_deepseek_v3(72, {"dp": 72, "ep": 36, "redundant_experts": 32}),
                 _deepseek_v3(72, {"dp": 72, "ep": 36}, serving={"redundant_experts": 32})):
        resolved = deploylint.lint(plan, format="json").plan
        nine = replace(resolved.parallelism, ep=9, dp=72)
        assert "num_experts not divisible by ep" not in layout_problems(resolved, nine)
