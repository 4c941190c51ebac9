"""``[model] from = "config.json"``: a Hugging Face model config mapped onto plan fields.

Each supported ``model_type`` is mapped field by field to the keys of
``[model]`` (PLAN_FORMAT.md and :class:`~deploylint.core.plan.Model`),
including the architecture details that change the parameter count and that a
config.json states only implicitly, through the family's modelling code:

==============  ===========================================================
family          conventions the mapping encodes
==============  ===========================================================
llama, mistral  ``attention_bias`` puts a bias on q, k, v *and* o
mixtral         every layer MoE; experts are ``intermediate_size`` wide
qwen2           q, k, v biases always (hard-coded), none on o
qwen2_moe       as qwen2, plus one shared expert of
                ``shared_expert_intermediate_size`` behind a sigmoid gate
                (a ``h``-wide linear); ``decoder_sparse_step`` and
                ``mlp_only_layers`` choose the MoE layers
qwen3(_moe)     per-head RMSNorm of q and k (``qk_norm = "head"``)
deepseek_v2/v3  MLA ranks (``q_lora_rank`` null = no query compression),
                ``n_shared_experts`` of ``moe_intermediate_size`` each,
                ``first_k_dense_replace`` and ``moe_layer_freq``, V3's
                per-expert score-correction bias, MTP modules
olmoe           RMSNorm of q and k over all heads (``qk_norm = "full"``)
dbrx            fields nested in ``attn_config`` / ``ffn_config``; GLU experts
gpt_oss         biases on q, k, v, o, router and experts; attention sinks
==============  ===========================================================

Inline ``[model]`` keys override what the file gives (see resolve.py), so a
config this module cannot express exactly is an error that says which key to
write inline — never a silent approximation.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

from . import MoE
from ..document.sources import read_regular_file

SUPPORTED = ("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "deepseek_v2", "deepseek_v3",
             "olmoe", "dbrx", "gpt_oss")

_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean",
               type(None): "null"}


class HFConfigError(Exception):
    """A config.json that cannot be read or mapped (missing, not JSON, unsupported model_type, bad fields)."""


#: a model's config.json is a few kilobytes; anything larger than this is not one
MAX_CONFIG_BYTES = 4 << 20


# -- reading --------------------------------------------------------------------
def read_config(path: str) -> dict[str, Any]:
    """Read the config.json at ``path`` and map it to plan ``[model]`` fields (see :func:`map_config`)."""
    raw = read_regular_file(path, MAX_CONFIG_BYTES, HFConfigError, what="a config.json file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HFConfigError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        from ..document import LineIndex
        from ..document.sources.json_source import first_error

        offset, reason = first_error(text) or (exc.pos, "the text is not valid JSON here")
        where = LineIndex(text).position(offset)
        raise HFConfigError(f"{path} is not valid JSON (line {where.line}, column {where.column}: {reason})") from None
    except RecursionError:
        raise HFConfigError(f"{path} is nested too deeply to be a model config") from None
    if not isinstance(cfg, dict):
        raise HFConfigError(f"{path} holds a JSON {_JSON_TYPES.get(type(cfg), type(cfg).__name__)}, "
                            "not a config object ({...})")
    return map_config(cfg)


def map_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """Plan ``[model]`` fields (nested ``moe`` / ``mla`` dicts) for a parsed config.json.

    Keys absent from the result take the plan defaults. Raises
    :class:`HFConfigError` naming the offending key when the config is
    unsupported, lacks a field the mapping needs, or holds a value of the
    wrong kind.
    """
    model_type = cfg.get("model_type")
    if model_type is None:
        raise HFConfigError(f"the config has no model_type (supported: {', '.join(SUPPORTED)}); "
                            "write the [model] fields inline instead")
    if model_type not in _MAPPERS:
        raise HFConfigError(f"model_type {model_type!r} is not supported (supported: {', '.join(SUPPORTED)}); "
                            "write the [model] fields inline instead")
    out = _MAPPERS[model_type](_Fields(cfg, str(model_type)))
    out["model_type"] = model_type
    return {k: v for k, v in out.items() if v is not None}


# -- typed access with messages that name the key ---------------------------------
_MISSING = object()


class _Fields:
    """Typed reads from one config object; every failure names the key and the model_type."""

    def __init__(self, cfg: dict[str, Any], model_type: str, prefix: str = ""):
        self.cfg, self.model_type, self.prefix = cfg, model_type, prefix

    def _name(self, key: str) -> str:
        return repr(self.prefix + key)          # 'ffn_config.moe_top_k' for nested keys

    def _where(self, key: str) -> str:
        return f"the {self.model_type} config's {self._name(key)}"

    def has(self, key: str) -> bool:
        return self.cfg.get(key) is not None

    def int(self, key: str, default: Any = _MISSING, *, minimum: int = 1) -> int:
        value = self.cfg.get(key)
        if value is None:
            if default is _MISSING:
                raise HFConfigError(f"the {self.model_type} config has no {self._name(key)}, which the mapping needs")
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise HFConfigError(f"{self._where(key)} is {value!r}; expected a whole number")
        if value < minimum:
            raise HFConfigError(f"{self._where(key)} is {value}; expected at least {minimum}")
        return value

    def bool(self, key: str, default: bool) -> bool:
        value = self.cfg.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise HFConfigError(f"{self._where(key)} is {value!r}; expected true or false")
        return value

    def int_list(self, key: str) -> list[int]:
        value = self.cfg.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise HFConfigError(f"{self._where(key)} is {value!r}; expected a list of layer indices")
        return value

    def sub(self, key: str) -> "_Fields":
        value = self.cfg.get(key)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise HFConfigError(f"{self._where(key)} is {value!r}; expected an object")
        return _Fields(value, self.model_type, f"{self.prefix}{key}.")


# -- shared pieces ---------------------------------------------------------------
def _base(f: _Fields) -> dict[str, Any]:
    """The fields every Llama-style config names the same way."""
    h = f.int("hidden_size")
    heads = f.int("num_attention_heads")
    if not f.has("head_dim") and h % heads:
        raise HFConfigError(f"the {f.model_type} config has no 'head_dim' and hidden_size {h} is not a multiple of "
                            f"num_attention_heads {heads}; give model.head_dim inline")
    return {
        "layers": f.int("num_hidden_layers"),
        "hidden_size": h,
        "num_attention_heads": heads,
        "num_kv_heads": f.int("num_key_value_heads", heads),
        "head_dim": f.int("head_dim", h // heads),
        "ffn_hidden_size": f.int("intermediate_size"),
        "ffn_activation": "swiglu",        # every family here has a gated MLP (gate, up, down)
        "vocab_size": f.int("vocab_size"),
        "tie_embeddings": f.bool("tie_word_embeddings", False),
        "max_position_embeddings": f.int("max_position_embeddings", None),
        # no dropout masks to keep when the config trains without dropout (attention_dropout 0.0, the HF default of
        # every family here; none of them has dropout on the hidden states)
        "dropout": _dropout(f),
    }


def _dropout(f: _Fields) -> bool:
    value = f.cfg.get("attention_dropout", 0.0)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _no_mlp_bias(f: _Fields) -> None:
    if f.bool("mlp_bias", False):
        raise HFConfigError(f"the {f.model_type} config sets mlp_bias = true, which the [model] fields cannot express; "
                            "write the [model] fields inline (the MLP biases are a few parameters per layer)")


def _moe_layout(f: _Fields, layers: int, is_moe: Callable[[int], bool], how: str) -> tuple[int, int] | None:
    """``(dense_layers, layer_frequency)`` reproducing the family's choice of MoE layers exactly.

    Returns None when no layer is MoE. A plan expresses "the first k layers
    dense, then every n-th layer MoE" (:meth:`MoE.is_moe_layer`); any other
    choice is an error rather than a guess.
    """
    wanted = [is_moe(i) for i in range(layers)]
    if not any(wanted):
        return None
    first = wanted.index(True)
    for freq in range(1, layers + 1):
        dense = first - freq + 1
        if dense < 0:
            break
        probe = MoE(num_experts=1, top_k=1, expert_ffn_hidden_size=1, dense_layers=dense, layer_frequency=freq)
        if all(probe.is_moe_layer(i) == w for i, w in enumerate(wanted)):
            return dense, freq
    moe_layers = [i for i, w in enumerate(wanted) if w]
    raise HFConfigError(f"the {f.model_type} config makes layers {moe_layers} MoE ({how}), which is not 'the first k "
                        "layers dense, then every n-th layer'; write the [model] fields inline")


def _moe(num_experts: int, top_k: int, width: int, **extra: Any) -> dict[str, Any]:
    return {"num_experts": num_experts, "top_k": top_k, "expert_ffn_hidden_size": width, **extra}


def _set_layout(out: dict[str, Any], layout: tuple[int, int] | None) -> dict[str, Any]:
    """Record the MoE layer layout, or drop ``moe`` when the config has no MoE layer at all."""
    if layout is None:
        out.pop("moe", None)
    else:
        out["moe"]["dense_layers"], out["moe"]["layer_frequency"] = layout
    return out


# -- families --------------------------------------------------------------------
def _llama(f: _Fields) -> dict[str, Any]:
    # LlamaAttention / MistralAttention: q, k, v and o all take bias=config.attention_bias.
    _no_mlp_bias(f)
    out = _base(f)
    bias = f.bool("attention_bias", False)
    out["qkv_bias"] = out["attention_out_bias"] = bias
    return out


def _mixtral(f: _Fields) -> dict[str, Any]:
    out = _base(f)
    out["moe"] = _moe(f.int("num_local_experts"), f.int("num_experts_per_tok"), out["ffn_hidden_size"])
    return out


def _qwen2(f: _Fields) -> dict[str, Any]:
    out = _base(f)
    out["qkv_bias"] = True          # Qwen2Attention: q/k/v_proj bias=True, o_proj bias=False, whatever the config says
    out["attention_out_bias"] = False
    return out


def _qwen_moe_layout(f: _Fields, out: dict[str, Any]) -> dict[str, Any]:
    """Qwen2-MoE / Qwen3-MoE: layer i is MoE iff i not in mlp_only_layers and (i+1) % decoder_sparse_step == 0."""
    step = f.int("decoder_sparse_step", 1)
    dense_only = set(f.int_list("mlp_only_layers"))
    layers = out["layers"]
    return _set_layout(out, _moe_layout(f, layers, lambda i: i not in dense_only and (i + 1) % step == 0,
                                        "decoder_sparse_step / mlp_only_layers"))


def _qwen2_moe(f: _Fields) -> dict[str, Any]:
    out = _qwen2(f)
    shared = f.int("shared_expert_intermediate_size", 0, minimum=0)
    experts = f.int("num_experts", minimum=0)
    out["moe"] = _moe(experts, f.int("num_experts_per_tok"), f.int("moe_intermediate_size"),
                      shared_experts=1 if shared else 0, shared_expert_ffn_hidden_size=shared,
                      # Qwen2MoeSparseMoeBlock.shared_expert_gate: Linear(h, 1, bias=False), a sigmoid on the shared expert
                      shared_expert_gate=bool(shared))
    if experts == 0:
        out.pop("moe")
        return out
    return _qwen_moe_layout(f, out)


def _qwen3(f: _Fields) -> dict[str, Any]:
    _no_mlp_bias(f)
    out = _base(f)
    # Qwen3Attention: q, k, v and o take bias=config.attention_bias; q_norm/k_norm are RMSNorms of head_dim.
    bias = f.bool("attention_bias", False)
    out["qkv_bias"] = out["attention_out_bias"] = bias
    out["qk_norm"] = "head"
    return out


def _qwen3_moe(f: _Fields) -> dict[str, Any]:
    out = _qwen3(f)
    experts = f.int("num_experts", minimum=0)
    if experts == 0:
        return out
    out["moe"] = _moe(experts, f.int("num_experts_per_tok"), f.int("moe_intermediate_size"))
    return _qwen_moe_layout(f, out)


def _deepseek(f: _Fields) -> dict[str, Any]:
    out = _base(f)
    heads = out["num_attention_heads"]
    nope, rope = f.int("qk_nope_head_dim"), f.int("qk_rope_head_dim")
    out["attention"] = "mla"
    out["mla"] = {"q_lora_rank": f.int("q_lora_rank", 0, minimum=0),   # null: queries are not compressed
                  "kv_lora_rank": f.int("kv_lora_rank"), "qk_nope_head_dim": nope, "qk_rope_head_dim": rope,
                  "v_head_dim": f.int("v_head_dim")}
    out["num_kv_heads"] = heads          # MLA decompresses a key and a value per query head
    out["head_dim"] = nope + rope        # the query/key head width
    out["mtp_layers"] = f.int("num_nextn_predict_layers", 0, minimum=0)
    experts = f.int("n_routed_experts", 0, minimum=0)
    if not experts:
        return out
    width = f.int("moe_intermediate_size")
    shared = f.int("n_shared_experts", 0, minimum=0)
    # DeepSeek-V3's router keeps e_score_correction_bias, one value per routed expert, when topk_method is
    # "noaux_tc" (the DeepseekV3Config default); V2's greedy routers have no bias. It is counted as the
    # router's bias vector: it is stored in the checkpoint like one (model.layers.N.mlp.gate.e_score_correction_bias).
    topk_method = f.cfg.get("topk_method", "noaux_tc" if f.model_type == "deepseek_v3" else "greedy")
    out["moe"] = _moe(experts, f.int("num_experts_per_tok"), width, shared_experts=shared,
                      shared_expert_ffn_hidden_size=shared * width, router_bias=topk_method == "noaux_tc")
    # Node-limited (group-limited) routing: DeepSeek-V3 n_group = 8, topk_group = 4 (V2: group_limited_greedy)
    groups, top_groups = f.int("n_group", 0, minimum=0), f.int("topk_group", 0, minimum=0)
    if groups > 1 and 0 < top_groups < groups:
        out["moe"]["n_group"], out["moe"]["topk_group"] = groups, top_groups
    first_dense = f.int("first_k_dense_replace", 0, minimum=0)
    freq = f.int("moe_layer_freq", 1)
    # DeepseekV2/V3DecoderLayer: MoE iff layer_idx >= first_k_dense_replace and layer_idx % moe_layer_freq == 0
    return _set_layout(out, _moe_layout(f, out["layers"], lambda i: i >= first_dense and i % freq == 0,
                                        "first_k_dense_replace / moe_layer_freq"))


def _olmoe(f: _Fields) -> dict[str, Any]:
    out = _base(f)
    bias = f.bool("attention_bias", False)
    out["qkv_bias"] = out["attention_out_bias"] = bias
    out["qk_norm"] = "full"          # OlmoeAttention: q_norm over heads*head_dim, k_norm over kv_heads*head_dim
    out["moe"] = _moe(f.int("num_experts"), f.int("num_experts_per_tok"), out["ffn_hidden_size"])
    return out


def _dbrx(f: _Fields) -> dict[str, Any]:
    attn, ffn = f.sub("attn_config"), f.sub("ffn_config")
    h, heads = f.int("d_model"), f.int("n_heads")
    if h % heads:
        raise HFConfigError(f"the dbrx config's d_model {h} is not a multiple of n_heads {heads}; "
                            "give model.head_dim inline")
    width = ffn.int("ffn_hidden_size")
    return {
        "layers": f.int("n_layers"), "hidden_size": h, "num_attention_heads": heads,
        # DbrxAttentionConfig defaults kv_n_heads to 1 (multi-query), not to n_heads
        "num_kv_heads": attn.int("kv_n_heads", 1), "head_dim": h // heads,
        "ffn_hidden_size": width, "ffn_activation": "swiglu",     # DbrxExpertGLU: w1, v1, w2
        "vocab_size": f.int("vocab_size"), "tie_embeddings": f.bool("tie_word_embeddings", False),
        # DBRX normalizes with nn.LayerNorm(bias=False): one weight vector per norm, which is what
        # [model] norm = "rmsnorm" counts ("layernorm" counts a weight and a bias).
        "norm": "rmsnorm",
        "moe": _moe(ffn.int("moe_num_experts"), ffn.int("moe_top_k"), width),
    }


def _gpt_oss(f: _Fields) -> dict[str, Any]:
    out = _base(f)
    bias = f.bool("attention_bias", True)
    out["qkv_bias"] = out["attention_out_bias"] = bias
    out["attention_sinks"] = True       # GptOssAttention.sinks: one learned logit per query head
    top_k = f.int("num_experts_per_tok") if f.has("num_experts_per_tok") else f.int("experts_per_token")
    # GptOssTopKRouter has a bias; GptOssExperts carry gate_up_proj_bias and down_proj_bias.
    out["moe"] = _moe(f.int("num_local_experts"), top_k, out["ffn_hidden_size"], router_bias=True, expert_bias=True)
    return out


_MAPPERS: dict[str, Callable[[_Fields], dict[str, Any]]] = {
    "llama": _llama, "mistral": _llama, "mixtral": _mixtral, "qwen2": _qwen2, "qwen2_moe": _qwen2_moe,
    "qwen3": _qwen3, "qwen3_moe": _qwen3_moe, "deepseek_v2": _deepseek, "deepseek_v3": _deepseek,
    "olmoe": _olmoe, "dbrx": _dbrx, "gpt_oss": _gpt_oss,
}
