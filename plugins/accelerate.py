"""Hugging Face Accelerate config YAML (``accelerate launch --config_file``), linted in place.

Recognised by ``distributed_type`` with ``num_processes`` (or an
``fsdp_config``/``deepspeed_config``/``parallelism_config`` table), read with
deploylint's YAML loader so every value keeps its span.

Accelerate semantics (huggingface/accelerate at 16cb6eb): ``num_processes``
is the whole world and ``num_machines`` the node count; a
``parallelism_config`` of dp_replicate · dp_shard · tp · cp must equal
``num_processes`` ("ParallelismConfig total_size … does not match
num_processes", ``src/accelerate/parallelism_config.py:372-377``), else dp is
the world; FSDP's ``fsdp_sharding_strategy`` FULL_SHARD / HYBRID_SHARD = ZeRO-3,
SHARD_GRAD_OP / HYBRID_SHARD_ZERO2 = ZeRO-2, NO_SHARD = 0
(``src/accelerate/utils/constants.py:38``); FSDP2 ``fsdp_reshard_after_forward``
true = ZeRO-3, false = ZeRO-2; ``fsdp_offload_params`` moves parameters,
gradients and optimizer states to the CPU; ``deepspeed_config.zero_stage`` and
``offload_*_device`` as in DeepSpeed (a ``deepspeed_config_file`` is not
read); ``mixed_precision`` no/fp16/bf16/fp8. An Accelerate config names no
model, batch or sequence length.
"""

from __future__ import annotations

from deploylint.core.document import pointer as jp
from deploylint.core import hookimpl
from deploylint.core.document.writers.span_writer import Binding

from ._training import PlanBuilder, as_int, refuse, shard_size

STARTUP_CHECKS = {
    "world": ("ParallelismConfig total_size ({total}) does not match num_processes ({world}). Please adjust "
              "dp_replicate_size/ dp_shard_size/tp_size/cp_size/sp_size.", "src/accelerate/parallelism_config.py:372-377"),
}

_STRATEGY = {"FULL_SHARD": 3, "HYBRID_SHARD": 3, "SHARD_GRAD_OP": 2, "HYBRID_SHARD_ZERO2": 2, "NO_SHARD": 0}


def read(path: str, text: str):
    if not path.lower().endswith((".yaml", ".yml")) or "distributed_type" not in text:
        return None
    from deploylint.core.document.sources import SourceError, load

    try:
        src = load(path, text, "yaml")
    except SourceError:
        return None
    data, spans = src.data, src.spans
    if not isinstance(data, dict) or "schema_version" in data or "distributed_type" not in data:
        return None
    b = PlanBuilder(path, text, "accelerate", "yaml")
    anchor = spans.get("/distributed_type")
    b.anchor(anchor.key or anchor.value)

    def node(ptr):
        n = spans.get(ptr)
        return (n.value, n.key) if n else (None, None)

    def take(file_ptr, plan_ptr):
        v = jp.resolve(data, file_ptr, None)
        if v is None:
            return None
        n = as_int(v)
        if n is None or n < 1:
            b.skip(f"{file_ptr.strip('/').replace('/', '.')} = {v!r}: not a size deploylint reads", plan_ptr)
            return None
        value_span, key_span = node(file_ptr)
        b.put(plan_ptr, n, value_span, key=key_span, binding=value_span)
        return n

    world = take("/num_processes", "/hardware/num_devices")
    machines = as_int(jp.resolve(data, "/num_machines", None))
    if world:
        b.origins["/hardware/num_devices"] = f"hardware.num_devices = {world}: num_processes in this file"
        if machines and machines >= 1 and world % machines == 0:
            b.put("/hardware/devices_per_node", world // machines)
    else:
        b.skip("num_processes: the world size (give --num-devices)", "/hardware/num_devices")
    pc = "/parallelism_config/parallelism_config_"
    if data.get("parallelism_config") is not None and not isinstance(data.get("parallelism_config"), dict):
        b.skip(f"parallelism_config = {data['parallelism_config']!r}: not a mapping", "/parallelism")
    if isinstance(data.get("parallelism_config"), dict):
        tp = take(pc + "tp_size", "/parallelism/tp") or 1
        cp = take(pc + "cp_size", "/parallelism/cp") or 1
        rep = as_int(jp.resolve(data, pc + "dp_replicate_size", None)) or 1
        shard = as_int(jp.resolve(data, pc + "dp_shard_size", None)) or 1
        value_span, _ = node(pc + "dp_shard_size")
        b.put("/parallelism/dp", rep * shard, value_span,
              binding=Binding(value_span.start, value_span.end, render=lambda dp: shard_size(
                  dp, rep, "Accelerate", "parallelism_config_dp_replicate_size", "parallelism_config_dp_shard_size"))
              if value_span else None)
        b.put("/training/dp_shard", shard, value_span)
    kind = data.get("distributed_type")
    zero = 0
    if kind == "FSDP":
        fsdp = data.get("fsdp_config") or {}
        if not isinstance(fsdp, dict):
            b.skip(f"fsdp_config = {fsdp!r}: not a mapping (FSDP's defaults are assumed)", "/parallelism/zero_stage")
            fsdp = {}
        strategy = fsdp.get("fsdp_sharding_strategy")
        if isinstance(strategy, str) and strategy in _STRATEGY:
            zero = _STRATEGY[strategy]
        elif strategy is not None:
            zero = 3
            b.skip(f"fsdp_config.fsdp_sharding_strategy = {strategy!r}: not one of {', '.join(_STRATEGY)} "
                   "(FSDP's default, FULL_SHARD = ZeRO-3, is assumed)", "/parallelism/zero_stage")
        elif "fsdp_reshard_after_forward" in fsdp:
            zero = 3 if fsdp.get("fsdp_reshard_after_forward") is True else 2
        else:
            zero = 3          # FSDP's default: FULL_SHARD
        if fsdp.get("fsdp_offload_params") is True:
            b.put("/parallelism/offload_params", "cpu")
            b.put("/parallelism/offload_optimizer", "cpu")
        if fsdp.get("fsdp_activation_checkpointing") is True:
            b.put("/parallelism/recompute", "full")
    elif kind == "DEEPSPEED":
        ds = data.get("deepspeed_config") or {}
        if not isinstance(ds, dict):
            b.skip(f"deepspeed_config = {ds!r}: not a mapping", "/parallelism/zero_stage")
            ds = {}
        if "zero_stage" in ds:
            zero = as_int(ds.get("zero_stage")) or 0
        for key, plan_ptr in (("offload_optimizer_device", "/parallelism/offload_optimizer"),
                              ("offload_param_device", "/parallelism/offload_params")):
            if ds.get(key) in ("cpu", "nvme", "none"):
                b.put(plan_ptr, ds[key])
        if ds.get("deepspeed_config_file"):
            b.skip(f"deepspeed_config_file {ds['deepspeed_config_file']!r}: check that file on its own (a ds_config "
                   "is linted too)", "/parallelism/zero_stage")
    b.put("/parallelism/zero_stage", min(3, max(0, zero)))
    precision = data.get("mixed_precision")
    b.put("/workload/dtype", {"bf16": "bf16", "fp16": "fp16", "fp8": "fp8"}.get(str(precision), "fp32"))
    b.skip("the model: an Accelerate config does not name it (the training script does; name it with "
           "[tool.deploylint.models] \"glob\" = { id = \"org/name\" })", "/model")
    b.skip("the batch and sequence length: an Accelerate config names neither (give them in "
           "[tool.deploylint.workload])", "/workload")
    b.placeholders({})
    return [b.document(lambda new: read(path, new)[0], _insert)]


def _insert(pointer, value):
    """A value the file does not write: refused with the reason where Accelerate has no single key for it."""
    if pointer == "/parallelism/dp":
        refuse(f"without a parallelism_config Accelerate's dp is num_processes / (tp·cp): dp = {value} needs a "
                "parallelism_config (parallelism_config_dp_replicate_size × parallelism_config_dp_shard_size) or "
                "another num_processes")
    if pointer == "/parallelism/zero_stage":
        refuse(f"Accelerate's ZeRO stage comes from fsdp_config.fsdp_sharding_strategy (FULL_SHARD = 3, "
                f"SHARD_GRAD_OP = 2, NO_SHARD = 0) or deepspeed_config.zero_stage: set stage {value} there")
    return None



@hookimpl
def deploylint_source(path, text):
    return read(path, text)
