"""The example plugin's own tests, written with deploylint's `deploylint` fixture."""

PLAN = {
    "schema_version": 1,
    "model": {"layers": 32, "hidden_size": 4096, "num_attention_heads": 32, "num_kv_heads": 8,
              "ffn_hidden_size": 14336, "vocab_size": 32000,
              "moe": {"num_experts": 16, "top_k": 2}},
    "hardware": {"accelerator": "h100-sxm", "num_devices": 16},
    "parallelism": {"tp": 1, "ep": 16},
    "workload": {"mode": "inference", "batch_size": 64, "seq_len": 1024, "output_len": 128},
}


def test_rules_and_accelerator_are_registered(deploylint):
    registry = deploylint.registry()
    assert {"ACME001", "ACME002"} <= {r.code for r in registry.rules}
    assert "acme-npu-x1" in registry.accelerators()


def test_ep_across_nodes_is_reported_in_every_format(deploylint):
    for fmt in ("toml", "yaml", "json", "python"):
        result = deploylint.lint(PLAN, format=fmt)
        d = result.one("ACME001")
        assert d.path == "/parallelism/ep"
        assert d.data == {"ep": 16, "devices_per_node": 8}
        assert d.plugin == "acme_policies"


def test_the_fix_keeps_experts_in_a_node(deploylint):
    # only this plugin's fixes: the built-in rules offer their own (layouts, batch sizes) on this plan
    only_acme = {"select": ["ACME"]}
    result = deploylint.lint(PLAN, format="toml", config=only_acme)
    fixed = result.apply_fixes(unsafe=True)
    assert "ep = 8" in fixed
    assert "ACME001" not in deploylint.lint(fixed, format="toml", config=only_acme).codes


def test_unapproved_accelerator_and_configured_list(deploylint):
    plan = dict(PLAN, hardware={"accelerator": "l40s", "num_devices": 16})
    assert deploylint.lint(plan).one("ACME002").data["accelerator"] == "l40s"
    clean = deploylint.lint(plan, config={"plugins": {"acme": {"approved": ["l40s"]}}})
    assert "ACME002" not in clean.codes


def test_the_plugin_accelerator_can_be_named_in_a_plan(deploylint):
    plan = dict(PLAN, hardware={"accelerator": "acme-npu-x1", "num_devices": 16})
    result = deploylint.lint(plan)
    assert result.plan.hardware.memory_gib == 96
    assert "DL004" not in result.codes and "ACME002" not in result.codes
