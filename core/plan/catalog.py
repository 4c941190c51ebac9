"""Model ids → architectures, offline: ``[model] id = "meta-llama/Llama-3.1-70B-Instruct"``.

A serving command names its model by a Hugging Face id (``vllm serve
meta-llama/Llama-3.1-8B``). deploylint never downloads anything; the id is
resolved, in this order, from:

1. a local folder, when the id is a path holding a ``config.json``;
2. the local Hugging Face cache, laid out as ``huggingface_hub`` lays it out:
   ``$HF_HUB_CACHE`` (or ``$HF_HOME/hub``, or ``~/.cache/huggingface/hub``)
   ``/models--{org}--{name}/snapshots/{revision}/config.json``, the revision
   being the one ``refs/main`` names (else the newest snapshot);
3. the bundled catalog below: the architecture fields of the public
   config.json of the models people serve, each with where it was read;
4. ``[tool.deploylint.models]`` in the configuration: id → path of a
   config.json (relative to the configuration file).

The config found is mapped by :mod:`deploylint.core.plan.hf`. An id none of
them knows is DL004, naming the three ways to supply it.

Bundled entries hold only the fields the mapping reads (architecture, not
tokenizer or rope details), under Hugging Face's key names. Instruct and base
variants share an architecture; DeepSeek-R1 is DeepSeek-V3's architecture.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

__all__ = ["CatalogError", "BUNDLED", "find_config", "resolve_model_id", "hf_cache_dir"]


class CatalogError(Exception):
    """A model id that no offline source knows, or whose config cannot be read."""


_LLAMA_31_8B = {
    # meta-llama/Llama-3.1-8B config.json (tests/data/hf-configs/llama-3.1-8b.json, verbatim copy of the published file)
    "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072,
    "tie_word_embeddings": False, "attention_bias": False,
}
_LLAMA_31_70B = {
    # meta-llama/Llama-3.1-70B config.json (tests/data/hf-configs/llama-3.1-70b.json); Llama-3.3-70B-Instruct
    # has the same architecture (LlamaForCausalLM, 80 layers, 8192 hidden, 64/8 heads, 28672 MLP, 128256 vocab)
    "model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
    "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072,
    "tie_word_embeddings": False, "attention_bias": False,
}
_LLAMA_31_405B = {
    # meta-llama/Llama-3.1-405B(-Instruct): hidden 16384, 126 layers, 128 heads, 8 KV heads, MLP 53248,
    # vocab 128256, 131072 positions — the HF model metadata quoted in public code (exact-string search
    # '"hidden_size": 16384': a models.json entry for meta-llama/Llama-3.1-405B-Instruct and two
    # hand-kept model tables agree on every field)
    "model_type": "llama", "hidden_size": 16384, "intermediate_size": 53248, "num_hidden_layers": 126,
    "num_attention_heads": 128, "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072,
    "tie_word_embeddings": False, "attention_bias": False,
}
_MIXTRAL_8X7B = {
    # mistralai/Mixtral-8x7B-v0.1 config.json (tests/data/hf-configs/mixtral-8x7b.json)
    "model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000, "max_position_embeddings": 32768,
    "num_local_experts": 8, "num_experts_per_tok": 2, "tie_word_embeddings": False,
}
_MIXTRAL_8X22B = {
    # mistralai/Mixtral-8x22B-v0.1 config.json as quoted in public test fixtures (exact-string search
    # '"num_hidden_layers": 56': a Mixtral-8x22B hardware-inference test with the whole config, and a Go
    # config-decoding test): hidden 6144, MLP 16384, 56 layers, 48/8 heads, 8 experts top-2, 65536 positions,
    # vocab 32000 (the Instruct-v0.1 tokenizer has 32768, quoted by a Rust fixture)
    "model_type": "mixtral", "hidden_size": 6144, "intermediate_size": 16384, "num_hidden_layers": 56,
    "num_attention_heads": 48, "num_key_value_heads": 8, "vocab_size": 32000, "max_position_embeddings": 65536,
    "num_local_experts": 8, "num_experts_per_tok": 2, "tie_word_embeddings": False,
}
_DEEPSEEK_V3 = {
    # deepseek-ai/DeepSeek-V3 config.json (tests/data/hf-configs/deepseek-v3.json, field for field the
    # published file); max_position_embeddings 163840 from the same published config (quoted verbatim in
    # public conversion tests). DeepSeek-R1 and R1-0528 share it.
    "model_type": "deepseek_v3", "vocab_size": 129280, "hidden_size": 7168, "intermediate_size": 18432,
    "moe_intermediate_size": 2048, "num_hidden_layers": 61, "num_attention_heads": 128, "num_key_value_heads": 128,
    "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
    "n_routed_experts": 256, "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3,
    "moe_layer_freq": 1, "topk_method": "noaux_tc", "num_nextn_predict_layers": 1, "tie_word_embeddings": False,
    "max_position_embeddings": 163840,
    # the published checkpoint is FP8 with 128×128 weight blocks (config.json quantization_config)
    "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128]},
}
_QWEN3_32B = {
    # Qwen/Qwen3-32B config.json, quoted whole in a public verl guide (only num_hidden_layers edited there;
    # the original 64 is stated in the same text and in Qwen/Qwen3-32B model tables of public code)
    "model_type": "qwen3", "hidden_size": 5120, "intermediate_size": 25600, "num_hidden_layers": 64,
    "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
    "max_position_embeddings": 40960, "tie_word_embeddings": False, "attention_bias": False,
}
_QWEN3_30B_A3B = {
    # Qwen/Qwen3-30B-A3B (tests/data/hf-configs/qwen3-30b-a3b.json); 40960 positions as every Qwen3 config
    "model_type": "qwen3_moe", "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 6144,
    "moe_intermediate_size": 768, "num_hidden_layers": 48, "num_attention_heads": 32, "num_key_value_heads": 4,
    "head_dim": 128, "num_experts": 128, "num_experts_per_tok": 8, "decoder_sparse_step": 1, "mlp_only_layers": [],
    "attention_bias": False, "tie_word_embeddings": False, "max_position_embeddings": 40960,
}
_QWEN3_235B_A22B = {
    # Qwen/Qwen3-235B-A22B config.json as quoted in public code (exact-string search '"num_hidden_layers": 94':
    # a dashboard's whole Qwen3MoeForCausalLM config, a model table citing
    # huggingface.co/Qwen/Qwen3-235B-A22B/raw/main/config.json for 40960 positions, two test fixtures)
    "model_type": "qwen3_moe", "vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 12288,
    "moe_intermediate_size": 1536, "num_hidden_layers": 94, "num_attention_heads": 64, "num_key_value_heads": 4,
    "head_dim": 128, "num_experts": 128, "num_experts_per_tok": 8, "decoder_sparse_step": 1, "mlp_only_layers": [],
    "attention_bias": False, "tie_word_embeddings": False, "max_position_embeddings": 40960,
}
_GPT_OSS_20B = {
    # openai/gpt-oss-20b config.json (tests/data/hf-configs/gpt-oss-20b.json, verbatim); the experts ship in
    # MXFP4 (model card), which the plan cannot express: weights are counted at the serving dtype
    "model_type": "gpt_oss", "vocab_size": 201088, "hidden_size": 2880, "intermediate_size": 2880,
    "num_hidden_layers": 24, "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64,
    "num_local_experts": 32, "num_experts_per_tok": 4, "attention_bias": True, "tie_word_embeddings": False,
    "max_position_embeddings": 131072,
}
_GPT_OSS_120B = {
    # openai/gpt-oss-120b (tests/data/hf-configs/gpt-oss-120b.json); 131072 positions (model card: 128k context)
    "model_type": "gpt_oss", "vocab_size": 201088, "hidden_size": 2880, "intermediate_size": 2880,
    "num_hidden_layers": 36, "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64,
    "num_local_experts": 128, "num_experts_per_tok": 4, "attention_bias": True, "tie_word_embeddings": False,
    "max_position_embeddings": 131072,
}

#: id (lower case) → config.json fields
BUNDLED: dict[str, dict[str, Any]] = {}
for _ids, _cfg in (
    (("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Meta-Llama-3.1-8B",
      "meta-llama/Meta-Llama-3.1-8B-Instruct"), _LLAMA_31_8B),
    (("meta-llama/Llama-3.1-70B", "meta-llama/Llama-3.1-70B-Instruct", "meta-llama/Meta-Llama-3.1-70B",
      "meta-llama/Meta-Llama-3.1-70B-Instruct", "meta-llama/Llama-3.3-70B-Instruct"), _LLAMA_31_70B),
    (("meta-llama/Llama-3.1-405B", "meta-llama/Llama-3.1-405B-Instruct", "meta-llama/Meta-Llama-3.1-405B",
      "meta-llama/Meta-Llama-3.1-405B-Instruct"), _LLAMA_31_405B),
    (("mistralai/Mixtral-8x7B-v0.1", "mistralai/Mixtral-8x7B-Instruct-v0.1"), _MIXTRAL_8X7B),
    (("mistralai/Mixtral-8x22B-v0.1",), _MIXTRAL_8X22B),
    (("mistralai/Mixtral-8x22B-Instruct-v0.1",), {**_MIXTRAL_8X22B, "vocab_size": 32768}),
    (("deepseek-ai/DeepSeek-V3", "deepseek-ai/DeepSeek-V3-0324", "deepseek-ai/DeepSeek-R1",
      "deepseek-ai/DeepSeek-R1-0528"), _DEEPSEEK_V3),
    (("Qwen/Qwen3-32B",), _QWEN3_32B),
    (("Qwen/Qwen3-30B-A3B", "Qwen/Qwen3-30B-A3B-Base"), _QWEN3_30B_A3B),
    (("Qwen/Qwen3-235B-A22B",), _QWEN3_235B_A22B),
    (("openai/gpt-oss-20b",), _GPT_OSS_20B),
    (("openai/gpt-oss-120b",), _GPT_OSS_120B),
):
    for _id in _ids:
        BUNDLED[_id.lower()] = _cfg


def hf_cache_dir(environ: Mapping[str, str] | None = None) -> str:
    """The hub cache folder ``huggingface_hub`` uses: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub."""
    env = os.environ if environ is None else environ
    if env.get("HF_HUB_CACHE"):
        return env["HF_HUB_CACHE"]
    home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                                              "huggingface")
    return os.path.join(home, "hub")


def _from_cache(model_id: str, environ: Mapping[str, str] | None) -> str | None:
    if model_id.count("/") != 1:
        return None
    repo = os.path.join(hf_cache_dir(environ), "models--" + model_id.replace("/", "--"))
    snapshots = os.path.join(repo, "snapshots")
    if not os.path.isdir(snapshots):
        return None
    revision = None
    try:
        with open(os.path.join(repo, "refs", "main"), encoding="utf-8") as fh:
            revision = fh.read().strip() or None
    except OSError:
        pass
    candidates = []
    if revision:
        candidates.append(os.path.join(snapshots, revision, "config.json"))
    try:
        others = sorted((os.path.join(snapshots, d) for d in os.listdir(snapshots)), key=os.path.getmtime, reverse=True)
    except OSError:
        others = []
    candidates += [os.path.join(d, "config.json") for d in others]
    return next((c for c in candidates if os.path.isfile(c)), None)


def find_config(model_id: str, models: Mapping[str, str] | None = None, *, base_dir: str | None = None,
                environ: Mapping[str, str] | None = None,
                roots: list[str] | None = None) -> tuple[dict[str, Any] | str, str]:
    """Where the config of ``model_id`` is: ``(path of a config.json, or the bundled fields; where it came from)``.

    Raises :class:`CatalogError` naming the three ways to supply an id nobody knows. ``roots``: the folders a
    path written in the checked files (a local model folder, a ``[tool.deploylint.models]`` path) may be read
    from (the repository and the configuration's ``model-paths``); one outside them is refused before it is
    looked at, the same way whether or not it exists, so a checked repository can neither make deploylint read
    and quote a file elsewhere on the machine nor learn whether it exists. The Hugging Face cache is the user's
    own and always read.
    """
    from .resolve import inside

    def refuse_outside(path: str) -> None:
        if roots is not None and not inside(path, roots):
            raise CatalogError(f"the config of {model_id!r} would be read from {path}, outside the checked "
                               f"repository ({roots[0]}); deploylint reads model configs only there, in the Hugging "
                               "Face cache, or in a folder listed in model-paths in the configuration")

    local = model_id if os.path.isabs(model_id) or model_id.startswith(".") else None
    outside = local is not None and roots is not None and not inside(local, roots)
    if local is not None and not outside:
        path = os.path.join(local, "config.json") if os.path.isdir(local) else local
        if os.path.isfile(path):
            return path, f"the local folder {local}"
    cached = _from_cache(model_id, environ)
    if cached is not None:
        return cached, f"the Hugging Face cache ({cached})"
    bundled = BUNDLED.get(model_id.lower())
    if bundled is not None:
        return dict(bundled), "deploylint's bundled catalog of public configs"
    mapped = (models or {}).get(model_id)
    if mapped is not None:
        path = mapped if os.path.isabs(mapped) or base_dir is None else os.path.join(base_dir, mapped)
        refuse_outside(path)
        if os.path.isdir(path):
            path = os.path.join(path, "config.json")
        return path, f"[tool.deploylint.models] ({path})"
    if outside:
        raise CatalogError(
            f"the model folder {model_id!r} is outside the checked repository ({roots[0]}), where deploylint does not "
            f"read model configs; map it in the configuration ([tool.deploylint.models] \"{model_id}\" = "
            "\"path/to/config.json\"), list its folder in model-paths, or write the [model] fields in a plan")
    if model_id.startswith("/") or model_id.startswith("."):
        raise CatalogError(
            f"the model folder {model_id!r} is not on this machine (it is read where the engine runs); map it in the "
            f"configuration ([tool.deploylint.models] \"{model_id}\" = \"path/to/config.json\"), or put the model's "
            "config.json at that path, or write the [model] fields in a plan")
    raise CatalogError(
        f"the model {model_id!r} is not known offline; supply its config.json one of three ways: download it into "
        f"the Hugging Face cache ({hf_cache_dir(environ)}, e.g. `huggingface-cli download {model_id} config.json`), "
        f"map it in the configuration ([tool.deploylint.models] \"{model_id}\" = \"path/to/config.json\"), or write "
        "the [model] fields in a plan; deploylint's bundled catalog has "
        f"{len({id(v) for v in BUNDLED.values()})} public architectures (Llama-3.1/3.3, Mixtral, DeepSeek-V3/R1, Qwen3, gpt-oss)")


def quantization(model_id: str, models: Mapping[str, str] | None = None, *, base_dir: str | None = None) -> str | None:
    """The ``quant_method`` of the model's config.json (``fp8``, ``mxfp4``, …), or None (unknown id, none, unreadable)."""
    try:
        found, _ = find_config(model_id, models, base_dir=base_dir)
        if isinstance(found, str):
            with open(found, encoding="utf-8") as fh:
                found = json.load(fh)
    except (CatalogError, OSError, ValueError):
        return None
    q = found.get("quantization_config") if isinstance(found, dict) else None
    method = q.get("quant_method") if isinstance(q, dict) else None
    return method if isinstance(method, str) else None


def resolve_model_id(model_id: str, models: Mapping[str, str] | None = None, *, base_dir: str | None = None,
                     environ: Mapping[str, str] | None = None,
                     roots: list[str] | None = None) -> tuple[dict[str, Any], str]:
    """``[model]`` fields for ``model_id`` and a sentence saying where they came from (CatalogError if unknown).

    ``roots``: as :func:`find_config` takes them.
    """
    from .hf import HFConfigError, map_config, read_config

    found, origin = find_config(model_id, models, base_dir=base_dir, environ=environ, roots=roots)
    try:
        fields = map_config(found) if isinstance(found, dict) else read_config(found)
    except HFConfigError as exc:
        raise CatalogError(f"the config of {model_id!r} from {origin} cannot be used: {exc}") from None
    return fields, origin
