"""Hugging Face config.json -> plan [model] fields, for every supported model_type, and the errors.

These are mappings, not physics: each test asserts that the mapped value is
the config.json field it comes from (tests/data/hf-configs/README.md says
where each public config was found), plus the conventions a family's
modelling code fixes without a config field (Qwen2's q/k/v biases, Qwen3's
per-head QK norm, gpt-oss's biases and sinks, ...).
"""

import json
import os

import pytest

from deploylint.core.plan.hf import SUPPORTED, HFConfigError, map_config, read_config
from deploylint.core.plan import Model

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data", "hf-configs")
MODEL_KEYS = {"layers", "hidden_size", "num_attention_heads", "num_kv_heads", "head_dim", "ffn_hidden_size",
              "ffn_activation", "vocab_size", "tie_embeddings", "attention", "mla", "moe", "qkv_bias",
              "attention_out_bias", "qk_norm", "attention_sinks", "norm", "mtp_layers", "model_type", "max_position_embeddings",
              "dropout"}
MOE_KEYS = {"num_experts", "top_k", "expert_ffn_hidden_size", "shared_experts", "shared_expert_ffn_hidden_size",
            "dense_layers", "layer_frequency", "router_bias", "expert_bias", "shared_expert_gate", "n_group", "topk_group"}


def cfg(name):
    with open(os.path.join(DATA, name), encoding="utf-8") as fh:
        return json.load(fh)


def mapped(name):
    """read_config on the file: the path resolve.py takes."""
    return read_config(os.path.join(DATA, name))


def common(m, c, head_dim=None):
    """The Llama-style fields every family maps one to one."""
    heads = c["num_attention_heads"]
    assert m["layers"] == c["num_hidden_layers"]
    assert m["hidden_size"] == c["hidden_size"]
    assert m["num_attention_heads"] == heads
    assert m["num_kv_heads"] == c.get("num_key_value_heads", heads)
    assert m["head_dim"] == (head_dim or c.get("head_dim") or c["hidden_size"] // heads)
    assert m["ffn_hidden_size"] == c["intermediate_size"]
    assert m["vocab_size"] == c["vocab_size"]
    assert m["tie_embeddings"] == c.get("tie_word_embeddings", False)
    assert m["ffn_activation"] == "swiglu"
    assert m["model_type"] == c["model_type"]
    assert set(m) <= MODEL_KEYS and set(m.get("moe", {})) <= MOE_KEYS


# -- every data file ------------------------------------------------------------------
ALL_FILES = sorted(f for f in os.listdir(DATA) if f.endswith(".json"))


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_public_config_maps_to_a_model(name):
    from deploylint.core.plan.resolve import _model

    m = mapped(name)
    assert m["model_type"] in SUPPORTED and set(m) <= MODEL_KEYS
    model = _model({"from": os.path.join(DATA, name)}, os.path.join(DATA, "plan.toml"), [])
    assert isinstance(model, Model) and model.model_type == m["model_type"] and model.layers == m["layers"]


def test_the_brief_families_all_have_data():
    types = {mapped(n)["model_type"] for n in ALL_FILES}
    assert types == {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3",
                     "olmoe", "dbrx", "gpt_oss"}


# -- dense families ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["llama-3.1-8b.json", "llama-3.1-70b.json"])
def test_llama(name):
    c, m = cfg(name), mapped(name)
    common(m, c)
    assert m["head_dim"] == 128 and "moe" not in m and "mla" not in m
    assert m["qkv_bias"] is m["attention_out_bias"] is c["attention_bias"] is False


def test_llama_attention_bias_covers_q_k_v_and_o():
    m = map_config({**cfg("llama-3.1-8b.json"), "attention_bias": True})
    assert m["qkv_bias"] is True and m["attention_out_bias"] is True


def test_mistral_7b():
    c, m = cfg("mistral-7b.json"), mapped("mistral-7b.json")
    common(m, c, head_dim=128)           # the source lists head_dim 128 = 4096 / 32
    assert (m["num_kv_heads"], m["qkv_bias"], m["attention_out_bias"]) == (8, False, False)


def test_qwen2_has_qkv_bias_but_no_output_bias():
    c, m = cfg("qwen2.5-7b.json"), mapped("qwen2.5-7b.json")
    common(m, c)
    assert m["head_dim"] == 128 and m["num_kv_heads"] == 4
    assert m["qkv_bias"] is True and m["attention_out_bias"] is False     # hard-coded in Qwen2Attention
    assert map_config({**c, "attention_bias": False})["qkv_bias"] is True  # the config field does not switch it off


def test_qwen3_dense_per_head_qk_norm():
    c = {"model_type": "qwen3", "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
         "head_dim": 128, "num_hidden_layers": 36, "intermediate_size": 12288, "vocab_size": 151936}  # verl's Qwen3-8B
    m = map_config(c)
    common(m, c)
    assert m["qk_norm"] == "head" and m["qkv_bias"] is False and "moe" not in m
    assert map_config({**c, "attention_bias": True})["attention_out_bias"] is True


# -- MoE families -------------------------------------------------------------------------
def test_mixtral_experts_use_intermediate_size():
    c, m = cfg("mixtral-8x7b.json"), mapped("mixtral-8x7b.json")
    common(m, c)
    assert m["moe"] == {"num_experts": c["num_local_experts"], "top_k": c["num_experts_per_tok"],
                        "expert_ffn_hidden_size": c["intermediate_size"]}


def test_qwen3_moe():
    c, m = cfg("qwen3-30b-a3b.json"), mapped("qwen3-30b-a3b.json")
    common(m, c)
    assert m["head_dim"] == c["head_dim"] == 128 != c["hidden_size"] // c["num_attention_heads"]   # 2048/32 = 64
    assert m["qk_norm"] == "head" and m["qkv_bias"] is False
    assert m["moe"] == {"num_experts": c["num_experts"], "top_k": c["num_experts_per_tok"],
                        "expert_ffn_hidden_size": c["moe_intermediate_size"], "dense_layers": 0, "layer_frequency": 1}


def test_qwen2_moe_shared_expert_and_gate():
    c, m = cfg("qwen1.5-moe-a2.7b.json"), mapped("qwen1.5-moe-a2.7b.json")
    common(m, c)
    assert m["qkv_bias"] is True and m["attention_out_bias"] is False
    assert m["moe"] == {"num_experts": c["num_experts"], "top_k": c["num_experts_per_tok"],
                        "expert_ffn_hidden_size": c["moe_intermediate_size"], "shared_experts": 1,
                        "shared_expert_ffn_hidden_size": c["shared_expert_intermediate_size"],
                        "shared_expert_gate": True, "dense_layers": 0, "layer_frequency": 1}
    plain = map_config({k: v for k, v in c.items() if k != "shared_expert_intermediate_size"})["moe"]
    assert (plain["shared_experts"], plain["shared_expert_ffn_hidden_size"], plain["shared_expert_gate"]) == (0, 0, False)


@pytest.mark.parametrize("step, mlp_only, expected", [
    (1, [], (0, 1)),
    (1, [0, 1, 2], (3, 1)),           # a dense prefix is moe.dense_layers
    (2, [], (0, 2)),                  # (i + 1) % 2 == 0: layers 1, 3, 5, ... = every 2nd layer
    (2, [1], (2, 2)),                 # layers 3, 5, 7, ...: two dense, then every 2nd
    (3, [], (0, 3)),
])
def test_qwen_moe_layer_selection(step, mlp_only, expected):
    c = {**cfg("qwen3-30b-a3b.json"), "decoder_sparse_step": step, "mlp_only_layers": mlp_only}
    moe = map_config(c)["moe"]
    assert (moe["dense_layers"], moe["layer_frequency"]) == expected
    # the plan's rule picks exactly the layers Qwen's modelling code makes MoE
    from deploylint.core.plan import MoE
    rule = MoE(1, 1, 1, dense_layers=expected[0], layer_frequency=expected[1])
    layers = c["num_hidden_layers"]
    assert [rule.is_moe_layer(i) for i in range(layers)] == [
        i not in mlp_only and (i + 1) % step == 0 for i in range(layers)]


def test_qwen_moe_layers_the_plan_cannot_express_are_an_error():
    with pytest.raises(HFConfigError, match=r"makes layers \[0, 1, 2, 3, 4, 6, .*mlp_only_layers.*inline"):
        map_config({**cfg("qwen3-30b-a3b.json"), "mlp_only_layers": [5]})


def test_qwen_moe_with_no_experts_is_dense():
    m = map_config({**cfg("qwen1.5-moe-a2.7b.json"), "num_experts": 0})
    assert "moe" not in m and m["ffn_hidden_size"] == 5632
    assert "moe" not in map_config({**cfg("qwen3-30b-a3b.json"), "mlp_only_layers": list(range(48))})


def test_deepseek_v3_mla_dense_layers_router_bias_and_mtp():
    c, m = cfg("deepseek-v3.json"), mapped("deepseek-v3.json")
    common(m, c, head_dim=c["qk_nope_head_dim"] + c["qk_rope_head_dim"])
    assert m["attention"] == "mla"
    assert m["mla"] == {k: c[k] for k in ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                                          "v_head_dim")}
    assert m["moe"] == {"num_experts": c["n_routed_experts"], "top_k": c["num_experts_per_tok"],
                        "expert_ffn_hidden_size": c["moe_intermediate_size"], "shared_experts": c["n_shared_experts"],
                        "shared_expert_ffn_hidden_size": c["n_shared_experts"] * c["moe_intermediate_size"],
                        "dense_layers": c["first_k_dense_replace"], "layer_frequency": c["moe_layer_freq"],
                        "router_bias": True,          # e_score_correction_bias (topk_method "noaux_tc")
                        "n_group": 8, "topk_group": 4}  # node-limited routing (DeepSeek-V3 §2.1.2)
    assert m["mtp_layers"] == c["num_nextn_predict_layers"] == 1


def test_deepseek_v2_lite_has_no_query_compression_and_no_router_bias():
    c, m = cfg("deepseek-v2-lite.json"), mapped("deepseek-v2-lite.json")
    common(m, c, head_dim=192)
    assert c["q_lora_rank"] is None and m["mla"]["q_lora_rank"] == 0
    assert m["moe"]["router_bias"] is False and m["moe"]["shared_experts"] == 2
    assert m["moe"]["shared_expert_ffn_hidden_size"] == 2 * 1408 and m["moe"]["dense_layers"] == 1
    assert m.get("mtp_layers", 0) == 0


def test_deepseek_v3_router_bias_follows_topk_method():
    c = cfg("deepseek-v3.json")
    assert map_config({k: v for k, v in c.items() if k != "topk_method"})["moe"]["router_bias"] is True  # V3 default
    assert map_config({**c, "topk_method": "greedy"})["moe"]["router_bias"] is False


def test_deepseek_moe_layer_freq():
    # DeepseekV2/V3 modelling: MoE iff i >= first_k_dense_replace and i % moe_layer_freq == 0
    moe = map_config({**cfg("deepseek-v2-lite.json"), "moe_layer_freq": 2})["moe"]
    assert (moe["dense_layers"], moe["layer_frequency"]) == (1, 2)      # layers 2, 4, 6, ...
    assert "moe" not in map_config({**cfg("deepseek-v2-lite.json"), "n_routed_experts": None})


def test_olmoe_full_qk_norm():
    c, m = cfg("olmoe-1b-7b.json"), mapped("olmoe-1b-7b.json")
    common(m, c)
    assert m["qk_norm"] == "full" and m["qkv_bias"] is False
    assert m["moe"] == {"num_experts": c["num_experts"], "top_k": c["num_experts_per_tok"],
                        "expert_ffn_hidden_size": c["intermediate_size"]}


def test_dbrx_nested_fields():
    c, m = cfg("dbrx.json"), mapped("dbrx.json")
    ffn, attn = c["ffn_config"], c["attn_config"]
    assert (m["layers"], m["hidden_size"], m["num_attention_heads"], m["vocab_size"]) == (
        c["n_layers"], c["d_model"], c["n_heads"], c["vocab_size"])
    assert m["num_kv_heads"] == attn["kv_n_heads"] and m["head_dim"] == c["d_model"] // c["n_heads"] == 128
    assert m["moe"] == {"num_experts": ffn["moe_num_experts"], "top_k": ffn["moe_top_k"],
                        "expert_ffn_hidden_size": ffn["ffn_hidden_size"]}
    assert m["norm"] == "rmsnorm"        # LayerNorm without bias: one weight vector, as rmsnorm counts
    assert m["tie_embeddings"] is False and m["ffn_activation"] == "swiglu"
    # DbrxAttentionConfig's default is multi-query (kv_n_heads 1), not n_heads
    assert map_config({**c, "attn_config": {}})["num_kv_heads"] == 1


@pytest.mark.parametrize("name", ["gpt-oss-20b.json", "gpt-oss-120b.json"])
def test_gpt_oss_biases_and_sinks(name):
    c, m = cfg(name), mapped(name)
    common(m, c)
    assert m["head_dim"] == 64 and m["attention_sinks"] is True
    assert m["qkv_bias"] is True and m["attention_out_bias"] is True
    assert m["moe"] == {"num_experts": c["num_local_experts"], "top_k": c["num_experts_per_tok"],
                        "expert_ffn_hidden_size": c["intermediate_size"], "router_bias": True, "expert_bias": True}


def test_gpt_oss_top_k_from_experts_per_token():
    c = {k: v for k, v in cfg("gpt-oss-20b.json").items() if k != "num_experts_per_tok"}
    assert c["experts_per_token"] == 4 and map_config(c)["moe"]["top_k"] == 4


def test_every_supported_type_maps_a_minimal_config():
    base = {"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 128, "vocab_size": 100,
            "num_local_experts": 4, "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
            "kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8, "n_routed_experts": 4,
            "d_model": 64, "n_heads": 4, "n_layers": 2, "ffn_config": {"ffn_hidden_size": 128, "moe_num_experts": 4, "moe_top_k": 2}}
    for t in SUPPORTED:
        m = map_config({**base, "model_type": t})
        assert m["layers"] == 2 and m["model_type"] == t and m["head_dim"] == 16


def test_head_dim_defaults_to_hidden_over_heads():
    m = map_config({**cfg("llama-3.1-8b.json"), "head_dim": None})
    assert m["head_dim"] == 4096 // 32


# -- errors -------------------------------------------------------------------------------
def test_missing_file_and_directory(tmp_path):
    with pytest.raises(HFConfigError, match="no such file: .*missing.json"):
        read_config(str(tmp_path / "missing.json"))
    with pytest.raises(HFConfigError, match="is a folder, not a config.json file"):
        read_config(str(tmp_path))


def test_garbled_json_names_line_and_column(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "model_type": "llama",\n  "hidden_size": ,\n}')
    with pytest.raises(HFConfigError, match=r"bad.json is not valid JSON \(line 3, column 18: expected a value\)"):
        read_config(str(bad))
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(HFConfigError, match=r"line 1, column 1"):
        read_config(str(empty))


def test_not_utf8_and_not_an_object(tmp_path):
    binary = tmp_path / "config.json"
    binary.write_bytes(b'{"model_type": "llama\xff"}')
    with pytest.raises(HFConfigError, match="not UTF-8 text"):
        read_config(str(binary))
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(HFConfigError, match="holds a JSON array, not a config object"):
        read_config(str(listing))


def test_bom_is_accepted(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes("\ufeff".encode() + (open(os.path.join(DATA, "llama-3.1-8b.json"), "rb").read()))
    assert read_config(str(path))["layers"] == 32


def test_unsupported_or_missing_model_type_lists_the_supported_ones():
    with pytest.raises(HFConfigError, match=r"model_type 'bert' is not supported \(supported: llama, mistral, .*gpt_oss\)"):
        map_config({"model_type": "bert"})
    with pytest.raises(HFConfigError, match=r"has no model_type \(supported: llama"):
        map_config({"hidden_size": 8})


def test_missing_and_malformed_fields_name_the_key():
    with pytest.raises(HFConfigError, match="the llama config has no 'num_hidden_layers'"):
        map_config({"model_type": "llama", "hidden_size": 8, "num_attention_heads": 2})
    with pytest.raises(HFConfigError, match="the llama config's 'hidden_size' is '4096'; expected a whole number"):
        map_config({**cfg("llama-3.1-8b.json"), "hidden_size": "4096"})
    with pytest.raises(HFConfigError, match="'num_hidden_layers' is 0; expected at least 1"):
        map_config({**cfg("llama-3.1-8b.json"), "num_hidden_layers": 0})
    with pytest.raises(HFConfigError, match="'tie_word_embeddings' is 'no'; expected true or false"):
        map_config({**cfg("llama-3.1-8b.json"), "tie_word_embeddings": "no"})
    with pytest.raises(HFConfigError, match=r"the dbrx config's 'ffn_config' is \[\]; expected an object"):
        map_config({**cfg("dbrx.json"), "ffn_config": []})
    with pytest.raises(HFConfigError, match=r"the dbrx config has no 'ffn_config.moe_top_k'"):
        map_config({**cfg("dbrx.json"), "ffn_config": {"ffn_hidden_size": 10752, "moe_num_experts": 16}})
    with pytest.raises(HFConfigError, match="'mlp_only_layers' is 'none'; expected a list of layer indices"):
        map_config({**cfg("qwen3-30b-a3b.json"), "mlp_only_layers": "none"})
    assert map_config({**cfg("llama-3.1-8b.json"), "hidden_size": 4096.0})["hidden_size"] == 4096


def test_what_the_fields_cannot_express_is_an_error_not_a_guess():
    with pytest.raises(HFConfigError, match="mlp_bias = true"):
        map_config({**cfg("llama-3.1-8b.json"), "mlp_bias": True})
    with pytest.raises(HFConfigError, match="no 'head_dim' and hidden_size 100 is not a multiple"):
        map_config({**cfg("llama-3.1-8b.json"), "hidden_size": 100})


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


def test_max_position_embeddings_is_mapped_when_the_config_states_it():
    # Llama-3.1's published config: 131072 positions (the 128K context of the model card)
    assert mapped("llama-3.1-8b.json")["max_position_embeddings"] == 131072
    assert "max_position_embeddings" not in mapped("qwen2.5-7b.json")     # this file leaves it out


def test_dropout_follows_the_config():
    # every family here trains without dropout unless attention_dropout says otherwise (HF default 0.0)
    assert mapped("llama-3.1-8b.json")["dropout"] is False
    assert map_config({**cfg("llama-3.1-8b.json"), "attention_dropout": 0.1})["dropout"] is True


@pytest.mark.parametrize("typed, first", [("h100", "h100-sxm"), ("H100", "h100-sxm"), ("a100", "a100-80gb"),
                                          ("mi300", "mi300x")])
def test_an_accelerator_named_by_its_family_suggests_that_family_first(deploylint, typed, first):
    # "h100" is both H100 SXM and H100 PCIe, which differ in memory bandwidth (3.35 vs 2.0 TB/s), so it is not
    # guessed; but the suggestions lead with the family the user named, not with h200, spelled one letter apart
    plan = {"schema_version": 1, "model": {"layers": 2, "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 100},
            "hardware": {"accelerator": typed, "num_devices": 8}, "parallelism": {},
            "workload": {"mode": "inference", "batch_size": 8, "seq_len": 128}}
    d = deploylint.lint(plan).one("DL004")
    assert d.data["suggestions"][0] == first and f"did you mean {first!r}" in d.message
