"""DeepSpeed ``ds_config`` JSON files, linted in place, and DeepSpeed's batch identity.

A ds_config is recognised by its top-level keys (``train_batch_size``,
``train_micro_batch_size_per_gpu``, ``gradient_accumulation_steps``,
``zero_optimization``) and read with deploylint's JSON loader, so every value
keeps its exact span and a fix edits that token.

DeepSpeed semantics (``deepspeed/runtime/config.py`` at edaa722):
``train_batch_size = train_micro_batch_size_per_gpu × gradient_accumulation_steps
× data-parallel size`` (world / (tp·pp·sp), ``config.py:705-728``); a missing
one of the three is derived by floor division (``config.py:942-980``), so a
batch the others do not divide fails the identity (``config.py:937-940``).
``"auto"`` (filled in later by the Hugging Face Trainer or Accelerate) is
unknown, never a default. ``zero_optimization.stage`` (0–3) and
``offload_optimizer.device``/``offload_param.device`` go into the memory
estimate; ``bf16.enabled``/``fp16.enabled`` set the dtype;
``tensor_parallel.autotp_size`` is tp. The model, the sequence length and the
world size are not in a ds_config: they come from ``--num-devices``,
``[tool.deploylint.hardware]``/``[tool.deploylint.workload]``.
"""

from __future__ import annotations

from deploylint.core.document import pointer as jp
from deploylint.core import Derived, Rule, Severity, hookimpl

from ._training import PlanBuilder, as_int

STARTUP_CHECKS = {
    "batch": ("Check batch related parameters. train_batch_size is not equal to micro_batch_per_gpu * "
              "gradient_acc_step * world_size {batch} != {micro} * {gas} * {dp}", "deepspeed/runtime/config.py:937-940"),
}

_KEYS = ("train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "zero_optimization")


def read(path: str, text: str):
    if not path.lower().endswith(".json") or not any(f'"{k}"' in text for k in _KEYS):
        return None
    from deploylint.core.document.sources import SourceError, load

    try:
        src = load(path, text, "json")
    except SourceError:
        return None
    data = src.data
    if not isinstance(data, dict) or "schema_version" in data or not any(k in data for k in _KEYS):
        return None
    spans = src.spans
    b = PlanBuilder(path, text, "deepspeed", "json")
    root = spans.get("")
    b.anchor(root.value if root else _span(0, min(1, len(text))))
    for key in _KEYS:          # findings about a value the file leaves out land on the first key it has
        if f"/{key}" in spans and spans[f"/{key}"].key is not None:
            b.anchor(spans[f"/{key}"].key)
            break

    def take(file_ptr, plan_ptr, minimum=1):
        v = jp.resolve(data, file_ptr, None)
        if v is None:
            return None
        node = spans.get(file_ptr)
        if v == "auto":
            b.skip(f"{file_ptr.strip('/').replace('/', '.')} = \"auto\" (filled in by the launcher at run time)", plan_ptr)
            return None
        n = as_int(v) if not isinstance(v, float) or v.is_integer() else None
        if isinstance(v, float) and v.is_integer():
            n = int(v)
        if n is None or n < minimum:
            b.skip(f"{file_ptr.strip('/').replace('/', '.')} = {v!r}: not a size deploylint reads", plan_ptr)
            return None
        b.put(plan_ptr, n, node.value if node else None, key=node.key if node else None,
              binding=node.value if node else None)
        return n

    batch = take("/train_batch_size", "/workload/batch_size")
    micro = take("/train_micro_batch_size_per_gpu", "/parallelism/micro_batch_size")
    take("/gradient_accumulation_steps", "/training/gradient_accumulation_steps")
    take("/tensor_parallel/autotp_size", "/parallelism/tp")
    stage = jp.resolve(data, "/zero_optimization/stage", None)
    if stage is not None:
        take("/zero_optimization/stage", "/parallelism/zero_stage", minimum=0)
    for file_ptr, plan_ptr in (("/zero_optimization/offload_optimizer/device", "/parallelism/offload_optimizer"),
                               ("/zero_optimization/offload_param/device", "/parallelism/offload_params")):
        device = jp.resolve(data, file_ptr, None)
        if device in ("cpu", "nvme", "none"):
            node = spans.get(file_ptr)
            b.put(plan_ptr, device, node.value if node else None)
        elif device is not None:
            b.skip(f"{file_ptr.strip('/').replace('/', '.')} = {device!r}", plan_ptr)
    # DeepSpeed reads "bf16", else the older "bfloat16" (deepspeed/runtime/precision_config.py:34-38)
    bf16_key = "/bf16" if isinstance(data.get("bf16"), dict) else "/bfloat16"
    bf16, fp16 = jp.resolve(data, bf16_key + "/enabled", None), jp.resolve(data, "/fp16/enabled", None)
    if bf16 == "auto" or fp16 == "auto":
        b.skip("bf16/fp16 enabled = \"auto\": the dtype is set at run time", "/workload/dtype")
    dtype_node = spans.get((bf16_key if bf16 is True else "/fp16") + "/enabled")
    b.put("/workload/dtype", "bf16" if bf16 is True else "fp16" if fp16 is True else "fp32",
          dtype_node.value if dtype_node and (bf16 is True or fp16 is True) else None)
    if bf16 is True and fp16 is True:
        both = {"bf16": spans.get(bf16_key + "/enabled"), "fp16": spans.get("/fp16/enabled")}
        b.engine["both_precisions"] = {k: (n.value.start, n.value.end) for k, n in both.items() if n is not None}
        b.engine["bf16_key"] = bf16_key.strip("/")
    gas = b.get("/training/gradient_accumulation_steps")
    if "train_batch_size" not in data and micro is not None and (gas is not None or "gradient_accumulation_steps"
                                                                 not in data):
        # train_batch_size left out: micro × gradient accumulation (1 when also left out) × dp (config.py:942-980),
        # dp being known once the world is: the fill step computes it then
        b.derived["/workload/batch_size"] = Derived(micro * (gas or 1), ("dp",), (
            "train_batch_size left out is train_micro_batch_size_per_gpu × gradient_accumulation_steps × dp"
            if gas is not None else "train_batch_size and gradient_accumulation_steps left out: "
            "train_micro_batch_size_per_gpu × dp"))
    if batch is None and micro is None:
        b.skip("the batch: neither train_batch_size nor train_micro_batch_size_per_gpu is a number", "/workload")
    b.skip("the model: a ds_config does not name it (the training script does; name it with "
           "[tool.deploylint.models] \"glob\" = { id = \"org/name\" })", "/model")
    b.placeholders({})
    first = min((n.key for p, n in spans.items() if p.count("/") == 1 and n.key is not None),
                key=lambda k: k.start, default=None)

    def insert(pointer, value):
        if pointer != "/workload/batch_size" or first is None or isinstance(value, bool) or not isinstance(value, int):
            return None
        # train_batch_size left out (micro × accumulation × dp): written as the first key, indented like it
        indent = text[text.rfind("\n", 0, first.start) + 1:first.start]
        return first.start, f'"train_batch_size": {value},' + (f"\n{indent}" if not indent.strip() else " ")

    return [b.document(lambda new: read(path, new)[0], insert)]



def _span(a, b_):
    from deploylint.core import Span

    return Span(a, b_)


class BatchIdentity(Rule):
    code = "DSP001"
    name = "deepspeed-batch-identity"
    severity = Severity.ERROR
    summary = "DeepSpeed: train_batch_size ≠ micro batch × gradient accumulation × data-parallel size."
    explanation = """
        DeepSpeed checks at start-up that "train_batch_size is not equal to
        micro_batch_per_gpu * gradient_acc_step * world_size"
        (deepspeed/runtime/config.py:937-940), the world size being the
        data-parallel size (config.py:705-728). Given two of the three, it
        derives the third by floor division (config.py:942-980): a batch the
        others do not divide fails the same check. With all three written, a
        batch that micro × gradient accumulation does not divide fits no world
        size at all.
    """
    bad_example = '{"train_batch_size": 256, "train_micro_batch_size_per_gpu": 8, "gradient_accumulation_steps": 3}'
    good_example = '{"train_batch_size": 256, "train_micro_batch_size_per_gpu": 8, "gradient_accumulation_steps": 4}'
    fix_safety = "Unsafe: a different batch is different training."
    requires = frozenset()

    def check(self, ctx):
        if ctx.plan.training.framework != "deepspeed":
            return
        written = ctx.document.spans
        has = {k: k in written for k in ("/workload/batch_size", "/parallelism/micro_batch_size",
                                         "/training/gradient_accumulation_steps")}
        B, m = ctx.plan.workload.batch_size, ctx.plan.parallelism.micro_batch_size
        g = ctx.plan.training.gradient_accumulation_steps
        dp = ctx.plan.parallelism.dp
        known_world = "devices" not in ctx.plan.unknown
        if all(has.values()):
            if B % (m * g):
                yield self.report("/workload/batch_size",
                                  f"train_batch_size {B} is not a multiple of micro batch × gradient accumulation = "
                                  f"{m} × {g} = {m * g}: no world size satisfies DeepSpeed's check \"train_batch_size "
                                  "is not equal to micro_batch_per_gpu * gradient_acc_step * world_size\" "
                                  "(deepspeed/runtime/config.py:937-940)",
                                  data={"batch_size": B, "micro_batch_size": m, "gradient_accumulation_steps": g})
            elif known_world and B != m * g * dp:
                yield self.report("/workload/batch_size",
                                  f"DeepSpeed refuses to start: \"Check batch related parameters. train_batch_size is "
                                  f"not equal to micro_batch_per_gpu * gradient_acc_step * world_size {B} != {m} * {g} "
                                  f"* {dp}\" (deepspeed/runtime/config.py:937-940); this batch needs "
                                  f"{B // (m * g)} data-parallel ranks",
                                  data={"batch_size": B, "micro_batch_size": m, "gradient_accumulation_steps": g,
                                        "dp": dp, "dp_needed": B // (m * g)})
            return
        if not known_world or not has["/workload/batch_size"]:
            return
        if has["/parallelism/micro_batch_size"] and "workload" not in ctx.plan.unknown:
            return          # PAR406 checks batch % (micro × dp), with DeepSpeed's message
        divisor = m * dp if has["/parallelism/micro_batch_size"] else (g or 1) * dp
        if B % divisor:
            other = "micro batch" if has["/parallelism/micro_batch_size"] else "gradient accumulation"
            value = m if has["/parallelism/micro_batch_size"] else g or 1
            yield self.report("/workload/batch_size",
                              f"train_batch_size {B} is not a multiple of {other} × data-parallel size = {value} × {dp}"
                              f" = {divisor}: DeepSpeed derives the missing value by floor division and then fails "
                              "\"train_batch_size is not equal to micro_batch_per_gpu * gradient_acc_step * "
                              "world_size\" (deepspeed/runtime/config.py:937-980)",
                              data={"batch_size": B, "multiple_of": divisor, "dp": dp})


class BothPrecisions(Rule):
    code = "DSP002"
    name = "deepspeed-bf16-and-fp16"
    severity = Severity.ERROR
    summary = "DeepSpeed: bf16 and fp16 are both enabled."
    explanation = """
        A ds_config may enable one mixed-precision mode. DeepSpeed asserts it
        when the engine reads the config, before the first step: "bfloat16
        and fp16 modes cannot be simultaneously enabled"
        (deepspeed/runtime/config.py:827-828; "bf16", else the older
        "bfloat16" section, deepspeed/runtime/precision_config.py:34-38).
    """
    bad_example = '{"train_batch_size": 32, "bf16": {"enabled": true}, "fp16": {"enabled": true}}'
    good_example = '{"train_batch_size": 32, "bf16": {"enabled": true}, "fp16": {"enabled": false}}'
    fix_safety = "No fix: which precision you meant is yours to say."
    requires = frozenset()

    def check(self, ctx):
        from deploylint.core import Related

        both = ctx.document.engine.get("both_precisions") if ctx.plan.training.framework == "deepspeed" else None
        if not both:
            return
        key = ctx.document.engine.get("bf16_key", "bf16")
        related = tuple(Related("fp16.enabled is true here", start=s, end=e) for s, e in [both["fp16"]]
                        ) if "fp16" in both else ()
        yield self.report("/workload/dtype",
                          f"{key}.enabled and fp16.enabled are both true: DeepSpeed refuses to start: \"bfloat16 and "
                          "fp16 modes cannot be simultaneously enabled\" (deepspeed/runtime/config.py:827-828)",
                          data={"bf16": True, "fp16": True}).with_(related=related)


@hookimpl
def deploylint_rules():
    return [BatchIdentity(), BothPrecisions()]


@hookimpl
def deploylint_source(path, text):
    return read(path, text)
