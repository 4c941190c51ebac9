"""SGLang: ``python -m sglang.launch_server`` (also ``sglang serve`` and Dynamo's ``python -m dynamo.sglang``,
which takes the same flags) in scripts and Kubernetes manifests, read in place, with SGLang's own
start-up checks as rules.

World composition (SGLang 0.5.23, ``python/sglang/srt/arg_groups/fields/parallel.py:317-347``,
``model_executor/model_runner_components/moe_ep_setup.py:150-165``): ``--tp-size`` is the width of the
whole replica (across nodes); ``--dp-size`` adds replicas, except with ``--enable-dp-attention``, where
attention runs data-parallel *inside* the tp GPUs (no extra GPU): attention TP = tp/dp. Expert
parallelism is carved out of tp: ep = ``--ep-size`` (forced to tp by ``--moe-a2a-backend deepep`` and the
old ``--enable-ep-moe`` / ``--enable-deepep-moe``), MoE TP = tp/ep. Flags may be abbreviated to any
unambiguous prefix (argparse): ``--tp 8`` is ``--tp-size 8``.
"""

from __future__ import annotations

from deploylint.core import Rule, Severity, StartupCheck, hookimpl
from deploylint.core.document.writers.span_writer import plain_token

from . import _serving as sv
from ._serving import Flag

ENGINE = "SGLang"

#: how SGLang 0.5.23 judges the conditions the generic rules check (core/plan/startup.py lists them); tp here
#: is attention TP (tp_size / attention DP), as in the plan
STARTUP_CHECKS = {
    "heads": StartupCheck("assert self.total_num_heads % tp_size == 0 (a bare AssertionError)",
                          "python/sglang/srt/models/llama.py:183-193"),
    "kv_heads_replicated": StartupCheck("its assertion allows tp_size % total_num_kv_heads == 0 and replicates "
                                        "the KV heads", "python/sglang/srt/models/llama.py:183-193", refuses=False),
    "kv_heads_split": StartupCheck("assert self.total_num_kv_heads % tp_size == 0 / assert tp_size % "
                                   "self.total_num_kv_heads == 0 (a bare AssertionError)",
                                   "python/sglang/srt/models/llama.py:183-193"),
    "experts": StartupCheck("assert num_physical_experts % ep_size == 0 ({physical} physical experts, ep_size {ep}; "
                            "a bare AssertionError after the weights are loaded)",
                            "python/sglang/srt/eplb/expert_location.py:54,256"),
}

#: SGLang 0.5.23 flags deploylint reads (python/sglang/srt/arg_groups/fields/*.py)
FLAGS = [
    Flag("model", ("--model-path", "--model")),
    Flag("tp", ("--tp-size", "--tensor-parallel-size"), "int"), Flag("pp", ("--pp-size", "--pipeline-parallel-size"), "int"),
    Flag("dp", ("--dp-size", "--data-parallel-size"), "int"), Flag("attn_dp", ("--attn-dp-size",), "int"),
    Flag("dp_attention", ("--enable-dp-attention",), "bool"),
    Flag("ep", ("--ep-size", "--expert-parallel-size", "--ep"), "int"),
    Flag("a2a", ("--moe-a2a-backend",)), Flag("ep_moe", ("--enable-ep-moe",), "bool"),
    Flag("deepep_moe", ("--enable-deepep-moe",), "bool"),
    Flag("redundant", ("--ep-num-redundant-experts",), "int"), Flag("dense_tp", ("--moe-dense-tp-size",), "int"),
    Flag("nnodes", ("--nnodes",), "int"), Flag("node_rank", ("--node-rank",), "int", used=False),
    Flag("dtype", ("--dtype",)), Flag("quantization", ("--quantization",)), Flag("kv_cache_dtype", ("--kv-cache-dtype",)),
    Flag("context_length", ("--context-length",), "int"), Flag("max_running", ("--max-running-requests",), "int"),
    Flag("chunked_prefill", ("--chunked-prefill-size",), "int"),
    Flag("mem_fraction", ("--mem-fraction-static",), "float"),
    Flag("config", ("--config",)),
]
IGNORED = [Flag(n.lstrip("-").replace("-", "_"), (n,), used=False) for n in (
    "--host", "--port", "--served-model-name", "--dist-init-addr", "--tokenizer-path", "--page-size",
    "--max-total-tokens", "--cuda-graph-max-bs", "--cuda-graph-bs", "--disaggregation-mode", "--disaggregation-ib-device",
    "--disaggregation-bootstrap-port", "--disaggregation-transfer-backend", "--deepep-mode", "--deepep-config",
    "--attention-backend", "--moe-runner-backend", "--load-balance-method", "--speculative-algorithm",
    "--speculative-num-steps", "--speculative-eagle-topk", "--speculative-num-draft-tokens", "--log-level",
    "--decode-log-interval", "--watchdog-timeout", "--eplb-algorithm", "--init-expert-location",
    "--max-prefill-tokens", "--stream-interval", "--tool-call-parser", "--reasoning-parser", "--chat-template",
    "--kv-cache-quant-algo", "--schedule-policy", "--api-key", "--download-dir", "--revision",
    "--pp-max-micro-batch-size", "--pp-async-batch-depth")] + \
    [Flag(n.lstrip("-").replace("-", "_"), (n,), "bool", used=False) for n in (
        "--trust-remote-code", "--enable-two-batch-overlap", "--enable-eplb", "--disable-radix-cache",
        "--enable-metrics", "--disable-cuda-graph", "--enable-torch-compile", "--prefill-round-robin-balance",
        "--enable-dp-lm-head", "--disable-shared-experts-fusion", "--enable-mixed-chunk", "--skip-server-warmup",
        "--enable-deepep-moe-expert-balancing")]
TABLE = FLAGS + IGNORED
_ENTRIES = ("sglang.launch_server", "dynamo.sglang")


def entry(words) -> int | None:
    vals = [w.value or "" for w in words]
    for i, v in enumerate(vals):
        if v == "-m" and i + 1 < len(vals) and vals[i + 1] in _ENTRIES:
            return i + 2
        if v.rsplit("/", 1)[-1] == "sglang" and i + 1 < len(vals) and vals[i + 1] == "serve":
            return i + 2
    return None


def read(path: str, text: str):
    if "sglang" not in text:
        return None
    docs = sv.commands(path, text, "sglang", entry, lambda inv, label: _from_invocation(path, text, inv, label))
    return docs or None


def _reload(path: str, label: str):
    return lambda new_text: sv.same_plan(read(path, new_text), label)


def _from_invocation(path, text, inv, label):
    start = entry(inv.words)
    head = inv.words[start - 1].span or inv.span
    first = inv.words[max(0, start - 3)].span or head
    b = sv.Builder(text, inv.span, (first[0], head[1]))
    parsed = sv.parse_flags(inv.words[start:], TABLE, abbreviations=True, engine=ENGINE)
    if parsed.values.get("config"):
        # SGLang puts the config file's flags before the command line's: a flag on the command line wins
        from_file = _config_words(path, str(parsed.values["config"]), b, parsed.words["config"])
        parsed = sv.parse_flags(from_file + inv.words[start:], TABLE, abbreviations=True, engine=ENGINE)
    for extra in parsed.positionals:
        b.skip(f"the argument {extra.value!r}", extra.span)
    for what, span in parsed.skipped:
        b.skip(what, span)
    v, w = parsed.values, parsed.words
    model = w.get("model")
    if model is not None:
        b.set("/model/id", model.value, model, bind=False)
        if "/model/id" in b.spans:
            b.spans["/model"] = b.spans["/model/id"]
    tp, pp, dp = v.get("tp", 1), v.get("pp", 1), v.get("dp", 1)
    attention_dp = v.get("attn_dp") or (dp if v.get("dp_attention") else 1)
    forced = v.get("a2a") == "deepep" or v.get("ep_moe") or v.get("deepep_moe")
    ep = tp if forced else v.get("ep", 1)
    b.engine.update({"tp_size": tp, "dp_size": dp, "attn_dp_size": attention_dp, "ep_size": ep,
                     "ep_forced": bool(forced), "dp_attention": attention_dp > 1})
    if attention_dp > 1 and tp % attention_dp == 0:
        # attention DP inside the tp GPUs: attention TP = tp/dp; the replica is still tp GPUs wide
        b.set("/parallelism/tp", tp // attention_dp, w.get("tp"), bind=False)
        b.set("/parallelism/dp", attention_dp, w.get("dp") or w.get("attn_dp"), bind=False)
    else:
        b.set("/parallelism/tp", tp, w.get("tp"))
        b.set("/parallelism/dp", dp, w.get("dp"), bind=attention_dp == 1)
    b.set("/parallelism/pp", pp, w.get("pp"))
    if ep > 1:
        b.set("/parallelism/ep", ep, w.get("ep") or w.get("a2a") or w.get("ep_moe") or w.get("deepep_moe"),
              bind="ep" in w and not forced)
        b.set("/parallelism/etp", tp // ep if tp % ep == 0 else 1)
    b.data.setdefault("serving", {})["engine"] = "sglang"
    if "redundant" in v:
        b.set("/serving/redundant_experts", v["redundant"], w.get("redundant"))
        b.data["serving"]["expert_load_balancing"] = v["redundant"] > 0
    if v.get("dtype") and v["dtype"] != "auto":
        if v["dtype"] in sv.DTYPES:
            b.set("/workload/dtype", sv.DTYPES[v["dtype"]], w.get("dtype"), bind=False)
    if v.get("quantization") in ("fp8", "w8a8_fp8"):
        b.set("/workload/dtype", "fp8", w.get("quantization"), bind=False)
    elif v.get("quantization"):
        b.skip(f"--quantization {v['quantization']} (weights counted at the dtype's width)", w["quantization"].span)
    kv = v.get("kv_cache_dtype")
    if kv and str(kv).startswith("fp8"):
        b.set("/workload/kv_cache_dtype", "fp8", w.get("kv_cache_dtype"), bind=False)
    if "context_length" in v:
        b.set("/serving/max_model_len", v["context_length"], w.get("context_length"))
    if "max_running" in v:
        b.set("/serving/max_num_seqs", v["max_running"], w.get("max_running"))
    if "chunked_prefill" in v:
        b.data["serving"]["chunked_prefill"] = v["chunked_prefill"] > 0
        if v["chunked_prefill"] > 0:
            b.set("/serving/max_num_batched_tokens", v["chunked_prefill"], w.get("chunked_prefill"))
    if "mem_fraction" in v:
        b.set("/serving/memory_fraction", v["mem_fraction"], w.get("mem_fraction"))
    # SGLang's default mem_fraction_static is computed from the GPU (memory_hook.py:61-67, 294-325): left unset.
    for pointer, flag in (("/parallelism/tp", "--tp-size"), ("/serving/max_model_len", "--context-length")):
        b.inserts[pointer] = (lambda f: lambda value: (inv.insert_at, inv.insert(f, plain_token(value))))(flag)
    sv.k8s_hardware(b, inv.container, text)
    nnodes = v.get("nnodes")
    if inv.container is not None and nnodes and inv.container.group_size is not None \
            and inv.container.group_size.value != nnodes:
        b.skip(f"--nnodes {nnodes} differs from the LeaderWorkerSet size {inv.container.group_size.value}", w["nnodes"].span)
    return b.document(path, "yaml" if inv.where == "container" else "shell", label, _reload(path, label))


def _config_words(path: str, name: str, b, word) -> list:
    """The flags of the ``--config`` YAML a command names, as SGLang turns them into command-line words
    (python/sglang/srt/utils/server_args_config_parser.py:164-210: each key becomes ``--key``; true adds the
    flag alone, false leaves it out; a list gives its items, a mapping its JSON). Read from disk next to the
    checked file, never fetched; each word points at its key's value in that file."""
    import json
    import os

    from deploylint.core import Related
    from deploylint.core.document import LineIndex
    from deploylint.core.document import pointer as jp
    from deploylint.core.document.kube import documents

    full = name if os.path.isabs(name) else os.path.join(os.path.dirname(os.path.abspath(path)), name)
    try:
        with open(full, encoding="utf-8") as fh:
            other = fh.read()
    except (OSError, UnicodeDecodeError):
        b.skip(f"the config file {name} (not found next to this file: the flags it sets are unknown)", word.span)
        return []
    parsed = documents(other)
    if len(parsed) != 1 or not isinstance(parsed[0][0], dict):
        b.skip(f"the config file {name} (not a YAML mapping of SGLang's flags)", word.span)
        return []
    data, spans, _ = parsed[0]
    lines = LineIndex(other)
    out = []
    for key, value in data.items():
        node = spans.get(jp.child("", str(key)))
        where = lines.range(node.value) if node is not None else None
        related = (Related(f"{key} is set here (the --config file; a flag on the command line wins)", where, full),)
        if isinstance(value, bool):
            if value:
                out.append(sv.Word(f"--{key}", None, None, related))
            continue
        out.append(sv.Word(f"--{key}", None, None, related))
        for v in value if isinstance(value, list) else [value]:
            out.append(sv.Word(json.dumps(v) if isinstance(v, dict) else str(v), None, None, related))
    return out


@hookimpl
def deploylint_source(path, text):
    return read(path, text)


def _mine(ctx) -> bool:
    return ctx.plan.serving is not None and ctx.plan.serving.engine == "sglang" and bool(ctx.document.engine)


class TpNotDivisibleByEp(Rule):
    code = "SGL001"
    name = "tp-not-divisible-by-ep"
    severity = Severity.ERROR
    requires = frozenset()
    summary = "SGLang carves expert parallelism out of tp: --tp-size must be divisible by --ep-size."
    explanation = """
        SGLang 0.5.23 stops with "tp_size {tp} must be divisible by ep_size {ep}"
        (model_executor/model_runner_components/moe_ep_setup.py:150-153): the
        MoE layers run ep × (tp/ep) over the tp GPUs of the replica, so an EP
        size that does not divide tp leaves no whole MoE tensor-parallel group.
        The engine finds this only after the pods are scheduled.
    """
    bad_example = "python -m sglang.launch_server --model-path deepseek-ai/DeepSeek-R1 --tp-size 8 --ep-size 3"
    good_example = "python -m sglang.launch_server --model-path deepseek-ai/DeepSeek-R1 --tp-size 8 --ep-size 8"
    fix_safety = "No automatic fix."

    def check(self, ctx):
        if not _mine(ctx):
            return
        e = ctx.document.engine
        if e["ep_size"] > 1 and e["tp_size"] % e["ep_size"]:
            yield self.report("/parallelism/ep", f"--tp-size {e['tp_size']} is not divisible by --ep-size {e['ep_size']}: "
                              f"SGLang stops with \"tp_size {e['tp_size']} must be divisible by ep_size {e['ep_size']}\"",
                              data={"tp_size": e["tp_size"], "ep_size": e["ep_size"]})


class TpNotDivisibleByAttentionDp(Rule):
    code = "SGL002"
    name = "tp-not-divisible-by-attention-dp"
    severity = Severity.ERROR
    requires = frozenset()
    summary = "With attention data parallelism, --tp-size must be divisible by the attention DP size."
    explanation = """
        With --enable-dp-attention (or --attn-dp-size) attention runs on tp/dp
        GPUs per DP rank inside the replica: SGLang 0.5.23 checks "tp_size must
        be divisible by attn_dp_size * attn_cp_size"
        (arg_groups/parallel_hook.py:158-190). Attention DP costs no extra GPU.
    """
    bad_example = "python -m sglang.launch_server --tp 8 --dp 3 --enable-dp-attention"
    good_example = "python -m sglang.launch_server --tp 8 --dp 8 --enable-dp-attention"
    fix_safety = "No automatic fix."

    def check(self, ctx):
        if not _mine(ctx):
            return
        e = ctx.document.engine
        if e["dp_attention"] and e["tp_size"] % e["attn_dp_size"]:
            yield self.report("/parallelism/dp", f"--tp-size {e['tp_size']} is not divisible by the attention DP size "
                              f"{e['attn_dp_size']}: SGLang stops with \"tp_size must be divisible by attn_dp_size\"",
                              data={"tp_size": e["tp_size"], "attn_dp_size": e["attn_dp_size"]})


@hookimpl
def deploylint_rules():
    return [TpNotDivisibleByEp(), TpNotDivisibleByAttentionDp()]
