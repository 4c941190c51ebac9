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
