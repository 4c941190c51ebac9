"""vLLM: ``vllm serve`` and ``python -m vllm.entrypoints.openai.api_server`` in scripts and Kubernetes
manifests, the ``--config`` YAML file, production-stack Helm values, KServe LLMInferenceService, and
``LLM(...)`` calls in Python — read in place, with vLLM's own start-up checks as rules.

World composition (vLLM 0.33.0, ``vllm/config/parallel.py``, ``fused_moe/config.py:1136-1245``): the
GPUs of one engine are tp·pp·pcp·dp; with ``--enable-expert-parallel`` the MoE layers use EP over
tp·pcp·dp (etp = 1), without it the experts are tensor-sharded over them. ``-dcp`` reuses the tp ranks.
docs/adapters.md lists every flag read and what is not read yet.
"""

from __future__ import annotations

from deploylint.core import Rule, Severity, StartupCheck, hookimpl

from . import _serving as sv
from ._serving import Flag
from deploylint.core.document.writers.span_writer import plain_token

ENGINE = "vLLM"

#: how vLLM 0.33.0 judges the conditions the generic rules check (core/plan/startup.py lists them)
STARTUP_CHECKS = {
    "heads": StartupCheck("Total number of attention heads ({heads}) must be divisible by tensor parallel size "
                          "({tp}).", "vllm/config/model.py:1557-1564"),
    # QKVParallelLinear: tp ≥ KV heads → num_kv_head_replicas = divide(tp, kv); else divide(kv, tp)
    "kv_heads_replicated": StartupCheck("num_kv_head_replicas = tp / KV heads = {replication}",
                                        "vllm/model_executor/layers/linear.py:1068-1071", refuses=False),
    "kv_heads_split": StartupCheck("{larger} is not divisible by {smaller}",
                                   "vllm/model_executor/layers/linear.py:1068-1071, vllm/distributed/utils.py:51-55"),
    "experts": StartupCheck("without EPLB the experts are split as evenly as they go, the first ranks holding one "
                            "more (determine_expert_map)", "vllm/model_executor/layers/fused_moe/layer.py",
                            refuses=False),
    "experts_eplb": StartupCheck("EPLB currently only supports even distribution of experts across ranks. Got "
                                 "{physical} experts and {ep} EP ranks.",
                                 "vllm/model_executor/layers/fused_moe/layer.py:274-279"),
    "layers": StartupCheck("uneven pipeline stages are allowed (get_pp_indices)", "vllm/distributed/utils.py",
                           refuses=False),
}

#: vLLM 0.33.0 flags deploylint reads (vllm/engine/arg_utils.py; aliases at arg_utils.py:1172-1306)
FLAGS = [
    Flag("model", ("--model",)),
    Flag("tp", ("--tensor-parallel-size", "-tp"), "int"), Flag("pp", ("--pipeline-parallel-size", "-pp"), "int"),
    Flag("dp", ("--data-parallel-size", "-dp"), "int"), Flag("dpl", ("--data-parallel-size-local", "-dpl"), "int"),
    Flag("ep", ("--enable-expert-parallel", "-ep"), "optbool"),
    Flag("pcp", ("--prefill-context-parallel-size", "-pcp"), "int"),
    Flag("dcp", ("--decode-context-parallel-size", "-dcp"), "int"),
    Flag("dtype", ("--dtype",)), Flag("quantization", ("--quantization", "-q")),
    Flag("kv_cache_dtype", ("--kv-cache-dtype",)),
    Flag("max_model_len", ("--max-model-len",), "int"), Flag("max_num_seqs", ("--max-num-seqs",), "int"),
    Flag("max_num_batched_tokens", ("--max-num-batched-tokens",), "int"),
    Flag("gpu_memory_utilization", ("--gpu-memory-utilization",), "float"),
    Flag("chunked_prefill", ("--enable-chunked-prefill",), "optbool"),
    Flag("eplb", ("--enable-eplb",), "optbool"), Flag("eplb_config", ("--eplb-config",), "json"),
    Flag("config", ("--config",)),
]
#: flags read only so that their values are not mistaken for something else (not used by any check)
IGNORED = [Flag(n.lstrip("-").replace("-", "_"), (n,), used=False) for n in (
    "--port", "--host", "--served-model-name", "--api-key", "--tokenizer", "--revision", "--download-dir",
    "--data-parallel-address", "--data-parallel-rpc-port", "--data-parallel-start-rank", "--kv-transfer-config",
    "--compilation-config", "--kv-cache-memory-bytes", "--dbo-decode-token-threshold", "--max-cudagraph-capture-size",
    "--stream-interval", "--tool-call-parser", "--reasoning-parser", "--chat-template", "--load-format",
    "--distributed-executor-backend", "--block-size", "--swap-space", "--seed", "--uvicorn-log-level",
    "--speculative-config", "--hf-overrides", "--ray-cluster-size", "--nnodes", "--node-rank")] + \
    [Flag(n.lstrip("-").replace("-", "_"), (n,), "optbool", used=False) for n in (
        "--trust-remote-code", "--enforce-eager", "--disable-log-requests", "--disable-uvicorn-access-log",
        "--data-parallel-hybrid-lb", "--async-scheduling", "--enable-dbo", "--enable-prefix-caching",
        "--enable-auto-tool-choice", "--headless", "--disable-log-stats", "--enable-log-requests")]
TABLE = FLAGS + IGNORED
#: vLLM's default gpu_memory_utilization (vllm/config/cache.py:215, 0.33.0)
DEFAULT_GPU_MEMORY_UTILIZATION = 0.92


#: vLLM's own server image runs the OpenAI server when a container gives only ``args``: its ENTRYPOINT is
#: ``["vllm", "serve"]`` in current releases (``python3 -m vllm.entrypoints.openai.api_server`` in older
#: ones, docker/Dockerfile, target vllm-openai; both take the same flags and ``--model``)
IMAGE_ENTRYPOINTS = {"vllm/vllm-openai": ("vllm", "serve")}


def entry(words) -> int | None:
    """Index of the first argument after ``vllm serve`` / ``python -m vllm.entrypoints.openai.api_server``."""
    vals = [w.value or "" for w in words]
    for i, v in enumerate(vals):
        if v.rsplit("/", 1)[-1] == "vllm" and i + 1 < len(vals) and vals[i + 1] == "serve":
            return i + 2
        if v == "-m" and i + 1 < len(vals) and vals[i + 1] == "vllm.entrypoints.openai.api_server":
            return i + 2
    return None


# -- reading ---------------------------------------------------------------------------------------
def read(path: str, text: str):
    if path.lower().endswith(".py"):
        return (_llm_calls(path, text) or None) if "vllm" in text and "LLM" in text else None
    if "vllm" not in text and "servingEngineSpec" not in text and "LLMInferenceService" not in text \
            and not _maybe_config(path, text):
        return None
    docs = sv.commands(path, text, "vllm", entry, lambda inv, label: _from_invocation(path, text, inv, label),
                       IMAGE_ENTRYPOINTS)
    if docs or not path.lower().endswith((".yaml", ".yml")):
        return docs or None
    from deploylint.core.document.kube import documents

    parsed = documents(text) if ("servingEngineSpec" in text or "LLMInferenceService" in text
                                 or _maybe_config(path, text)) else []
    for index, (data, spans, _start) in enumerate(parsed):
        if isinstance(data, dict) and isinstance(data.get("servingEngineSpec"), dict):
            docs += _helm(path, text, data, spans)
        elif isinstance(data, dict) and data.get("kind") == "LLMInferenceService":
            docs += _kserve_pools(path, text, data, spans, index)
        elif index == 0 and len(parsed) == 1 and _is_config(data):
            docs.append(_config_file(path, text, data, spans))
    return docs or None


def _maybe_config(path: str, text: str) -> bool:
    return path.lower().endswith((".yaml", ".yml")) and any(k in text for k in _CONFIG_ONLY)


_CONFIG_ONLY = ("max-num-batched-tokens", "max_num_batched_tokens", "gpu-memory-utilization", "gpu_memory_utilization",
                "max-model-len", "max_model_len", "max-num-seqs", "max_num_seqs", "tensor-parallel-size",
                "tensor_parallel_size", "no-enable-prefix-caching", "enable-expert-parallel")
#: keys that only TensorRT-LLM's LLM-API YAML has: such a file is not a vLLM config
_TRTLLM_KEYS = {"max_batch_size", "max_num_tokens", "kv_cache_config", "moe_expert_parallel_size", "enable_attention_dp",
                "cuda_graph_config", "moe_config", "max_seq_len", "print_iter_log", "backend"}


def _is_config(data) -> bool:
    if not isinstance(data, dict) or not data or set(data) & _TRTLLM_KEYS:
        return False
    if any(isinstance(v, dict) for v in data.values()):
        return False
    names = {sv._norm("--" + str(k)) for k in data}
    known = {sv._norm(n) for f in TABLE for n in f.names} | {"--no-" + sv._norm(n)[2:] for f in TABLE for n in f.names}
    return bool(names & {sv._norm("--" + k) for k in _CONFIG_ONLY}) and len(names & known) * 2 >= len(names)


def _reload(path: str, label: str):
    return lambda new_text: sv.same_plan(read(path, new_text), label)


def _from_invocation(path, text, inv, label):
    start = entry(inv.words)
    head = inv.words[start - 1].span or inv.span
    b = sv.Builder(text, inv.span, (inv.words[max(0, start - 2)].span or head)[0:1] + (head[1],))
    parsed = sv.parse_flags(inv.words[start:], TABLE, abbreviations=True, engine=ENGINE)
    model_word = parsed.words.get("model") or (parsed.positionals[0] if parsed.positionals else None)
    for extra in parsed.positionals[1 if "model" not in parsed.words else 0:]:
        b.skip(f"the argument {extra.value!r}", extra.span)
    for what, span in parsed.skipped:
        b.skip(what, span)
    _map(b, parsed.values, parsed.words, model_word)

    def insert_flag(flag):
        return lambda value: (inv.insert_at, inv.insert(flag, plain_token(value)))

    for pointer, flag in (("/parallelism/tp", "--tensor-parallel-size"), ("/parallelism/pp", "--pipeline-parallel-size"),
                          ("/parallelism/dp", "--data-parallel-size"),
                          ("/serving/max_model_len", "--max-model-len"), ("/serving/max_num_seqs", "--max-num-seqs"),
                          ("/serving/max_num_batched_tokens", "--max-num-batched-tokens"),
                          ("/serving/memory_fraction", "--gpu-memory-utilization")):
        b.inserts[pointer] = insert_flag(flag)
    sv.k8s_hardware(b, inv.container, text)
    return b.document(path, "yaml" if inv.where == "container" else "shell", label, _reload(path, label))


def _map(b, values: dict, words: dict, model_word) -> None:
    """vLLM's options → plan fields (the composition rule of the module docstring)."""
    if model_word is not None and model_word.value:
        b.set("/model/id", model_word.value, model_word, bind=False)
        b.spans["/model"] = b.spans["/model/id"]
    else:
        b.skip("no model named (vllm serve MODEL or --model)", None)
    tp, pp, dp = values.get("tp", 1), values.get("pp", 1), values.get("dp", 1)
    pcp, dcp = values.get("pcp", 1), values.get("dcp", 1)
    b.set("/parallelism/tp", tp, words.get("tp"))
    b.set("/parallelism/pp", pp, words.get("pp"))
    b.set("/parallelism/dp", dp, words.get("dp"))
    if pcp > 1:
        # prefill context parallelism has ranks of its own: GPUs = tp·pp·pcp·dp (config/parallel.py:144)
        b.set("/parallelism/cp", pcp, words.get("pcp"))
    # decode context parallelism reuses the tp ranks (config/parallel.py:389): no GPU of its own
    b.engine.update({"tp_size": tp, "dcp_size": dcp})
    if values.get("ep"):
        b.set("/parallelism/ep", tp * pcp * dp, words.get("ep"), bind=False)    # EP spans TP×PCP×DP
        b.set("/parallelism/etp", 1)
    b.data.setdefault("serving", {})["engine"] = "vllm"
    dtype = values.get("dtype")
    if dtype and dtype != "auto":
        if dtype in sv.DTYPES:
            b.set("/workload/dtype", sv.DTYPES[dtype], words.get("dtype"), bind=False)
        else:
            b.skip(f"--dtype {dtype} (not a dtype deploylint knows)", words["dtype"].span)
    q = values.get("quantization")
    if q in ("fp8", "fbgemm_fp8"):
        b.set("/workload/dtype", "fp8", words.get("quantization"), bind=False)
    elif q:
        b.skip(f"--quantization {q} (weights counted at the dtype's width)", words["quantization"].span)
    kv = values.get("kv_cache_dtype")
    if kv and kv != "auto":
        mapped = "fp8" if str(kv).startswith("fp8") else sv.DTYPES.get(kv)
        if mapped:
            b.set("/workload/kv_cache_dtype", mapped, words.get("kv_cache_dtype"), bind=False)
    for key in ("max_model_len", "max_num_seqs", "max_num_batched_tokens"):
        if key in values:
            b.set(f"/serving/{key}", values[key], words.get(key))
    if "gpu_memory_utilization" in values:
        b.set("/serving/memory_fraction", values["gpu_memory_utilization"], words.get("gpu_memory_utilization"))
    else:
        b.data["serving"]["memory_fraction"] = DEFAULT_GPU_MEMORY_UTILIZATION
    if "chunked_prefill" in values:
        b.data["serving"]["chunked_prefill"] = bool(values["chunked_prefill"])
    cfg = values.get("eplb_config")
    if isinstance(cfg, dict) and "num_redundant_experts" in cfg:
        try:
            b.data["serving"]["redundant_experts"] = int(cfg["num_redundant_experts"])
        except (TypeError, ValueError):
            pass
    if values.get("eplb"):
        b.data["serving"]["expert_load_balancing"] = True
    if "config" in values:
        b.skip(f"--config {values['config']} (its values are checked when that file is checked)", words["config"].span)


def _config_file(path, text, data, spans):
    """A ``vllm serve --config`` YAML: long flag names as keys (vllm/utils/argparse_utils.py:606-700)."""
    from deploylint.core.document.kube import item

    b = sv.Builder(text, (0, len(text)), (0, min(len(text), text.find("\n") if "\n" in text else len(text))))
    entries = []
    for key, value in data.items():
        pointer = "/" + str(key).replace("~", "~0").replace("/", "~1")
        it = item(text, spans, data, pointer)
        node = spans.get(pointer)
        entries.append((str(key), value, sv.Word(str(value), (it.start, it.end) if it else None, it.inner if it else None),
                        (node.key.start, node.key.end) if node and node.key else None))
    values, words = _keyed(b, entries, "a key")
    model = words.get("model")
    _map(b, values, words, model)
    if model is None:
        b.skipped = [s for s in b.skipped if not s[0].startswith("no model")]
        b.data.pop("model", None)
    label = "vllm serve --config"
    return b.document(path, "yaml", label, _reload(path, label))


def _keyed(b, entries, what: str) -> tuple[dict, dict]:
    """vLLM's options written as ``key: value`` (a ``--config`` YAML, ``LLM(key=value)``): the keys are the long
    flag names, dashes or underscores (``FlexibleArgumentParser``, ``EngineArgs``). ``entries`` are
    ``(key, value, Word of the value, span of the key)``; returns (values, words) by flag."""
    by_name = {}
    for f in TABLE:
        for n in f.names:
            by_name[sv._norm(n)] = (f, False)
            if f.kind == "optbool":
                by_name["--no-" + sv._norm(n)[2:]] = (f, True)
    values, words = {}, {}
    for key, value, word, key_span in entries:
        found = by_name.get(sv._norm("--" + key))
        if found is None:
            b.skip(f"{key} ({what} deploylint does not read for vLLM)", key_span)
            continue
        flag, negated = found
        if flag.kind in ("bool", "optbool"):
            values[flag.dest] = bool(value) != negated
        elif flag.kind in ("int", "float") and isinstance(value, (int, float)) and not isinstance(value, bool):
            values[flag.dest] = value
        else:
            values[flag.dest] = sv._convert(value if isinstance(value, str) else json_text(value), flag.kind)
        words[flag.dest] = word
    return values, words


def json_text(value) -> str:
    import json

    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


# -- LLM(...) in Python -----------------------------------------------------------------------------------
def _llm_calls(path: str, text: str) -> list:
    """``LLM(model, tensor_parallel_size=…, …)`` calls of a Python script (``from vllm import LLM`` or
    ``vllm.LLM``), read with the stdlib ``ast``, never run: the keywords are EngineArgs fields, the same names as
    the flags (vllm/entrypoints/llm.py:189-217). Only literal values are read; the rest is an info."""
    import ast

    from deploylint.core.document import LineIndex
    from deploylint.core.document.sources.python_source import Columns, refuse_too_large

    refuse_too_large(text)      # a DL001 at the first value past the bound, not seconds and gigabytes of ast
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    names, modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "vllm":
            names |= {a.asname or a.name for a in node.names if a.name == "LLM"}
        elif isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name == "vllm"}
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and (
        isinstance(node.func, ast.Name) and node.func.id in names
        or isinstance(node.func, ast.Attribute) and node.func.attr == "LLM"
        and isinstance(node.func.value, ast.Name) and node.func.value.id in modules)]
    cols = Columns(LineIndex(text))
    docs = []
    for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
        span = cols.span(call)
        head = cols.span(call.func)
        b = sv.Builder(text, (span.start, span.end), (head.start, head.end))
        entries, model = [], None
        for k, arg in enumerate(call.args):
            found = _literal(arg, cols)
            if k == 0 and found is not None and isinstance(found[0], str):
                model = found[1]
            else:
                at = cols.span(arg)
                b.skip(f"the argument at column {arg.col_offset + 1} (not read)", (at.start, at.end))
        for kw in call.keywords:
            kspan = cols.span(kw)
            if kw.arg is None:
                b.skip("**… keyword arguments (not read: their keys are unknown)", (kspan.start, kspan.end))
                continue
            found = _literal(kw.value, cols)
            key_span = (kspan.start, kspan.start + len(kw.arg))
            if found is None:
                b.skip(f"{kw.arg}= (not a literal: not read)", key_span)
                continue
            if kw.arg == "model":
                model = found[1]
                continue
            entries.append((kw.arg, found[0], found[1], key_span))
        values, words = _keyed(b, entries, "a keyword")
        _map(b, values, words, model)
        last = max([a for a in call.args] + [kw.value for kw in call.keywords],
                   key=lambda n: (n.end_lineno, n.end_col_offset), default=None)
        at = cols.span(last).end if last is not None else span.end - 1
        sep = ", " if last is not None else ""
        # no data_parallel_size: "Offline data parallel mode is not supported/useful for dense models."
        # (vllm/config/parallel.py:1031-1035), so no fix adds replicas to an LLM(...)
        for pointer, key in (("/parallelism/tp", "tensor_parallel_size"), ("/parallelism/pp", "pipeline_parallel_size"),
                             ("/serving/max_model_len", "max_model_len"),
                             ("/serving/max_num_seqs", "max_num_seqs"),
                             ("/serving/max_num_batched_tokens", "max_num_batched_tokens"),
                             ("/serving/memory_fraction", "gpu_memory_utilization")):
            b.inserts[pointer] = (lambda k: lambda value: (at, f"{sep}{k}={plain_token(value)}"))(key)
        label = f"LLM(...) at line {call.lineno}"
        docs.append(b.document(path, "python", label, _reload(path, label)))
    return docs


def _literal(node, cols):
    """``(value, Word)`` of a literal argument (the value as vLLM would get it; a number's token is bound for
    fixes), or None when it is not a literal."""
    import ast

    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    span = cols.span(node)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return value, sv.Word(value if isinstance(value, str) else json_text(value), (span.start, span.end),
                          (span.start, span.end) if number else None)


def _helm(path, text, data, spans):
    """production-stack values: servingEngineSpec.modelSpec[] (helm/templates/deployment-vllm-multi.yaml:149-197)."""
    from deploylint.core.document.kube import item, line_of

    out = []
    specs = data["servingEngineSpec"].get("modelSpec")
    if not isinstance(specs, list):
        return out
    keys = {"tensorParallelSize": "tp", "pipelineParallelSize": "pp", "maxModelLen": "max_model_len",
            "maxNumSeqs": "max_num_seqs", "dtype": "dtype", "gpuMemoryUtilization": "gpu_memory_utilization",
            "enableChunkedPrefill": "chunked_prefill"}
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict):
            continue
        base = f"/servingEngineSpec/modelSpec/{i}"
        node = spans.get(base)
        b = sv.Builder(text, (node.value.start, node.value.end) if node else (0, 0),
                       (node.value.start, node.value.start + 1) if node else (0, 0))
        values, words = {}, {}
        cfg = spec.get("vllmConfig") if isinstance(spec.get("vllmConfig"), dict) else {}
        for key, dest in keys.items():
            if key in cfg:
                it = item(text, spans, data, f"{base}/vllmConfig/{key}")
                values[dest] = cfg[key]
                words[dest] = sv.Word(str(cfg[key]), (it.start, it.end), it.inner)
        extra = cfg.get("extraArgs")
        if isinstance(extra, list):
            ws = []
            for k in range(len(extra)):
                it = item(text, spans, data, f"{base}/vllmConfig/extraArgs/{k}")
                if it is not None:
                    ws.append(sv.Word(str(it.value), (it.start, it.end), it.inner, chars=tuple(range(*it.inner))))
            parsed = sv.parse_flags(ws, TABLE, abbreviations=True, engine=ENGINE)
            for what, span in parsed.skipped:
                b.skip(what, span)
            for dest, v in parsed.values.items():
                if dest not in values:           # the chart renders vllmConfig's flags first, then extraArgs verbatim
                    values[dest], words[dest] = v, parsed.words[dest]
        model = None
        if isinstance(spec.get("modelURL"), str):
            it = item(text, spans, data, f"{base}/modelURL")
            model = sv.Word(spec["modelURL"], (it.start, it.end), it.inner)
        _map(b, values, words, model)
        gpus = spec.get("requestGPU")
        if isinstance(gpus, int) and not isinstance(gpus, bool):
            it = item(text, spans, data, f"{base}/requestGPU")
            ray = spec.get("raySpec") if isinstance(spec.get("raySpec"), dict) else {}
            head = ray.get("headNode", {}).get("requestGPU") if ray.get("enabled") and isinstance(ray.get("headNode"), dict) else None
            total = gpus + (head if isinstance(head, int) and not isinstance(head, bool) else 0)
            b.data.setdefault("hardware", {})["num_devices"] = total
            b.at("/hardware/num_devices", it.start, it.end)
            b.origins["/hardware/num_devices"] = (f"hardware.num_devices = {total}: requestGPU {gpus} (line "
                                                  f"{line_of(text, it.start)})" + (f" + the Ray head node's {head}" if total != gpus else ""))
        label = f"modelSpec {spec.get('name') or i}"
        out.append(b.document(path, "yaml", label, _reload(path, label)))
    return out


def _kserve_pools(path, text, data, spans, index):
    """An ``LLMInferenceService``: one plan, or with ``spec.prefill`` two — the decode pool (``spec``'s own
    ``parallelism``/``template``) and the prefill pool (``spec.prefill``, the same fields), each with the phase
    it runs (``workload.phase``), so neither is judged for the other's work. The model is ``spec.model``."""
    spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
    name = (data.get("metadata") or {}).get("name") if isinstance(data.get("metadata"), dict) else None
    label = f"LLMInferenceService {name or index}"
    if not isinstance(spec.get("prefill"), dict):
        return _kserve(path, text, data, spans, "/spec", label, None)
    return (_kserve(path, text, data, spans, "/spec", f"{label} decode", "decode")
            + _kserve(path, text, data, spans, "/spec/prefill", f"{label} prefill", "prefill"))


def _kserve(path, text, data, spans, base, label, phase):
    """KServe ``LLMInferenceService``: ``parallelism`` rendered to vLLM flags by KServe's templates
    (config/llmisvcconfig/config-llm-worker-data-parallel.yaml:188-199); pods = data / dataLocal
    (llm_inference_service_types_func.go:98-113); extra flags in the env ``VLLM_ADDITIONAL_ARGS``.
    ``base`` is the pool: ``/spec`` or ``/spec/prefill``."""
    from deploylint.core.document import pointer as jp
    from deploylint.core.document.kube import gpu_count, item, line_of

    top = data.get("spec") if isinstance(data.get("spec"), dict) else {}
    spec = jp.resolve(data, base, {}) if base != "/spec" else top
    spec = spec if isinstance(spec, dict) else {}
    par = spec.get("parallelism") if isinstance(spec.get("parallelism"), dict) else {}
    node = spans.get(f"{base}/parallelism") or spans.get(base) or spans.get("")
    head = (node.key or node.value) if node else None
    b = sv.Builder(text, (node.value.start, node.value.end) if node else (0, len(text)),
                   (head.start, head.end) if head else (0, 1))
    values, words = {}, {}
    for key, dest in (("tensor", "tp"), ("pipeline", "pp"), ("data", "dp"), ("expert", "ep")):
        if key in par:
            it = item(text, spans, data, f"{base}/parallelism/{key}")
            values[dest], words[dest] = par[key], sv.Word(str(par[key]), (it.start, it.end), it.inner)
    model = top.get("model") if isinstance(top.get("model"), dict) else {}
    name = model.get("name") if isinstance(model.get("name"), str) else None
    where = "/spec/model/name"
    if name is None and isinstance(model.get("uri"), str) and model["uri"].startswith("hf://"):
        name, where = model["uri"][5:], "/spec/model/uri"
    model_word = None
    if name:
        it = item(text, spans, data, where)
        model_word = sv.Word(name, (it.start, it.end), None)
    per_pod = None
    gpu_item = None
    containers = (spec.get("template") or {}).get("containers") if isinstance(spec.get("template"), dict) else None
    for i, c in enumerate(containers or []):
        if not isinstance(c, dict):
            continue
        at = f"{base}/template/containers/{i}"
        for e, env in enumerate(c.get("env") or []):
            if isinstance(env, dict) and env.get("name") == "VLLM_ADDITIONAL_ARGS" and isinstance(env.get("value"), str):
                it = item(text, spans, data, f"{at}/env/{e}/value")
                flat = [w for ws, _ in sv.shell_invocations(it.value, base=it.chars) for w in ws]
                parsed = sv.parse_flags(flat, TABLE, abbreviations=True, engine=ENGINE)
                for what, span in parsed.skipped:
                    b.skip(what, span)
                for dest, v in parsed.values.items():
                    values.setdefault(dest, v)
                    words.setdefault(dest, parsed.words[dest])
        limits = (c.get("resources") or {}).get("limits") if isinstance(c.get("resources"), dict) else None
        if isinstance(limits, dict) and "nvidia.com/gpu" in limits:
            gpu_item = item(text, spans, data, f"{at}/resources/limits/nvidia.com~1gpu")
            per_pod = gpu_count(gpu_item)
    _map(b, values, words, model_word)
    dp, local = par.get("data"), par.get("dataLocal")
    if isinstance(dp, int) and isinstance(local, int) and local > 0 and dp % local:
        b.skip(f"parallelism.data {dp} is not a multiple of dataLocal {local}: KServe starts {dp // local} pods "
               f"(data / dataLocal, rounded down), so {dp % local} data-parallel ranks have no pod", words["dp"].span)
    if per_pod and gpu_item is not None:
        pods = dp // local if isinstance(dp, int) and isinstance(local, int) and local > 0 else 1
        b.data.setdefault("hardware", {})["num_devices"] = pods * per_pod
        b.data["hardware"]["devices_per_node"] = per_pod
        b.at("/hardware/num_devices", gpu_item.start, gpu_item.end)
        b.origins["/hardware/num_devices"] = (f"hardware.num_devices = {pods * per_pod}: {pods} pods (data / dataLocal) × "
                                              f"nvidia.com/gpu {per_pod} (line {line_of(text, gpu_item.start)})")
    if phase is not None:
        b.data.setdefault("workload", {})["phase"] = phase
        b.origins["/workload/phase"] = (f"workload.phase = {phase!r}: the {phase} pool of a disaggregated "
                                        f"LLMInferenceService ({base}, line {line_of(text, node.value.start) if node else 1})")
    return [b.document(path, "yaml", label, _reload(path, label))]


@hookimpl
def deploylint_source(path, text):
    return read(path, text)


# -- vLLM's own start-up checks --------------------------------------------------------------------------
class ExpertParallelOnDenseModel(Rule):
    code = "VLLM001"
    name = "expert-parallel-on-dense-model"
    severity = Severity.ERROR
    requires = frozenset()
    summary = "--enable-expert-parallel on a model without experts: vLLM refuses to start."
    explanation = """
        vLLM checks at start-up: "Number of experts in the model must be greater
        than 0 when expert parallelism is enabled." (vllm/config/model.py:1498-1503,
        0.33.0). The flag has no meaning for a dense model.
    """
    bad_example = "vllm serve meta-llama/Llama-3.1-8B --enable-expert-parallel"
    good_example = "vllm serve meta-llama/Llama-3.1-8B"
    fix_safety = "No automatic fix: remove the flag."

    def check(self, ctx):
        s = ctx.plan.serving
        if s is None or s.engine != "vllm" or ctx.plan.model.moe is not None:
            return
        if "ep" in ((ctx.document.data or {}).get("parallelism") or {}):
            yield self.report("/parallelism/ep", "--enable-expert-parallel on a model without experts: vLLM stops with "
                              "\"Number of experts in the model must be greater than 0 when expert parallelism is enabled.\"")


class DecodeContextParallel(Rule):
    code = "VLLM003"
    name = "decode-context-parallel"
    severity = Severity.ERROR
    requires = frozenset()
    summary = "--decode-context-parallel-size must divide tp, and for GQA/MQA needs tp above the KV heads."
    explanation = """
        Decode context parallelism shards the KV cache of the tp ranks that
        would hold copies of the same KV heads, so it reuses those ranks. vLLM
        0.33.0 refuses at start-up: "tp_size={tp} must be divisible by
        dcp_size={dcp}." (vllm/config/parallel.py:594-607); for a GQA/MQA model
        "Decode context parallelism for GQA/MQA requires
        `--tensor-parallel-size` ({tp}) to be greater than the model's total
        number of KV heads ({kv})" and "The model's number of query heads per
        KV head ({q}) must be divisible by `--decode-context-parallel-size`"
        (vllm/config/model.py:1578-1610).
    """
    bad_example = "vllm serve meta-llama/Llama-3.1-8B -tp 8 -dcp 3"
    good_example = "vllm serve meta-llama/Llama-3.1-8B -tp 16 -dcp 2"
    fix_safety = "No automatic fix."

    def check(self, ctx):
        s, e, model = ctx.plan.serving, ctx.document.engine, ctx.plan.model
        if s is None or s.engine != "vllm" or not e or e.get("dcp_size", 1) <= 1:
            return
        tp, dcp = e["tp_size"], e["dcp_size"]
        data = {"tp_size": tp, "dcp_size": dcp}
        if tp % dcp:
            yield self.report("/parallelism/tp", f"--decode-context-parallel-size {dcp} does not divide "
                              f"--tensor-parallel-size {tp}: vLLM stops with \"tp_size={tp} must be divisible by "
                              f"dcp_size={dcp}.\" (vllm/config/parallel.py:594-607)", data=data)
            return
        if model.attention == "mla":
            return
        kv, heads = model.num_kv_heads, model.num_attention_heads
        if tp <= kv:
            yield self.report("/parallelism/tp", f"--decode-context-parallel-size {dcp} with tp {tp} and {kv} KV "
                              "heads: vLLM stops with \"Decode context parallelism for GQA/MQA requires "
                              f"`--tensor-parallel-size` ({tp}) to be greater than the model's total number of KV "
                              f"heads ({kv})\" (vllm/config/model.py:1578-1610)", data={**data, "kv_heads": kv})
        elif (heads // kv) % dcp:
            yield self.report("/parallelism/tp", f"--decode-context-parallel-size {dcp}: {heads // kv} query heads "
                              "per KV head do not divide by it; vLLM stops with \"The model's number of query heads "
                              f"per KV head ({heads // kv}) must be divisible by `--decode-context-parallel-size`\" "
                              "(vllm/config/model.py:1578-1610)", data={**data, "query_heads_per_kv_head": heads // kv})


@hookimpl
def deploylint_rules():
    return [ExpertParallelOnDenseModel(), DecodeContextParallel()]
