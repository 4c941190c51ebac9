"""Measured serving runs as plans: no error, and no lower bound above the measurement.

The rows below are transcribed from ai-dynamo/aiconfigurator, file
``aic-core/src/aiconfigurator_core/systems/silicon_sample.csv`` at commit 095f58a (Apache-2.0; measured TTFT and
TPOT of real runs, ids as in the file). They are the cases deploylint used to get wrong: DeepSeek-R1 over tp 64 with
moe_tp 8 × moe_ep 8 (called "below the physical minimum" while the TP all-reduce was priced as a flat ring over the
network and the MoE as a dispatch the replicated tokens never need), concurrency above the KV cache (a queue, not an
out-of-memory), disaggregated pools, and the tightest TPOT of the corpus. The whole file is the gate
``bench/validate_measured.py`` in ``.ci/run``; this table keeps the mapping and the contract tested on its own.
"""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("validate_measured", os.path.join(ROOT, "bench", "validate_measured.py"))
vm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vm)

_COLUMNS = ("id", "silicon_data_source", "backend", "model_path", "system", "mode", "isl", "osl", "gemm_quant_mode",
            "moe_quant_mode", "batch_size", "tp_size", "pp_size", "attention_dp_size", "moe_tp_size", "moe_ep_size",
            "silicon_ttft_ms", "silicon_tpot_ms")
_AGG = [
    ("2026_04_06_deepseek_r1_b200_sxm_trtllm_fp8_agg_1024x1024_c8_tp8_ep8_929", "silicon_concurrency=8", "trtllm",
     "deepseek-ai/DeepSeek-R1", "b200_sxm", "agg", "1024", "1024", "fp8", "fp8", "8", "64", "1", "1", "8", "8",
     "308.30576767912135", "9.642045348094014"),
    ("dsr1_h200_trtllm_fp8_agg_8192x1024_c8_cfg181", "silicon_concurrency=8", "trtllm", "deepseek-ai/DeepSeek-R1",
     "h200_sxm", "agg", "8192", "1024", "fp8", "fp8", "8", "64", "1", "1", "8", "8", "559.4684223760851",
     "18.602590764619393"),
    ("2026_04_06_llama_3_1_70b_h200_sxm_trtllm_fp8_agg_1024x8192_c128_tp1_ep1_417", "silicon_concurrency=128",
     "trtllm", "meta-llama/Llama-3.1-70B", "h200_sxm", "agg", "1024", "8192", "fp8", "fp8", "128", "1", "1", "1", "1",
     "1", "368967.20149198046", "30.42062744866144"),
    ("2026_03_25_deepseek_r1_h200_sxm_trtllm_fp8_agg_1024x8192_c128_tp8_0_ep8_0_1250", "silicon_concurrency=128",
     "trtllm", "deepseek-ai/DeepSeek-R1", "h200_sxm", "agg", "1024", "8192", "fp8", "fp8", "128", "8", "1", "1", "1",
     "8", "1400.640536189965", "23.345175091106498"),
    ("2026_04_06_llama_3_1_70b_h200_sxm_trtllm_fp8_agg_8192x1024_c4_tp1_ep1_643", "silicon_concurrency=4", "trtllm",
     "meta-llama/Llama-3.1-70B", "h200_sxm", "agg", "8192", "1024", "fp8", "fp8", "4", "1", "1", "1", "1", "1",
     "1155.5344413442072", "23.986010536419577"),
]
ROWS = [dict(zip(_COLUMNS, r)) for r in _AGG]
# a disaggregated DeepSeek-V3 run: one prefill worker (tp 8, moe_ep 8, batch 1), three decode workers (batch 16)
ROWS.append({"id": "dsv3_h200_trtllm_fp8_disagg_8192x1024 (TTFT 1448.76 ms, TPOT 21.36 ms)", "silicon_data_source": "",
             "backend": "trtllm", "model_path": "deepseek-ai/DeepSeek-V3", "system": "h200_sxm", "mode": "disagg",
             "isl": "8192", "osl": "1024", "gemm_quant_mode": "fp8", "moe_quant_mode": "fp8",
             "prefill_batch_size": "1", "prefill_num_workers": "1", "prefill_tp_size": "8", "prefill_pp_size": "1",
             "prefill_attention_dp_size": "1", "prefill_moe_tp_size": "1", "prefill_moe_ep_size": "8",
             "decode_batch_size": "16", "decode_num_workers": "3", "decode_tp_size": "8", "decode_pp_size": "1",
             "decode_attention_dp_size": "1", "decode_moe_tp_size": "1", "decode_moe_ep_size": "8",
             "silicon_ttft_ms": "1448.7552610303587", "silicon_tpot_ms": "21.363146124192166"})


@pytest.fixture(scope="module")
def results():
    found, skipped = vm.check_rows(ROWS)
    assert not skipped
    return {(r["id"], r["pool"]): r for r in found}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["id"][:60])
def test_a_run_that_happened_is_never_impossible(results, row):
    entries = [r for (i, _), r in results.items() if i == row["id"]]
    assert entries
    for r in entries:
        assert r["errors"] == []
        for key in ("ttft_ms", "tpot_ms"):
            if key in r:
                bound, measured, ratio = r[key]
                assert 0 < bound <= measured, (key, bound, measured)


def test_disaggregated_row_is_two_pools(results):
    pools = {pool for (i, pool) in results if i.startswith("dsv3_h200_trtllm_fp8_disagg")}
    assert pools == {"prefill", "decode"}
    prefill = results[(ROWS[-1]["id"], "prefill")]
    decode = results[(ROWS[-1]["id"], "decode")]
    assert "tpot_ms" not in prefill and "ttft_ms" not in decode


def test_concurrency_above_the_kv_cache_is_a_queue_not_out_of_memory(results):
    # 128 sequences of 1,024 + 8,192 tokens of Llama-3.1-70B fp8 KV (163,840 B/token) need far more than the
    # 141 GB of one H200 beside 70.6 GB of weights: the engine admitted fewer and queued the rest (TTFT 369 s).
    r = results[(ROWS[2]["id"], "agg")]
    assert r["admitted_batch"] is not None and 1 < r["admitted_batch"] < 128
    # the decode step of the admitted batch still reads the 70.6 GB of weights: TPOT ≥ 70.6 GB / 4.8 TB/s = 14.7 ms
    assert r["tpot_ms"][0] >= 70.55e9 / 4.8e12 * 1e3


def test_tightest_decode_bound_is_within_a_tenth_of_the_measurement(results):
    # DeepSeek-R1 fp8, tp 8 / moe_ep 8 on 8 H200, 128 sequences: a decode step must read the 671B fp8 weights over
    # eight 4.8 TB/s devices (17.5 ms) plus the MLA cache; measured 23.3 ms
    bound, measured, ratio = results[(ROWS[3]["id"], "agg")]["tpot_ms"]
    assert 0.8 < ratio <= 1


@pytest.mark.parametrize("row, reason", [
    ({"model_path": "moonshotai/Kimi-K2.5", "system": "h200_sxm"}, "no config.json"),
    ({"model_path": "meta-llama/Llama-3.1-70B", "system": "mi355x"}, "not in the accelerator catalog"),
    ({"model_path": "meta-llama/Llama-3.1-70B", "system": "b200_sxm", "gemm_quant_mode": "nvfp4",
      "moe_quant_mode": "nvfp4"}, "no 4-bit dtype"),
])
def test_rows_it_cannot_express_say_why(row, reason):
    with pytest.raises(vm.Unexpressible, match=reason):
        vm.plans_for(row)


# GB200 NVL72 rows of the same file. A DeepSeek-V3 SGLang disaggregated run with DP attention (prefill: 8 attention-DP
# ranks, moe_ep 8, batch 1; decode: the same layout, 512 sequences per rank) is expressed and bounded; a DeepSeek-R1
# SGLang row that records tp 72 (SGLang's --tp world size: 72 does not divide R1's 128 heads, so it is not the
# attention split) is counted as not expressible, with the reason, never linted as if an engine had run that split.
GB200_DISAGG = {"id": "dsr1_gb200_sglang_fp8_disagg_1024x1024_c4096_cfg508", "silicon_data_source": "",
                "backend": "sglang", "model_path": "deepseek-ai/DeepSeek-V3", "system": "gb200", "mode": "disagg",
                "isl": "1024", "osl": "1024", "gemm_quant_mode": "fp8", "moe_quant_mode": "fp8_block",
                "prefill_batch_size": "1", "prefill_num_workers": "1", "prefill_tp_size": "1", "prefill_pp_size": "1",
                "prefill_attention_dp_size": "8", "prefill_moe_tp_size": "1", "prefill_moe_ep_size": "8",
                "decode_batch_size": "512", "decode_num_workers": "1", "decode_tp_size": "1", "decode_pp_size": "1",
                "decode_attention_dp_size": "8", "decode_moe_tp_size": "1", "decode_moe_ep_size": "8",
                "silicon_ttft_ms": "3545.7616911386367", "silicon_tpot_ms": "60.992807434992656"}
GB200_WORLD_TP = dict(zip(_COLUMNS, (
    "2026_04_06_deepseek_r1_gb200_sglang_fp8_agg_1024x1024_c5632_tp72_ep1_43", "silicon_concurrency=5632", "sglang",
    "deepseek-ai/DeepSeek-R1", "gb200", "agg", "1024", "1024", "fp8", "fp8_block", "5632", "72", "1", "1", "72", "1",
    "5990.951336697828", "34.20931166416589")))


def test_gb200_rows():
    found, skipped = vm.check_rows([GB200_DISAGG, GB200_WORLD_TP])
    assert {r["pool"] for r in found} == {"prefill", "decode"} and all(r["id"] == GB200_DISAGG["id"] for r in found)
    for r in found:
        assert r["errors"] == []
        key = "ttft_ms" if r["pool"] == "prefill" else "tpot_ms"
        assert r[key][2] <= 1, r[key]
    assert skipped == {"recorded tp 72 does not divide the 128 attention heads: the layout columns are not the "
                       "engine's attention layout": 1}
