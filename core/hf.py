"""``[model] from = "config.json"``: a Hugging Face model config mapped onto plan fields.

Each supported ``model_type`` is mapped field by field to the keys of
``[model]`` (PLAN_FORMAT.md), including the architecture details that change
the parameter count: attention biases (Qwen2, gpt-oss), QK norms (per head in
Qwen3, over all heads in OLMoE), attention sinks (gpt-oss), shared experts and
their gate (Qwen2-MoE, DeepSeek), dense first layers (DeepSeek), router and
expert biases (gpt-oss), MLA ranks (DeepSeek-V2/V3) and multi-token-prediction
modules (DeepSeek-V3, counted apart from the headline total, as DeepSeek does).
Inline ``[model]`` keys override what the file gives.
"""

from __future__ import annotations

import json
from typing import Any, Callable

SUPPORTED = ("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "deepseek_v2", "deepseek_v3",
             "olmoe", "dbrx", "gpt_oss")


class HFConfigError(Exception):
    """A config.json that cannot be read or mapped (missing, not JSON, unsupported model_type, missing fields)."""


def read_config(path: str) -> dict[str, Any]:
    """Read ``path`` and map it to plan ``[model]`` fields."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise HFConfigError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HFConfigError(f"cannot read {path}: {exc}") from None
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HFConfigError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(cfg, dict):
        raise HFConfigError(f"{path} holds a JSON {type(cfg).__name__}, not a config object")
    return map_config(cfg)


def map_config(cfg: dict[str, Any]) -> dict[str, Any]:
    model_type = cfg.get("model_type")
    if model_type not in _MAPPERS:
        raise HFConfigError(f"model_type {model_type!r} is not supported (supported: {', '.join(SUPPORTED)}); "
                            "write the [model] fields inline instead")
    try:
        out = _MAPPERS[model_type](cfg)
    except KeyError as exc:
        raise HFConfigError(f"the {model_type} config has no {exc.args[0]!r}, which the mapping needs") from None
    except (TypeError, ValueError) as exc:
        raise HFConfigError(f"the {model_type} config has a malformed field: {exc}") from None
    out["model_type"] = model_type
    return {k: v for k, v in out.items() if v is not None}


def _base(cfg: dict[str, Any]) -> dict[str, Any]:
    """The fields shared by the Llama family of configs."""
    h = int(cfg["hidden_size"])
    heads = int(cfg["num_attention_heads"])
    return {
        "layers": int(cfg["num_hidden_layers"]),
        "hidden_size": h,
        "num_attention_heads": heads,
        "num_kv_heads": int(cfg.get("num_key_value_heads") or heads),
        "head_dim": int(cfg.get("head_dim") or h // heads),
        "ffn_hidden_size": int(cfg["intermediate_size"]),
        "ffn_activation": "swiglu",
        "vocab_size": int(cfg["vocab_size"]),
        "tie_embeddings": bool(cfg.get("tie_word_embeddings", False)),
    }


def _llama(cfg):
    out = _base(cfg)
    out["qkv_bias"] = bool(cfg.get("attention_bias", False))
    out["attention_out_bias"] = bool(cfg.get("attention_bias", False))
    return out


def _mixtral(cfg):
    out = _base(cfg)
    out["moe"] = {"num_experts": int(cfg["num_local_experts"]), "top_k": int(cfg["num_experts_per_tok"]),
                  "expert_ffn_hidden_size": int(cfg["intermediate_size"])}
    return out


def _qwen2(cfg):
    out = _base(cfg)
    out["qkv_bias"] = True          # Qwen2 attention has q, k, v biases (hard-coded in modeling_qwen2.py)
    return out


def _qwen_moe_layers(cfg, out):
    step = int(cfg.get("decoder_sparse_step") or 1)
    if cfg.get("mlp_only_layers"):
        raise HFConfigError("mlp_only_layers is not supported yet: give moe.dense_layers inline instead")
    out["moe"]["layer_frequency"] = step


def _qwen2_moe(cfg):
    out = _base(cfg)
    out["qkv_bias"] = True
    shared = int(cfg.get("shared_expert_intermediate_size") or 0)
    out["moe"] = {"num_experts": int(cfg["num_experts"]), "top_k": int(cfg["num_experts_per_tok"]),
                  "expert_ffn_hidden_size": int(cfg["moe_intermediate_size"]),
                  "shared_experts": 1 if shared else 0, "shared_expert_ffn_hidden_size": shared,
                  "shared_expert_gate": bool(shared)}
    _qwen_moe_layers(cfg, out)
    return out


def _qwen3(cfg):
    out = _base(cfg)
    out["qkv_bias"] = bool(cfg.get("attention_bias", False))
    out["qk_norm"] = "head"         # Qwen3 normalizes q and k per head (q_norm, k_norm of head_dim)
    return out


def _qwen3_moe(cfg):
    out = _qwen3(cfg)
    out["moe"] = {"num_experts": int(cfg["num_experts"]), "top_k": int(cfg["num_experts_per_tok"]),
                  "expert_ffn_hidden_size": int(cfg["moe_intermediate_size"])}
    _qwen_moe_layers(cfg, out)
    return out


def _deepseek(cfg):
    out = _base(cfg)
    out["num_kv_heads"] = out["num_attention_heads"]
    out["attention"] = "mla"
    out["mla"] = {"q_lora_rank": int(cfg.get("q_lora_rank") or 0), "kv_lora_rank": int(cfg["kv_lora_rank"]),
                  "qk_nope_head_dim": int(cfg["qk_nope_head_dim"]), "qk_rope_head_dim": int(cfg["qk_rope_head_dim"]),
                  "v_head_dim": int(cfg["v_head_dim"])}
    out["head_dim"] = int(cfg["qk_nope_head_dim"]) + int(cfg["qk_rope_head_dim"])
    if cfg.get("n_routed_experts"):
        shared = int(cfg.get("n_shared_experts") or 0)
        width = int(cfg["moe_intermediate_size"])
        out["moe"] = {"num_experts": int(cfg["n_routed_experts"]), "top_k": int(cfg["num_experts_per_tok"]),
                      "expert_ffn_hidden_size": width, "shared_experts": shared,
                      "shared_expert_ffn_hidden_size": shared * width,
                      "dense_layers": int(cfg.get("first_k_dense_replace") or 0),
                      "layer_frequency": int(cfg.get("moe_layer_freq") or 1),
                      # DeepSeek-V3's router keeps a per-expert score-correction bias (e_score_correction_bias)
                      "router_bias": cfg.get("topk_method") == "noaux_tc"}
    out["mtp_layers"] = int(cfg.get("num_nextn_predict_layers") or 0)
    return out


def _olmoe(cfg):
    out = _base(cfg)
    out["qk_norm"] = "full"         # OLMoE normalizes q and k over all heads (q_norm of n_h·d, k_norm of n_kv·d)
    out["moe"] = {"num_experts": int(cfg["num_experts"]), "top_k": int(cfg["num_experts_per_tok"]),
                  "expert_ffn_hidden_size": int(cfg["intermediate_size"])}
    return out


def _dbrx(cfg):
    attn = cfg.get("attn_config") or {}
    ffn = cfg.get("ffn_config") or {}
    h = int(cfg["d_model"])
    heads = int(cfg["n_heads"])
    width = int(ffn["ffn_hidden_size"])
    return {
        "layers": int(cfg["n_layers"]), "hidden_size": h, "num_attention_heads": heads,
        "num_kv_heads": int(attn.get("kv_n_heads") or heads), "head_dim": h // heads,
        "ffn_hidden_size": width, "ffn_activation": "swiglu", "vocab_size": int(cfg["vocab_size"]),
        "tie_embeddings": bool(cfg.get("tie_word_embeddings", False)),
        # DBRX's LayerNorms have no bias: one weight vector each, as an RMSNorm counts
        "norm": "rmsnorm",
        "moe": {"num_experts": int(ffn["moe_num_experts"]), "top_k": int(ffn["moe_top_k"]),
                "expert_ffn_hidden_size": width},
    }


def _gpt_oss(cfg):
    out = _base(cfg)
    bias = bool(cfg.get("attention_bias", True))
    out["qkv_bias"] = bias
    out["attention_out_bias"] = bias
    out["attention_sinks"] = True
    top_k = cfg.get("num_experts_per_tok") or cfg.get("experts_per_token")
    out["moe"] = {"num_experts": int(cfg["num_local_experts"]), "top_k": int(top_k),
                  "expert_ffn_hidden_size": int(cfg["intermediate_size"]), "router_bias": True, "expert_bias": True}
    return out


_MAPPERS: dict[str, Callable[[dict], dict]] = {
    "llama": _llama, "mistral": _llama, "mixtral": _mixtral, "qwen2": _qwen2, "qwen2_moe": _qwen2_moe,
    "qwen3": _qwen3, "qwen3_moe": _qwen3_moe, "deepseek_v2": _deepseek, "deepseek_v3": _deepseek,
    "olmoe": _olmoe, "dbrx": _dbrx, "gpt_oss": _gpt_oss,
}
