"""Hugging Face config.json → plan [model] fields, for every supported model_type, and the errors."""

import json
import os

import pytest

from deploylint.core.hf import SUPPORTED, HFConfigError, map_config, read_config

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "hf-configs")


def cfg(name):
    return json.load(open(os.path.join(DATA, name)))


def test_llama_fields():
    c = cfg("llama-3.1-70b.json")
    m = map_config(c)
    assert (m["layers"], m["hidden_size"], m["num_attention_heads"], m["num_kv_heads"], m["ffn_hidden_size"], m["vocab_size"]) == (
        c["num_hidden_layers"], c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["intermediate_size"],
        c["vocab_size"])
    assert m["head_dim"] == c["hidden_size"] // c["num_attention_heads"] and "moe" not in m


def test_mixtral_experts_use_intermediate_size():
    c = cfg("mixtral-8x7b.json")
    moe = map_config(c)["moe"]
    assert moe == {"num_experts": c["num_local_experts"], "top_k": c["num_experts_per_tok"],
                   "expert_ffn_hidden_size": c["intermediate_size"]}


def test_qwen3_moe_head_dim_and_qk_norm():
    c = cfg("qwen3-30b-a3b.json")
    m = map_config(c)
    assert m["head_dim"] == 128 != c["hidden_size"] // c["num_attention_heads"]    # 2048/32 = 64
    assert m["qk_norm"] == "head" and m["moe"]["expert_ffn_hidden_size"] == c["moe_intermediate_size"]


def test_qwen2_moe_shared_expert_and_gate():
    m = map_config(cfg("qwen1.5-moe-a2.7b.json"))
    assert m["qkv_bias"] is True
    assert m["moe"]["shared_expert_ffn_hidden_size"] == 5632 and m["moe"]["shared_expert_gate"] is True


def test_deepseek_mla_dense_layers_and_mtp():
    m = map_config(cfg("deepseek-v3.json"))
    assert m["attention"] == "mla" and m["mla"] == {"q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
                                                    "qk_rope_head_dim": 64, "v_head_dim": 128}
    assert m["moe"]["dense_layers"] == 3 and m["moe"]["shared_experts"] == 1 and m["moe"]["router_bias"] is True
    assert m["mtp_layers"] == 1
    lite = map_config(cfg("deepseek-v2-lite.json"))
    assert lite["mla"]["q_lora_rank"] == 0 and lite["moe"]["router_bias"] is False and lite.get("mtp_layers", 0) == 0


def test_olmoe_dbrx_gpt_oss():
    assert map_config(cfg("olmoe-1b-7b.json"))["qk_norm"] == "full"
    d = map_config(cfg("dbrx.json"))
    assert (d["hidden_size"], d["layers"], d["num_kv_heads"], d["moe"]["num_experts"], d["moe"]["top_k"]) == (6144, 40, 8, 16, 4)
    g = map_config(cfg("gpt-oss-120b.json"))
    assert g["attention_sinks"] and g["qkv_bias"] and g["moe"]["router_bias"] and g["moe"]["expert_bias"]
    assert g["head_dim"] == 64


def test_every_supported_type_maps():
    base = {"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 128, "vocab_size": 100,
            "num_local_experts": 4, "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
            "kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8, "n_routed_experts": 4,
            "d_model": 64, "n_heads": 4, "n_layers": 2, "ffn_config": {"ffn_hidden_size": 128, "moe_num_experts": 4, "moe_top_k": 2}}
    for t in SUPPORTED:
        m = map_config({**base, "model_type": t})
        assert m["layers"] == 2 and m["model_type"] == t


def test_errors_are_clear(tmp_path):
    with pytest.raises(HFConfigError, match="no such file"):
        read_config(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "model_type": "llama",\n  "hidden_size": ,\n}')
    with pytest.raises(HFConfigError, match=r"line 3, column 18"):
        read_config(str(bad))
    with pytest.raises(HFConfigError, match="model_type 'bert' is not supported"):
        map_config({"model_type": "bert"})
    with pytest.raises(HFConfigError, match="has no 'num_hidden_layers'"):
        map_config({"model_type": "llama", "hidden_size": 8, "num_attention_heads": 2})


def test_unresolved_config_is_dl004_at_the_from_key(deploylint):
    plan = {"schema_version": 1, "model": {"from": "nowhere/config.json"},
            "hardware": {"accelerator": "h100-sxm", "num_devices": 8}, "parallelism": {"tp": 8},
            "workload": {"mode": "inference", "batch_size": 8, "seq_len": 128}}
    result = deploylint.lint(plan)
    d = result.one("DL004")
    assert d.path == "/model/from" and "no such file" in d.message
    line = result.text.splitlines().index('from = "nowhere/config.json"') + 1
    assert (d.range.start.line, d.range.start.column) == (line, 8)      # on the value


def test_unknown_accelerator_is_dl004_with_did_you_mean(deploylint):
    plan = {"schema_version": 1, "model": {"layers": 2, "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 100},
            "hardware": {"accelerator": "h100sxm", "num_devices": 8}, "parallelism": {},
            "workload": {"mode": "inference", "batch_size": 8, "seq_len": 128}}
    result = deploylint.lint(plan)
    d = result.one("DL004")
    assert "did you mean 'h100-sxm'" in d.message and d.data["suggestions"][0] == "h100-sxm"
    fixed = deploylint.lint(result.apply_fixes(unsafe=True))
    assert "DL004" not in fixed.codes and fixed.plan.hardware.accelerator == "h100-sxm"
