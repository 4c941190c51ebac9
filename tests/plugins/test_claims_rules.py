"""PRF501–PRF503: claims against the roofline and against each other."""


def test_prf502_littles_law_seed_figures(deploylint, moe_plan):
    # the seed: batch 8, 2.1 ms per layer × 4 layers = 8.4 ms, 3800 samples/s → 31.92 in flight, 3.99× the batch
    p = moe_plan(model={"layers": 4}, workload={"batch_size": 8, "seq_len": 16, "output_len": 0},
                 claims={"throughput_samples_per_s": 3800, "latency_ms_per_layer": 2.1})
    d = deploylint.lint(p).one("PRF502")
    assert d.path == "/claims/latency_ms_per_layer"
    assert abs(d.data["implied_in_flight"] - 31.92) < 1e-9
    assert abs(d.data["consistent_throughput_samples_per_s"] - 8 / 0.0084) < 1e-6
    assert d.data["ratio"] == 3.99


def test_prf502_consistent_claims_pass(deploylint, moe_plan):
    p = moe_plan(model={"layers": 4}, workload={"batch_size": 8, "seq_len": 16, "output_len": 0},
                 claims={"throughput_samples_per_s": 950, "latency_ms_per_layer": 2.1})
    assert "PRF502" not in deploylint.lint(p).codes


def test_prf501_and_prf503_against_bounds(deploylint, plan):
    result = deploylint.lint(plan())
    b = result.analysis.bounds
    over = deploylint.lint(plan(claims={"throughput_samples_per_s": b.max_throughput_samples_per_s * 2}))
    d = over.one("PRF501")
    assert abs(d.data["ratio"] - 2.0) < 1e-3
    under = deploylint.lint(plan(claims={"tpot_ms": b.tpot_ms / 2}))
    d = under.one("PRF503")
    assert abs(d.data["ratio"] - 0.5) < 1e-3 and d.path == "/claims/tpot_ms"
    assert "PRF503" not in deploylint.lint(plan(claims={"tpot_ms": b.tpot_ms * 3})).codes


def test_tpot_bound_is_weights_over_bandwidth_for_a_small_batch(deploylint, plan):
    # Decode of one sequence on one device reads every weight once per token: tpot ≥ weight bytes / HBM bandwidth.
    p = plan(hardware={"num_devices": 1}, parallelism={"dp": 1}, workload={"batch_size": 1, "seq_len": 16, "output_len": 4})
    a = deploylint.lint(p).analysis
    weights = a.params.total * 2
    assert a.bounds.tpot_ms >= weights / 3000e9 * 1e3
    assert a.bounds.tpot_ms < weights / 3000e9 * 1e3 * 1.05     # the KV cache of 20 tokens adds little
