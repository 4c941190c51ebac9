"""MEM101–MEM104 and CMP201–CMP202."""


def test_mem101_names_device_and_breakdown(deploylint, plan):
    big = {"layers": 80, "hidden_size": 8192, "num_attention_heads": 64, "num_kv_heads": 8, "vocab_size": 128256,
           "ffn_hidden_size": 28672}
    training = {"mode": "training", "batch_size": 64, "seq_len": 4096, "output_len": None}
    # on 8 × 80 GiB nothing fits: 70.6B × 16 bytes / 8 (ZeRO-3) = 141 GB per device — no fix is offered
    hopeless = deploylint.lint(plan(model=big, parallelism={"tp": 1, "dp": 8}, workload=training)).one("MEM101")
    assert hopeless.fixes == ()
    p = plan(model=big, hardware={"memory_gib": 192}, parallelism={"tp": 1, "dp": 8}, workload=training)
    result = deploylint.lint(p)
    d = result.one("MEM101")
    # 70.6B parameters × 16 bytes of model states on one device ≫ 80 GiB
    assert d.data["breakdown"]["weights"] == result.analysis.memory.devices[0].weights
    assert d.data["needed_bytes"] > 16 * 70e9 > d.data["capacity_bytes"]
    assert d.fixes and all(f.applicability.value == "unsafe" for f in d.fixes)
    fixed = deploylint.lint(result.apply_fixes(unsafe=True))
    assert "MEM101" not in fixed.codes


def test_mem102_underused_memory_and_batch_fix(deploylint, plan):
    result = deploylint.lint(plan(workload={"batch_size": 8, "seq_len": 128, "output_len": 16}))
    d = result.one("MEM102")
    busiest = result.analysis.memory.busiest
    assert d.data["used_bytes"] == busiest.total and d.data["capacity_bytes"] == 80 * 2**30
    assert abs(d.data["utilization"] - busiest.total / (80 * 2**30)) < 1e-6
    batch_fix = next(f for f in d.fixes if "batch_size" in f.message)
    assert batch_fix.applicability.value == "unsafe"
    new_batch = int(batch_fix.message.split("raise batch_size to ")[1].split(":")[0].replace(",", ""))
    # the batch stops where the roofline turns compute-bound (Williams et al. 2009): beyond it a larger batch waits on
    # the same FLOPs; half of it is still bound by memory bandwidth
    after = deploylint.lint(plan(workload={"batch_size": new_batch, "seq_len": 128, "output_len": 16})).analysis
    before = deploylint.lint(plan(workload={"batch_size": new_batch // 2, "seq_len": 128, "output_len": 16})).analysis
    assert after.bounds.bottleneck == "compute" != before.bounds.bottleneck
    assert after.memory.utilization <= 0.85
    assert "turns compute-bound" in batch_fix.message


def test_mem102_fills_memory_when_it_runs_out_before_the_turn(deploylint, plan):
    # 8k prompts and 8k outputs: the KV cache fills the 80 GiB long before a decode step is compute-bound
    work = {"batch_size": 8, "seq_len": 8192, "output_len": 8192}
    d = deploylint.lint(plan(workload=work)).one("MEM102")
    batch_fix = next(f for f in d.fixes if "batch_size" in f.message)
    new_batch = int(batch_fix.message.split("raise batch_size to ")[1].split(":")[0].replace(",", ""))
    after = deploylint.lint(plan(workload={**work, "batch_size": new_batch})).analysis
    assert 0.80 <= after.memory.utilization <= 0.85      # the default target is 85%
    assert after.bounds.bottleneck != "compute"


def test_mem102_leaves_a_compute_bound_training_plan_alone(deploylint, plan):
    # Llama-3.1-8B-sized training on 32 devices with ZeRO-3: a few GiB per device, and every step bound by its FLOPs.
    # Fewer devices would only train proportionally longer (2 devices: 16×); more memory buys nothing.
    model = {"layers": 32, "hidden_size": 4096, "num_attention_heads": 32, "num_kv_heads": 8, "vocab_size": 128256,
             "ffn_hidden_size": 14336}
    p = plan(model=model, hardware={"num_devices": 32, "devices_per_node": 8},
             parallelism={"tp": 1, "dp": 32, "zero_stage": 3, "recompute": "full"},
             workload={"mode": "training", "batch_size": 64, "seq_len": 2048, "output_len": None})
    result = deploylint.lint(p)
    assert result.analysis.memory.utilization < 0.30
    assert result.analysis.bounds.bottleneck == "compute"
    assert "MEM102" not in result.codes


def test_cmp201_judges_a_compute_bound_decode_by_mfu(deploylint, plan):
    # 65,536 short sequences (16 + 4 tokens) of the 191M-parameter model on 8 devices: a decode step does about
    # 2·191M·8,192 FLOPs per device for ~5 GB of weights and KV cache, ~600 FLOP/byte, past the ridge point of
    # 1,000 TFLOP/s / 3 TB/s ≈ 333 — bandwidth is not what limits it, so MBU would call it "underused" wrongly
    work = {"batch_size": 65536, "seq_len": 16, "output_len": 4}
    a = deploylint.lint(plan(workload=work)).analysis
    assert a.bounds.phase("decode").bottleneck == "compute"
    low = deploylint.lint(plan(workload=work, claims={"throughput_samples_per_s": 0.02 * a.bounds.max_throughput_samples_per_s}))
    d = low.one("CMP201")
    assert d.data["metric"] == "mfu" and "MFU" in d.message


def test_mem103_claim_below_weights_is_an_error(deploylint, moe_plan):
    p = moe_plan(hardware={"num_devices": 3}, parallelism={"dp": 3, "ep": 1}, claims={"memory_per_device_mib": 10})
    d = deploylint.lint(p).one("MEM103")
    assert d.severity.value == "error" and d.data["claimed_bytes"] == 10 * 2**20
    assert d.data["weights_bytes"] > d.data["claimed_bytes"]


def test_mem104_pipeline_imbalance(deploylint, plan):
    p = plan(model={"layers": 3}, hardware={"num_devices": 2}, parallelism={"pp": 2, "dp": 1},
             workload={"batch_size": 512, "seq_len": 2048, "output_len": 0})
    result = deploylint.lint(p, config={"thresholds": {"memory_utilization_min": 0}})
    d = result.one("MEM104")
    totals = [dev.total for dev in result.analysis.memory.devices]
    assert abs(d.data["imbalance"] - round(max(totals) / (sum(totals) / 2), 4)) < 1e-9


def test_cmp201_and_cmp202(deploylint, plan):
    base = deploylint.lint(plan(workload={"output_len": 0})).analysis
    per_sample = base.flops.flops_per_sample
    peak = 8 * 1000e12
    low = deploylint.lint(plan(workload={"output_len": 0}, claims={"throughput_samples_per_s": 0.01 * peak / per_sample}))
    d = low.one("CMP201")
    assert abs(d.data["utilization"] - 0.01) < 1e-9 and d.data["metric"] == "mfu"
    high = deploylint.lint(plan(workload={"output_len": 0}, claims={"mfu": 1.2}))
    e = high.one("CMP202")
    assert e.severity.value == "error" and abs(e.data["utilization"] - 1.2) < 1e-9
    warn = deploylint.lint(plan(workload={"output_len": 0}, claims={"mfu": 0.8})).one("CMP202")
    assert warn.severity.value == "warning"


def test_cmp201_judges_decode_by_memory_bandwidth(deploylint, plan):
    # A decode-dominated plan: low MFU is normal there, the rule reads MBU instead.
    p = plan(workload={"batch_size": 8, "seq_len": 128, "output_len": 1024})
    a = deploylint.lint(p).analysis
    assert a.phase == "decode"
    bound = a.bounds.max_throughput_samples_per_s
    low = deploylint.lint(plan(workload={"batch_size": 8, "seq_len": 128, "output_len": 1024},
                               claims={"throughput_samples_per_s": bound * 0.05}))
    d = low.one("CMP201")
    assert d.data["metric"] == "mbu" and d.data["phase"] == "decode"
    # at the bound a decode step moves its bytes at full bandwidth: MBU there is (close to) 1
    at_bound = deploylint.lint(plan(workload={"batch_size": 8, "seq_len": 128, "output_len": 1024},
                                    claims={"throughput_samples_per_s": bound * 0.5})).analysis
    assert 0.45 < at_bound.implied.bandwidth_utilization < 0.55
    assert "CMP201" not in deploylint.lint(plan(workload={"batch_size": 8, "seq_len": 128, "output_len": 1024},
                                                claims={"throughput_samples_per_s": bound * 0.5})).codes


def test_dl008_names_the_missing_link_bandwidth(deploylint, plan):
    p = plan(hardware={"intra_node_bandwidth_gbps": None, "inter_node_bandwidth_gbps": None},
             parallelism={"tp": 8, "dp": 1})
    result = deploylint.lint(p)
    d = result.one("DL008")
    assert d.severity.value == "info" and d.data == {"missing": "intra_node_bandwidth_gbps"}
    assert result.analysis.bounds.phase("prefill").comm_s is None


def test_a_low_mfu_claim_on_a_decode_plan_is_judged_by_bandwidth(deploylint, plan):
    # 1% MFU in decode is normal (a decode step does ~2 FLOPs per weight byte); what matters is the bandwidth it implies
    decode = {"batch_size": 64, "seq_len": 128, "output_len": 1024}
    a = deploylint.lint(plan(workload=decode, claims={"mfu": 0.01})).analysis
    assert a.phase == "decode" and a.implied.bandwidth_utilization is not None
    result = deploylint.lint(plan(workload=decode, claims={"mfu": 0.01}))
    found = result.with_code("CMP201")
    assert all(d.data["metric"] == "mbu" for d in found)
    assert bool(found) == (a.implied.bandwidth_utilization < 0.10)


def test_mem104_ignores_the_1f1b_in_flight_activations(deploylint, plan):
    # 1F1B (Narayanan et al. 2021 §2.2): stage 0 holds pp micro-batches of activations, the last stage one — every
    # training pipeline has that, and no placement removes it; even stages of model states are balanced
    p = plan(model={"layers": 32, "vocab_size": 1000}, hardware={"num_devices": 8}, parallelism={"tp": 1, "pp": 8, "dp": 1},
             workload={"mode": "training", "batch_size": 64, "seq_len": 8192, "output_len": None})
    result = deploylint.lint(p)
    assert result.analysis.memory.imbalance > 1.15
    assert "MEM104" not in result.codes
