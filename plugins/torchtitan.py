"""TorchTitan job TOML files, linted in place, and TorchTitan's parallel-dims checks.

A TorchTitan job config (``torchtitan/models/*/train_configs/*.toml``, the
format until commit 9810191bb of 2026-02-23 replaced it by Python configs) is
recognised by a ``[model]`` table with ``name``/``flavor`` next to
``[parallelism]`` ``*_degree`` keys or ``[training]``. It is read with
deploylint's TOML loader, so every value keeps its exact span and a fix edits
that value's token.

TorchTitan semantics (``torchtitan/distributed/parallel_dims.py``, TOML era
at 238fa99): the world is dp_replicate · dp_shard · cp · tp · pp, and
``data_parallel_shard_degree = -1`` means "the rest" of the world; FSDP
shards parameters, gradients and optimizer states over dp_shard (ZeRO-3,
HSDP when dp_replicate > 1); ``global_batch_size = -1`` means local batch × dp.
The model comes from ``[model] name``/``flavor`` through :data:`FLAVORS` (or a
local ``hf_assets_path`` folder holding a config.json). The world size is not
in the file: it comes from ``--num-devices``/the configuration, else from the
file's own comment "preset for N … GPUs" (reported as an inference).
"""

from __future__ import annotations

import os
import re

from deploylint.core.document import pointer as jp
from deploylint.core import Derived, Rule, Severity, hookimpl
from deploylint.core.document.writers.span_writer import Binding

from ._training import PlanBuilder, as_int, refuse, shard_size, world_gives_dp

STARTUP_CHECKS = {
    "world": ("Invalid parallel dims: dp_replicate({dp_replicate}) * dp_shard({dp_shard}) * cp({cp}) * tp({tp}) * "
              "pp({pp}) != WORLD_SIZE({world})", "torchtitan/distributed/parallel_dims.py:182-185"),
    "expert_grid": ("expert_parallel_degree ({ep}) must divide dp_shard * cp * tp ({shard_region})",
                    "torchtitan/distributed/parallel_dims.py:187-192"),
    "experts": ("num_experts ({experts}) must be divisible by expert_parallel_degree ({ep}).",
                "torchtitan/models/common/decoder.py:201-208"),
    "heads": ("tensor_parallel_degree ({tp}) must divide n_heads ({heads}).",
              "torchtitan/models/common/decoder.py:185-199"),
    "kv_heads_replicated": ("tensor_parallel_degree ({tp}) must divide n_kv_heads ({kv}).",
                            "torchtitan/models/common/decoder.py:185-199"),
    "kv_heads_split": ("tensor_parallel_degree ({tp}) must divide n_kv_heads ({kv}).",
                       "torchtitan/models/common/decoder.py:185-199"),
    "batch": ("global batch size must be multiple of local batch size times data-parallel degree",
              "torchtitan/train.py:203-209 at 238fa99"),
}

#: (model name, flavor) → the Hugging Face model whose architecture the flavor defines, field for field:
#: llama3 8B/70B/405B = dim 4096/8192/16384, 32/80/126 layers, 32/64/128 heads, 8 KV heads, MLP
#: 14336/28672/53248 (torchtitan/models/llama3/__init__.py, llama3_configs) = Llama 3.1; deepseek_v3 671B
#: (torchtitan/models/deepseek_v3/__init__.py) = DeepSeek-V3; qwen3 32B (torchtitan/models/qwen3/__init__.py:
#: dim 5120, 64 layers, 64/8 heads, head_dim 128, MLP 25600) = Qwen3-32B. Resolved offline by the bundled catalog.
FLAVORS = {
    ("llama3", "8B"): "meta-llama/Llama-3.1-8B",
    ("llama3", "70B"): "meta-llama/Llama-3.1-70B",
    ("llama3", "405B"): "meta-llama/Llama-3.1-405B",
    ("deepseek_v3", "671B"): "deepseek-ai/DeepSeek-V3",
    ("qwen3", "32B"): "Qwen/Qwen3-32B",
}


def _llama4(experts: int, moe_every: int) -> dict:
    """The [model] fields of a TorchTitan llama4 flavor (torchtitan/models/llama4/__init__.py:38-60 at 238fa99:
    dim 5120, 48 layers, 40 heads, 8 KV heads, ffn_dim_multiplier 1.2, multiple_of 2048; defaults of
    model/args.py:29-64: vocab 202048, interleave_moe_layer_step 2, auto_scale_hidden_dim; moe/moe.py:22-38 MoEArgs:
    top_k 1, one shared expert). Widths as the model computes them: the dense MLP (model/model.py:326-330)
    2048·ceil(int(1.2·int(2·4·5120/3)) / 2048) = 16384; an expert (model.py:390-402) int(16383 / (top_k 1 + 1
    shared)) = 8191 rounded up to 8192, the shared expert the same width (moe.py:445-447); a separate output
    layer (model.py:495)."""
    return {"layers": 48, "hidden_size": 5120, "num_attention_heads": 40, "num_kv_heads": 8, "head_dim": 128,
            "ffn_hidden_size": 16384, "ffn_activation": "swiglu", "vocab_size": 202048, "tie_embeddings": False,
            "moe": {"num_experts": experts, "top_k": 1, "expert_ffn_hidden_size": 8192, "shared_experts": 1,
                    "shared_expert_ffn_hidden_size": 8192, "layer_frequency": moe_every}}


#: flavors TorchTitan defines itself (no Hugging Face config in deploylint's catalog): their [model] fields.
#: 17bx16e sets interleave_moe_layer_step=1 (every layer MoE), 17bx128e keeps the default 2 (every second
#: layer, (layer_id + 1) % 2 == 0, model.py:387); the _irope variants differ only in attention masking.
ARCHITECTURES = {
    ("llama4", "17bx16e"): _llama4(16, 1), ("llama4", "17bx16e_irope"): _llama4(16, 1),
    ("llama4", "17bx128e"): _llama4(128, 2), ("llama4", "17bx128e_irope"): _llama4(128, 2),
}

_PRESET = re.compile(r"#.*?preset for (\d+) [\w-]* ?GPUs", re.I)


def _looks_like_torchtitan(data) -> bool:
    if not isinstance(data, dict) or "schema_version" in data:
        return False
    model, par = data.get("model"), data.get("parallelism")
    if not isinstance(model, dict) or "flavor" not in model:
        return False
    return isinstance(par, dict) and any(str(k).endswith("_degree") for k in par) or isinstance(data.get("training"), dict)


def read(path: str, text: str):
    if not path.lower().endswith(".toml") or "flavor" not in text:
        return None
    from deploylint.core.document.sources import SourceError, load

    try:
        src = load(path, text, "toml")
    except SourceError:
        return None          # not readable TOML: the built-in loader reports it if the file is a plan
    if not _looks_like_torchtitan(src.data):
        return None
    data, spans = src.data, src.spans
    b = PlanBuilder(path, text, "torchtitan", "toml")
    whole = spans.get("/model")
    b.anchor(whole.key or whole.value if whole else _first_line(text))

    def take(file_ptr, plan_ptr, *, minimum=1, value=None):
        node = spans.get(file_ptr)
        v = jp.resolve(data, file_ptr, None) if value is None else value
        if v is None:
            return None
        n = as_int(v) if not isinstance(v, bool) else None
        if n is None or n < minimum:
            b.skip(f"{file_ptr.strip('/').replace('/', '.')} = {v!r}: not a size deploylint reads", plan_ptr)
            return None
        b.put(plan_ptr, n, node.value if node else None, key=node.key if node else None,
              binding=node.value if node else None)
        return n

    # -- the model ------------------------------------------------------------------------------------------
    name, flavor = jp.resolve(data, "/model/name", None), jp.resolve(data, "/model/flavor", None)
    known = (name, str(flavor)) if isinstance(name, str) else None        # a table or list names no flavor
    assets = jp.resolve(data, "/model/hf_assets_path", None)
    folder = os.path.join(os.path.dirname(os.path.abspath(path)), assets) if isinstance(assets, str) else None
    if folder and os.path.isfile(os.path.join(folder, "config.json")):
        b.put("/model/id", folder, spans["/model/hf_assets_path"].value if "/model/hf_assets_path" in spans else None)
    elif known in FLAVORS:
        at = spans.get("/model/flavor")
        b.put("/model/id", FLAVORS[known], at.value if at else None)
    elif known in ARCHITECTURES:
        at = spans.get("/model/flavor")
        for key, value in ARCHITECTURES[known].items():
            b.put(f"/model/{key}", dict(value) if isinstance(value, dict) else value)
        if at is not None:
            b.spans["/model"] = type(at)(at.value, at.key)   # findings about the architecture land on the flavor
    else:
        b.skip(f"model {name!r} flavor {flavor!r}: not in deploylint's table of TorchTitan flavors and "
               f"hf_assets_path {assets!r} holds no config.json next to this file", "/model")

    # -- the world -------------------------------------------------------------------------------------------
    par = data.get("parallelism") or {}
    tp = take("/parallelism/tensor_parallel_degree", "/parallelism/tp") or 1
    pp = take("/parallelism/pipeline_parallel_degree", "/parallelism/pp") or 1
    cp = take("/parallelism/context_parallel_degree", "/parallelism/cp") or 1
    ep = take("/parallelism/expert_parallel_degree", "/parallelism/ep")
    etp = take("/parallelism/expert_tensor_parallel_degree", "/parallelism/etp")
    if ep and etp is None:
        b.put("/parallelism/etp", 1)
    replicate = as_int(par.get("data_parallel_replicate_degree", 1))
    shard = as_int(par.get("data_parallel_shard_degree", -1))
    preset = _PRESET.search(text)
    world = None
    if preset:
        world = int(preset.group(1))
        b.put("/hardware/num_devices", world, _span_of(preset, 1),
              origin=f"hardware.num_devices = {world}: the file's comment \"{preset.group(0).lstrip('# ')}\" "
                     f"(line {text.count(chr(10), 0, preset.start()) + 1}); --num-devices overrides it")
    if replicate is None or replicate < 1 or shard is None or shard == 0 or shard < -1:
        b.skip("data_parallel_replicate_degree / data_parallel_shard_degree: not sizes deploylint reads", "/parallelism")
    else:
        at = spans.get("/parallelism/data_parallel_shard_degree")
        if shard == -1:
            # "the rest": dp_shard = world // (dp_replicate·cp·tp·pp) (parallel_dims.py), so dp = world // (cp·tp·pp),
            # which is what the plan derives from the device count once it is known (file comment, --num-devices)
            b.put("/parallelism/zero_stage", 3)
            if replicate > 1:
                b.skip("data_parallel_shard_degree = -1 with data_parallel_replicate_degree > 1: the estimate "
                       "shards over all data-parallel ranks", "/parallelism/dp")
            elif at is not None:
                b.spans["/parallelism/dp"] = at
        else:
            b.put("/parallelism/dp", replicate * shard, at.value if at else None,
                  binding=Binding(at.value.start, at.value.end, render=lambda dp: shard_size(
                      dp, replicate, "TorchTitan", "data_parallel_replicate_degree", "data_parallel_shard_degree"))
                  if at else None)
            b.put("/training/dp_shard", shard, at.value if at else None)
            b.put("/parallelism/zero_stage", 3 if shard > 1 else 0)

    # -- batch, sequence, memory savers --------------------------------------------------------------------------
    local = take("/training/local_batch_size", "/parallelism/micro_batch_size")
    take("/training/seq_len", "/workload/seq_len")
    glob = as_int(jp.resolve(data, "/training/global_batch_size", None))
    if glob is not None and glob > 0:
        take("/training/global_batch_size", "/workload/batch_size")
    elif local and (glob == -1 or "/training/global_batch_size" not in spans):
        # global_batch_size -1 (the default) is local × dp (train.py:203-209), dp being known only once the world
        # is: the fill step computes it then (from the comment, --num-devices or the configuration)
        written = spans.get("/training/global_batch_size")
        at = written or spans["/training/local_batch_size"]
        b.spans["/workload/batch_size"] = type(at)(at.value, at.key)
        if written is not None:
            b.bindings["/workload/batch_size"] = Binding(written.value.start, written.value.end)
        b.derived["/workload/batch_size"] = Derived(local, ("dp",), "global_batch_size -1 is local_batch_size × dp"
                                                    if written else "global_batch_size unset (TorchTitan's default -1) "
                                                    "is local_batch_size × dp")
    elif glob is not None:
        b.skip(f"training.global_batch_size = {glob}: not a size deploylint reads", "/workload/batch_size")
    mode = jp.resolve(data, "/activation_checkpoint/mode", "selective")    # job_config.py ActivationCheckpoint.mode
    at = spans.get("/activation_checkpoint/mode")
    inside = Binding(at.value.start + 1, at.value.end - 1) if at and text[at.value.start] in "\"'" else None
    if mode in ("none", "selective", "full"):
        b.put("/parallelism/recompute", mode, at.value if at else None, binding=inside)    # a fix keeps the quotes
    else:
        # counted as full recompute, the least activation memory any mode keeps: no out-of-memory built on a guess
        b.put("/parallelism/recompute", "full", at.value if at else None,
              binding=inside if isinstance(mode, str) else None)
        if mode == "memory_budget":
            b.skip("activation_checkpoint.mode = \"memory_budget\" (the compiler chooses what to recompute under "
                   "activation_checkpoint.memory_budget): counted as full recompute, the least activation memory and "
                   "the most recomputed FLOPs", "/parallelism/recompute")
        else:
            b.engine["invalid_ac_mode"] = mode          # TTN003: TorchTitan stops at it
    b.put("/workload/dtype", "bf16")    # mixed_precision_param default bfloat16; float8 converters are not read
    if "float8" in str(jp.resolve(data, "/model/converters", None)):
        b.skip("float8 training (converters = [\"float8\"]): the estimate counts bf16 weights and compute")
    if "id" not in b.data["model"]:
        b.placeholders({})

    def insert(pointer, value):
        return _insert(b, text, pointer, value, shard, world)

    return [b.document(lambda new: read(path, new)[0], insert)]


def _insert(b: PlanBuilder, text: str, pointer: str, value, shard, world):
    """Where a value the file does not write goes (``SpanWriter`` insert), or an explained refusal."""
    par = b.data["parallelism"]
    if pointer == "/parallelism/dp" and shard == -1:
        from deploylint.core.plan.resolve import model_parallel_size

        if world_gives_dp(par, world, value):
            return len(text), ""     # data_parallel_shard_degree = -1 takes the rest of the world: nothing to write
        size = model_parallel_size(par)
        refuse(f"TorchTitan's dp is data_parallel_shard_degree = -1, the rest of the world ({world} GPUs / "
                f"tp·pp·cp {size}); dp = {value} needs {value * size if isinstance(value, int) else '?'} GPUs: run the "
                "job on that many (NGPU of run_train.sh, or the launcher's --nproc_per_node × --nnodes)")
    if pointer == "/parallelism/zero_stage":
        current = par.get("zero_stage")
        if value == current:
            return len(text), ""
        refuse(f"TorchTitan shards parameters, gradients and optimizer states with FSDP over "
                f"data_parallel_shard_degree (ZeRO-3 when it is above 1); it has no setting for ZeRO stage {value}")
    if pointer == "/workload/batch_size" and isinstance(value, int) and "/parallelism/micro_batch_size" in b.spans:
        # global_batch_size left to its default (local × dp): written next to local_batch_size
        at = b.spans["/parallelism/micro_batch_size"].value.end
        end = text.find("\n", at)
        return (len(text), f"\nglobal_batch_size = {value}\n") if end < 0 else (end + 1, f"global_batch_size = {value}\n")
    if pointer == "/parallelism/recompute" and value in ("none", "selective", "full"):
        header = re.search(r"^\[activation_checkpoint\][ \t]*(?:#[^\n]*)?\r?\n", text, re.M)
        if header:
            return header.end(), f'mode = "{value}"\n'
        return len(text), ("" if text.endswith("\n") or not text else "\n") + f'\n[activation_checkpoint]\nmode = "{value}"\n'
    return None



def _span_of(m, group):
    from deploylint.core import Span

    return Span(m.start(group), m.end(group))


def _first_line(text):
    from deploylint.core import Span

    end = text.find("\n")
    return Span(0, len(text) if end < 0 else end)


class _TorchTitanRule(Rule):
    requires = frozenset()

    def applies(self, ctx) -> bool:
        return ctx.plan.training.framework == "torchtitan"


class ExpertTensorParallel(_TorchTitanRule):
    code = "TTN001"
    name = "torchtitan-etp"
    severity = Severity.ERROR
    summary = "TorchTitan: expert_tensor_parallel_degree must be 1 or tensor_parallel_degree."
    explanation = """
        TorchTitan builds the expert mesh either without tensor parallelism
        inside the experts or with the whole tensor-parallel group, and any
        other expert tensor-parallel degree stops the job at start-up:
        "Currently we only support ETP=TP or ETP=1"
        (torchtitan/distributed/parallel_dims.py:59 at 238fa99).
    """
    bad_example = "[parallelism]\ntensor_parallel_degree = 4\nexpert_parallel_degree = 8\nexpert_tensor_parallel_degree = 2"
    good_example = "[parallelism]\ntensor_parallel_degree = 4\nexpert_parallel_degree = 8\nexpert_tensor_parallel_degree = 1"
    fix_safety = "Unsafe: a different expert layout."

    def check(self, ctx):
        from deploylint.core import Fix

        par = ctx.plan.parallelism
        if not self.applies(ctx) or par.etp in (1, par.tp):
            return
        yield self.report("/parallelism/etp", f"expert_tensor_parallel_degree = {par.etp} with tp = {par.tp}: "
                          "TorchTitan refuses to start: \"Currently we only support ETP=TP or ETP=1\" "
                          "(torchtitan/distributed/parallel_dims.py:59 at 238fa99)",
                          data={"etp": par.etp, "tp": par.tp},
                          fixes=[Fix.set("/parallelism/etp", 1, "set expert_tensor_parallel_degree = 1",
                                         applicability="unsafe")])


class ExpertRegion(_TorchTitanRule):
    code = "TTN002"
    name = "torchtitan-ep-region"
    severity = Severity.ERROR
    summary = "TorchTitan: expert_parallel_degree must divide dp_shard · cp · tp."
    explanation = """
        TorchTitan carves the expert-parallel group out of the FSDP-sharded,
        context- and tensor-parallel ranks — not the replicated ones — so
        "expert_parallel_degree ({ep}) must divide dp_shard * cp * tp ({n})"
        (torchtitan/distributed/parallel_dims.py:187-192). With HSDP
        (dp_replicate > 1) this is stricter than ep dividing all of a stage's
        devices (PAR401).
    """
    bad_example = "[parallelism]\ndata_parallel_replicate_degree = 4\ndata_parallel_shard_degree = 2\nexpert_parallel_degree = 8"
    good_example = "[parallelism]\ndata_parallel_replicate_degree = 1\ndata_parallel_shard_degree = 8\nexpert_parallel_degree = 8"
    fix_safety = "No fix: the split between replicate and shard is yours to choose."

    def check(self, ctx):
        par, shard = ctx.plan.parallelism, ctx.plan.training.dp_shard
        if not self.applies(ctx) or ctx.plan.model.moe is None or par.ep <= 1 or shard is None:
            return
        region = shard * par.cp * par.tp
        stage = par.tp * par.cp * par.dp
        if region % par.ep == 0 or stage % (par.ep * par.etp):
            return          # fine, or already PAR401 (with TorchTitan's message)
        yield self.report("/parallelism/ep", f"TorchTitan refuses to start: \"expert_parallel_degree ({par.ep}) must "
                          f"divide dp_shard * cp * tp ({region})\" (torchtitan/distributed/parallel_dims.py:187-192)",
                          data={"ep": par.ep, "dp_shard": shard, "cp": par.cp, "tp": par.tp, "region": region})


class InvalidCheckpointMode(_TorchTitanRule):
    code = "TTN003"
    name = "torchtitan-ac-mode"
    severity = Severity.ERROR
    summary = "TorchTitan: [activation_checkpoint] mode is none of none, selective, full or memory_budget."
    explanation = """
        TorchTitan applies activation checkpointing per transformer block and
        accepts "full" or "selective" there ("none" skips it and
        "memory_budget" hands the choice to the compiler); any other mode
        stops the job when the model is built: "Invalid AC mode: … Valid
        modes: ('full', 'selective')"
        (torchtitan/distributed/activation_checkpoint.py,
        _apply_ac_to_transformer_block). deploylint counts such a file's
        activations as with full recompute, the least memory any mode keeps,
        so no memory finding rests on the mistyped word.
    """
    bad_example = '[activation_checkpoint]\nmode = "fulll"'
    good_example = '[activation_checkpoint]\nmode = "full"'
    fix_safety = "Unsafe: the mode you meant is yours to say; the fixes offer the near one."

    def check(self, ctx):
        from deploylint.core import Fix

        mode = ctx.document.engine.get("invalid_ac_mode")
        if not self.applies(ctx) or mode is None:
            return
        fixes = []
        if isinstance(mode, str):
            import difflib  # only when a suggestion is needed

            fixes = [Fix.set("/parallelism/recompute", m, f"use mode = {m!r}", applicability="unsafe")
                     for m in difflib.get_close_matches(mode.lower(), ["full", "selective", "none"], n=1, cutoff=0.5)]
        yield self.report("/parallelism/recompute", f"activation_checkpoint.mode = {mode!r} is not a mode TorchTitan "
                          "knows: it refuses to start: \"Invalid AC mode\" "
                          "(torchtitan/distributed/activation_checkpoint.py); the estimate counts full recompute",
                          data={"mode": mode if isinstance(mode, (str, int, float)) else repr(mode)}, fixes=fixes)


@hookimpl
def deploylint_rules():
    return [ExpertTensorParallel(), ExpertRegion(), InvalidCheckpointMode()]


@hookimpl
def deploylint_source(path, text):
    return read(path, text)
