"""Suppression comments and the JSON "$deploylint" key, through the real engine."""

SEED = {
    "schema_version": 1,
    "model": {"layers": 4, "hidden_size": 1024, "num_attention_heads": 16, "vocab_size": 32000,
              "moe": {"num_experts": 64, "top_k": 2, "expert_ffn_hidden_size": 512}},
    "hardware": {"num_devices": 3, "memory_gib": 64, "peak_tflops": 400, "memory_bandwidth_gbps": 1600,
                 "intra_node_bandwidth_gbps": 196},
    "parallelism": {"tp": 1, "pp": 1, "ep": 3},
    "workload": {"mode": "inference", "batch_size": 8, "seq_len": 16},
}


def _toml(extra_line_comment="", above="", file_comment=""):
    return (
        f"{file_comment}schema_version = 1\n"
        "[model]\nlayers = 4\nhidden_size = 1024\nnum_attention_heads = 16\nvocab_size = 32000\n"
        "[model.moe]\nnum_experts = 64\ntop_k = 2\nexpert_ffn_hidden_size = 512\n"
        "[hardware]\nnum_devices = 3\nmemory_gib = 64\npeak_tflops = 400\nmemory_bandwidth_gbps = 1600\n"
        "intra_node_bandwidth_gbps = 196\n"
        f"[parallelism]\ntp = 1\npp = 1\n{above}ep = 3{extra_line_comment}\n"
        "[workload]\nmode = \"inference\"\nbatch_size = 8\nseq_len = 16\n"
    )


def test_unsuppressed_plan_reports_moe301(deploylint):
    assert "MOE301" in deploylint.lint(_toml()).codes


def test_same_line_comment_silences_only_that_code(deploylint):
    r = deploylint.lint(_toml(extra_line_comment="  # deploylint: ignore[MOE301]"))
    assert "MOE301" not in r.codes and "DL006" not in r.codes
    assert r.file.suppressed >= 1


def test_comment_on_the_line_above_applies_to_the_next_line(deploylint):
    r = deploylint.lint(_toml(above="# deploylint: ignore[MOE301] -- 64 experts are a given\n"))
    assert "MOE301" not in r.codes


def test_file_level_and_prefix_suppression(deploylint):
    r = deploylint.lint(_toml(file_comment="# deploylint: ignore-file[MOE, MEM102]\n"))
    assert not [c for c in r.codes if c.startswith("MOE") or c == "MEM102"]


def test_unknown_and_unused_suppressions_are_reported_at_the_comment(deploylint):
    r = deploylint.lint(_toml(extra_line_comment="  # deploylint: ignore[ZZZ999, PAR402]"))
    dl006 = r.with_code("DL006")
    reasons = sorted(d.data["reason"] for d in dl006)
    assert reasons == ["unknown", "unused"]
    line = next(i for i, l in enumerate(_toml(extra_line_comment="  # deploylint: ignore[ZZZ999, PAR402]").splitlines(), 1) if l.startswith("ep = 3"))
    assert all(d.range.start.line == line for d in dl006)


def test_json_meta_key_suppresses_by_pointer(deploylint):
    import json

    plan = dict(SEED, **{"$deploylint": {"ignore": {"/parallelism/ep": ["MOE301"]}}})
    r = deploylint.lint(json.dumps(plan, indent=2), format="json")
    assert "MOE301" not in r.codes and "DL003" not in r.codes


def test_malformed_json_meta_key_is_a_positioned_error(deploylint):
    import json

    plan = dict(SEED, **{"$deploylint": {"ignroe": {}}})
    r = deploylint.lint(json.dumps(plan, indent=2), format="json")
    (d,) = [d for d in r.diagnostics if "ignroe" in d.message]
    assert d.code == "DL002" and d.range.start.line > 1
