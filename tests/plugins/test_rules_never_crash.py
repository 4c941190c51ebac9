"""Property test: on any schema-valid plan, the estimator and every built-in rule run without failing (no DL005),
every diagnostic lands on a real place in the file, and every offered fix renders and keeps the file loadable."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploylint.core.document.sources import load


@st.composite
def plans(draw):
    small = st.integers(1, 16)
    heads = draw(st.sampled_from([1, 2, 4, 8, 12, 16, 32, 64]))
    model = {"layers": draw(st.integers(1, 96)), "hidden_size": heads * draw(st.sampled_from([16, 64, 128])),
             "num_attention_heads": heads, "num_kv_heads": draw(st.sampled_from([h for h in (1, 2, 4, 8, heads) if h <= heads])),
             "vocab_size": draw(st.integers(100, 200_000))}
    if draw(st.booleans()):
        model["moe"] = {"num_experts": draw(st.integers(1, 256)), "top_k": draw(st.integers(1, 8)),
                        "dense_layers": draw(st.integers(0, 3)), "shared_experts": draw(st.integers(0, 2))}
    if draw(st.booleans()):
        model["attention"] = "mla"
        model["mla"] = {"q_lora_rank": draw(st.sampled_from([0, 64])), "kv_lora_rank": 64, "qk_nope_head_dim": 32,
                        "qk_rope_head_dim": 16, "v_head_dim": 32}
    n = draw(st.sampled_from([1, 2, 3, 4, 6, 8, 12, 16, 64, 1024]))
    hardware = {"num_devices": n, "memory_gib": draw(st.sampled_from([16, 80, 192])), "peak_tflops": 400,
                "memory_bandwidth_gbps": 2000, "devices_per_node": draw(st.sampled_from([1, 4, 8]))}
    if draw(st.booleans()):
        hardware["intra_node_bandwidth_gbps"] = 300
        hardware["inter_node_bandwidth_gbps"] = 50
    par = {k: draw(small) for k in draw(st.sets(st.sampled_from(["tp", "pp", "dp", "cp", "ep", "etp"]), max_size=4))}
    if draw(st.booleans()):
        par["expert_placement"] = draw(st.lists(st.integers(0, 64), min_size=1, max_size=6))
    training = draw(st.booleans())
    workload = {"mode": "training" if training else "inference", "batch_size": draw(st.integers(1, 4096)),
                "seq_len": draw(st.integers(1, 32768))}
    if training:
        par["zero_stage"] = draw(st.integers(0, 3))
        par["recompute"] = draw(st.sampled_from(["none", "selective", "full"]))
    else:
        workload["output_len"] = draw(st.integers(0, 2048))
    claims = {}
    for key in draw(st.sets(st.sampled_from(["throughput_samples_per_s", "latency_ms", "latency_ms_per_layer", "ttft_ms",
                                            "tpot_ms", "memory_per_device_mib", "mfu"]), max_size=3)):
        claims[key] = draw(st.floats(0.001, 1e6))
    plan = {"schema_version": 1, "model": model, "hardware": hardware, "parallelism": par, "workload": workload}
    if claims:
        plan["claims"] = claims
    return plan, draw(st.sampled_from(["toml", "yaml", "json", "python"]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plans())
def test_rules_never_fail_and_fixes_render(deploylint, case):
    plan, fmt = case
    result = deploylint.lint(plan, format=fmt)
    failures = [d.message for d in result.diagnostics if d.code in ("DL005", "DL001")]
    assert not failures, failures
    lines = result.text.splitlines()
    for d in result.diagnostics:
        assert 1 <= d.range.start.line <= max(1, len(lines)), d
        for fix in d.fixes:
            text = result.text
            for e in sorted(fix.edits, key=lambda e: e.start, reverse=True):
                text = text[:e.start] + e.new_text + text[e.end:]
            load("plan." + {"toml": "toml", "yaml": "yaml", "json": "json", "python": "py"}[fmt], text)
