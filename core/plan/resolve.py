"""From a schema-valid plan mapping to a typed, frozen :class:`~deploylint.core.plan.Plan`.

Resolution fills in defaults (PLAN_FORMAT.md), looks ``[hardware] accelerator``
up in the catalog, and reads ``[model] from`` (a Hugging Face config.json,
relative to the plan). What cannot be resolved is a DL004 diagnostic at the
key that names it, with a did-you-mean fix where one is close.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from ..diagnostics import Diagnostic, Fix
from ..host.core_rules import core_diagnostic
from . import MLA, Claims, Hardware, Model, MoE, Parallelism, Plan, Training, Workload



def _dl004(path: str, message: str, *, fixes=(), data=None) -> Diagnostic:
    return core_diagnostic("DL004", message, path, fixes=fixes, data=data)


def resolve(data: Mapping[str, Any], *, plan_path: str | None, accelerators: Mapping[str, Any],
            model_paths: tuple[str, ...] = (), models: Mapping[str, str] | None = None,
            models_base: str | None = None, unknown: frozenset = frozenset()) -> tuple[Plan | None, list[Diagnostic]]:
    """Resolve a validated plan. Returns (plan or None, DL004 diagnostics).

    ``model.from`` is read only inside the plan's repository or a folder of
    ``model_paths`` (the configuration's ``model-paths``). ``models`` maps model ids to config.json paths
    (``[tool.deploylint.models]``, relative to ``models_base``); ``unknown`` names the inputs whose values
    are nominal (see ``Plan.unknown``).
    """
    diags: list[Diagnostic] = []
    workload = _workload(data["workload"])
    model = _model(data["model"], plan_path, diags, model_paths, models, models_base)
    hardware = _hardware(data["hardware"], workload.dtype, accelerators, diags)
    if model is None or hardware is None:
        return None, diags
    parallelism = _parallelism(data.get("parallelism", {}), hardware.num_devices)
    serving = _serving(data["serving"]) if "serving" in data else None
    if serving is not None and serving.redundant_experts:
        # the engine's replicas (SGLang --ep-num-redundant-experts, vLLM num_redundant_experts) are held like the plan's
        from ..records import replace

        parallelism = replace(parallelism, redundant_experts=parallelism.redundant_experts + serving.redundant_experts)
    claims = _claims(data.get("claims", {}))
    plan = Plan(
        schema_version=int(data["schema_version"]),
        name=data.get("name"),
        model=model,
        hardware=hardware,
        parallelism=parallelism,
        workload=workload,
        claims=claims,
        path=plan_path,
        serving=serving,
        training=_section(Training, data.get("training") or {}),
        unknown=frozenset(unknown),
    )
    return plan, diags


# -- model ---------------------------------------------------------------------
_MODEL_REQUIRED = ("layers", "hidden_size", "num_attention_heads", "vocab_size")


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def repository_root(plan_path: str | None) -> str:
    """The folder a plan's references may point into: the nearest enclosing git work tree, else the plan's folder."""
    start = os.path.dirname(os.path.realpath(plan_path)) if plan_path else os.path.realpath(os.getcwd())
    directory = start
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return start
        directory = parent


def model_roots(plan_path: str | None, model_paths=(), config_root: str | None = None) -> list[str]:
    """The folders a model config named in a checked file may be read from: its repository, the folder of the
    configuration that governs it, then the configuration's model-paths."""
    roots = [repository_root(plan_path)]
    if config_root:
        roots.append(os.path.realpath(config_root))
    return roots + [os.path.realpath(p) for p in model_paths]


def inside(config_path: str, roots: list[str]) -> bool:
    """True when ``config_path`` (links resolved) lies in one of ``roots``."""
    real = os.path.realpath(config_path)
    return any(os.path.commonpath([real, root]) == root for root in roots)


def _model(raw: Mapping[str, Any], plan_path: str | None, diags: list[Diagnostic],
           model_paths: tuple[str, ...] = (), models: Mapping[str, str] | None = None,
           models_base: str | None = None) -> Model | None:
    fields = dict(raw)
    source = fields.pop("from", None)
    model_id = fields.pop("id", None)
    if source is None and model_id is not None:
        from .catalog import CatalogError, resolve_model_id

        try:
            imported, origin = resolve_model_id(str(model_id), models, base_dir=models_base,
                                                roots=model_roots(plan_path, model_paths, models_base))
        except CatalogError as exc:
            diags.append(_dl004("/model/id", str(exc), data={"model": model_id}))
            return None
        fields = _merge(imported, fields)
        fields["id"] = model_id
    if source is not None:
        from .hf import HFConfigError, read_config

        base = os.path.dirname(os.path.abspath(plan_path)) if plan_path else os.getcwd()
        config_path = source if os.path.isabs(source) else os.path.join(base, source)
        roots = model_roots(plan_path, model_paths)
        if not inside(config_path, roots):
            # Said the same way whether or not the file exists: a plan cannot probe the machine.
            diags.append(_dl004("/model/from", f"model.from = {source!r} points outside the plan's repository "
                                f"({roots[0]}); deploylint reads model configs only there, or in a folder listed in "
                                "model-paths in [tool.deploylint]", data={"allowed": roots}))
            return None
        try:
            imported = read_config(config_path)
        except HFConfigError as exc:
            diags.append(_dl004("/model/from", f"cannot use model.from = {source!r}: {exc}", data={"resolved_path": config_path}))
            return None
        fields = _merge(imported, fields)
    missing = [k for k in _MODEL_REQUIRED if k not in fields]
    if missing:
        where = (f"the config.json named by model.from ({source})" if source else
                 f"the config of model {model_id!r}" if model_id else "[model]")
        diags.append(_dl004("/model/from" if source else "/model", f"{where} gives no {', '.join(missing)}; add them to [model]",
                            data={"missing": missing}))
        return None
    h = int(fields["hidden_size"])
    heads = int(fields["num_attention_heads"])
    ffn = int(fields.get("ffn_hidden_size", 4 * h))
    moe = None
    if fields.get("moe"):
        m = dict(fields["moe"])
        width = int(m.get("expert_ffn_hidden_size", ffn))
        shared = int(m.get("shared_experts", 0))
        moe = MoE(
            num_experts=int(m["num_experts"]),
            top_k=int(m["top_k"]),
            expert_ffn_hidden_size=width,
            shared_experts=shared,
            shared_expert_ffn_hidden_size=int(m.get("shared_expert_ffn_hidden_size", width * shared)),
            dense_layers=int(m.get("dense_layers", 0)),
            layer_frequency=int(m.get("layer_frequency", 1)),
            **{k: m[k] for k in ("router_bias", "expert_bias", "shared_expert_gate") if k in m},
            **{k: int(m[k]) for k in ("n_group", "topk_group") if k in m},
        )
    mla = None
    if fields.get("mla"):
        m = fields["mla"]
        mla = MLA(q_lora_rank=int(m.get("q_lora_rank") or 0),
                  **{k: int(m[k]) for k in ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")})
    extras = {k: fields[k] for k in ("qkv_bias", "attention_out_bias", "qk_norm", "attention_sinks", "norm", "mtp_layers", "model_type",
                                     "dropout")
              if k in fields}
    extras.update({k: fields[k] for k in _extra_model_fields() if k in fields})
    return Model(
        layers=int(fields["layers"]),
        hidden_size=h,
        num_attention_heads=heads,
        vocab_size=int(fields["vocab_size"]),
        num_kv_heads=int(fields.get("num_kv_heads", heads)),
        head_dim=int(fields.get("head_dim", h // heads)),
        ffn_hidden_size=ffn,
        ffn_activation=fields.get("ffn_activation", "swiglu"),
        tie_embeddings=bool(fields.get("tie_embeddings", False)),
        attention=fields.get("attention", "mla" if mla else "gqa"),
        mla=mla,
        moe=moe,
        from_=source,
        **extras,
    )


def _extra_model_fields() -> tuple[str, ...]:
    """Model fields beyond the ones handled explicitly (added as the estimator needs them)."""
    from ..records import fields as dc_fields

    handled = {"layers", "hidden_size", "num_attention_heads", "vocab_size", "num_kv_heads", "head_dim", "ffn_hidden_size",
               "ffn_activation", "tie_embeddings", "attention", "mla", "moe", "from_", "qkv_bias", "attention_out_bias",
               "qk_norm", "attention_sinks", "norm", "mtp_layers", "model_type", "dropout"}
    return tuple(f.name for f in dc_fields(Model) if f.name not in handled)


# -- hardware ------------------------------------------------------------------
def _closest_accelerators(name: str, names: list[str], difflib: Any) -> list[str]:
    """Up to three catalog names for a mistyped one: the entries the name begins (``h100`` → ``h100-sxm``,
    ``h100-pcie``) before the ones that are merely spelled alike (``h200``)."""
    key = "-".join(name.strip().lower().replace("_", " ").split())
    prefixed = [n for n in names if key and n.startswith(key)]         # in catalog order: the common SKU first
    alike = [n for n in difflib.get_close_matches(key, names, n=3, cutoff=0.5) if n not in prefixed]
    return (prefixed + alike)[:3]


def _hardware(raw: Mapping[str, Any], dtype: str, accelerators: Mapping[str, Any], diags: list[Diagnostic]) -> Hardware | None:
    name = raw.get("accelerator")
    acc = None
    if name is not None:
        acc = accelerators.get(name) or accelerators.get(str(name).lower())
        if acc is None:
            import difflib  # only when a suggestion or a diff is needed

            close = _closest_accelerators(str(name), list(accelerators), difflib)
            fixes = [Fix.set("/hardware/accelerator", c, f"use the catalog entry {c!r}", applicability="unsafe") for c in close]
            hint = f"; did you mean {close[0]!r}?" if close else ""
            diags.append(_dl004("/hardware/accelerator",
                                f"unknown accelerator {name!r}{hint} (`deploylint hardware` lists the catalog; or give "
                                "memory_gib, peak_tflops and memory_bandwidth_gbps instead)",
                                fixes=fixes, data={"accelerator": name, "suggestions": close}))
            return None
    def pick(key: str, from_catalog: Any) -> Any:
        return raw[key] if key in raw else from_catalog

    peak = raw.get("peak_tflops")
    if peak is None and acc is not None:
        peak = acc.peak_for(dtype)
        if peak is None:
            diags.append(_dl004("/hardware/accelerator",
                                f"{acc.name} has no dense {dtype} peak in the catalog; set hardware.peak_tflops",
                                data={"accelerator": acc.name, "dtype": dtype}))
            return None
    return Hardware(
        num_devices=int(raw["num_devices"]),
        memory_gib=float(pick("memory_gib", acc.memory_gib if acc else None)),
        peak_tflops=float(peak),
        memory_bandwidth_gbps=float(pick("memory_bandwidth_gbps", acc.memory_bandwidth_gbps if acc else None)),
        devices_per_node=int(pick("devices_per_node", acc.devices_per_node if acc else 8)),
        intra_node_bandwidth_gbps=_opt_float(pick("intra_node_bandwidth_gbps", acc.intra_node_bandwidth_gbps if acc else None)),
        inter_node_bandwidth_gbps=_opt_float(pick("inter_node_bandwidth_gbps", acc.inter_node_bandwidth_gbps if acc else None)),
        accelerator=acc.name if acc else None,
        # an FP8 plan's FP8 peak is for its FP8 matmuls only; the rest runs at the catalog's BF16 peak
        high_precision_peak_tflops=acc.peak_for("bf16") if acc is not None and dtype == "fp8" else None,
    )


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


# -- the rest --------------------------------------------------------------------
def model_parallel_size(raw: Mapping[str, Any]) -> int:
    """tp·pp·cp of a raw ``[parallelism]`` table (a degree that is not a positive int counts 1)."""
    size = 1
    for key in ("tp", "pp", "cp"):
        value = raw.get(key, 1)
        size *= value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1
    return size


def derived_dp(raw: Mapping[str, Any], num_devices: int) -> int:
    """The dp of a plan that does not write one: the devices over tp·pp·cp when that divides; otherwise the
    largest that fits, and PAR401 names the mismatch. (Also what the fill step multiplies a ``Derived`` value by.)"""
    return max(1, num_devices // model_parallel_size(raw))


def _parallelism(raw: Mapping[str, Any], num_devices: int) -> Parallelism:
    tp, pp, cp = int(raw.get("tp", 1)), int(raw.get("pp", 1)), int(raw.get("cp", 1))
    dp = raw.get("dp")
    if dp is None:
        dp = derived_dp(raw, num_devices)
    placement = raw.get("expert_placement")
    if placement is not None:
        placement = tuple(tuple(p) if isinstance(p, list) else int(p) for p in placement)
    return Parallelism(
        tp=tp, pp=pp, dp=int(dp), cp=cp,
        ep=int(raw.get("ep", 1)), etp=int(raw.get("etp", 1)),
        expert_placement=placement,
        zero_stage=int(raw.get("zero_stage", 0)),
        recompute=raw.get("recompute", "none"),
        recompute_modules=tuple(raw.get("recompute_modules", ("core_attn",))),
        sequence_parallel=bool(raw.get("sequence_parallel", tp > 1)),
        micro_batch_size=int(raw.get("micro_batch_size", 1)),
        redundant_experts=int(raw.get("redundant_experts", 0)),
        pipeline_layers=tuple(int(n) for n in raw["pipeline_layers"]) if raw.get("pipeline_layers") else None,
        flash_attention=bool(raw.get("flash_attention", True)),
        offload_optimizer=raw.get("offload_optimizer", "none"),
        offload_params=raw.get("offload_params", "none"),
    )


def _workload(raw: Mapping[str, Any]) -> Workload:
    dtype = raw.get("dtype", "bf16")
    return Workload(
        mode=raw["mode"],
        batch_size=int(raw["batch_size"]),
        seq_len=int(raw["seq_len"]),
        output_len=int(raw.get("output_len", 0)),
        dtype=dtype,
        kv_cache_dtype=raw.get("kv_cache_dtype", dtype),
        optimizer=raw.get("optimizer", "adam"),
        activation_cache_dtype=raw.get("activation_cache_dtype"),
        batching=raw.get("batching", "continuous"),
        phase=raw.get("phase", "both"),
        speculative_tokens=int(raw.get("speculative_tokens", 0)),
        speculative_acceptance=float(raw.get("speculative_acceptance", 1.0)),
    )


def _serving(raw: Mapping[str, Any]):
    from . import Serving

    return _section(Serving, raw)


def _section(cls, raw: Mapping[str, Any]):
    """A plan section as its dataclass: the keys it knows (the schema has already checked their types)."""
    from ..records import fields as dc_fields

    known = {f.name for f in dc_fields(cls)}
    return cls(**{k: v for k, v in raw.items() if k in known})


def _claims(raw: Mapping[str, Any]) -> Claims:
    from ..records import fields as dc_fields

    known = {f.name for f in dc_fields(Claims)}
    values = {k: v for k, v in raw.items() if k in known}
    mem = values.get("memory_per_device_mib")
    if isinstance(mem, list):
        values["memory_per_device_mib"] = tuple(float(v) for v in mem)
    return Claims(**{k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v) for k, v in values.items()})
