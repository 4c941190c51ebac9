"""TensorRT-LLM: ``trtllm-serve MODEL [flags]`` in scripts and Kubernetes manifests, merged with its LLM-API
options YAML (``--extra_llm_api_options`` / ``--config``), and the options YAML on its own — with
TensorRT-LLM's precedence and its own start-up checks as rules.

Precedence: the YAML *overwrites* the command line (``tensorrt_llm/commands/serve.py``,
``update_llm_args_with_extra_dict``: "Path to a YAML file that overwrites the parameters specified by
trtllm-serve") — the opposite of vLLM and SGLang. A value the YAML sets carries a related location in
the YAML file.

World composition (``tensorrt_llm/mapping.py``, ``Mapping.__init__``): GPUs = tp·pp·cp; the MoE layers
split tp as moe_tp·moe_ep·moe_cluster; ``enable_attention_dp`` runs attention with TP 1 and DP = tp (no
extra GPU).
"""

from __future__ import annotations

import os

from deploylint.core import Related, Rule, Severity, StartupCheck, hookimpl
from deploylint.core.document.writers.span_writer import plain_token

from . import _serving as sv
from ._serving import Flag

ENGINE = "TensorRT-LLM"

#: how TensorRT-LLM judges the conditions the generic rules check (core/plan/startup.py lists them); its
#: attention-head and expert-count checks were not read (shared/research/adapters.md §4.3), so those keep the
#: generic severity
STARTUP_CHECKS = {
    "layers": StartupCheck("uneven pipeline stages are allowed; only a stage without a layer is refused (TRT002)",
                           "tensorrt_llm/mapping.py (pp_layers)", refuses=False),
}

#: trtllm-serve flags (tensorrt_llm/commands/serve.py, index commit 4c05a74)
FLAGS = [
    Flag("tensor_parallel_size", ("--tp_size",), "int"), Flag("pipeline_parallel_size", ("--pp_size",), "int"),
    Flag("moe_expert_parallel_size", ("--ep_size",), "int"), Flag("moe_cluster_parallel_size", ("--cluster_size",), "int"),
    Flag("gpus_per_node", ("--gpus_per_node",), "int"), Flag("max_batch_size", ("--max_batch_size",), "int"),
    Flag("max_num_tokens", ("--max_num_tokens",), "int"), Flag("max_seq_len", ("--max_seq_len",), "int"),
    Flag("free_gpu_memory_fraction", ("--kv_cache_free_gpu_memory_fraction",), "float"),
    Flag("options", ("--extra_llm_api_options", "--config")),
]
IGNORED = [Flag(n.lstrip("-"), (n,), used=False) for n in (
    "--host", "--port", "--backend", "--tokenizer", "--log_level", "--num_postprocess_workers", "--server_role",
    "--reasoning_parser", "--metadata_server_config_file", "--max_beam_width")] + \
    [Flag(n.lstrip("-"), (n,), "bool", used=False) for n in ("--trust_remote_code",)]
TABLE = FLAGS + IGNORED
#: LLM-API keys deploylint reads (tensorrt_llm/llmapi/llm_args.py, BaseLlmArgs)
YAML_KEYS = {"model", "tensor_parallel_size", "pipeline_parallel_size", "context_parallel_size",
             "moe_expert_parallel_size", "moe_tensor_parallel_size", "moe_cluster_parallel_size", "enable_attention_dp",
             "max_batch_size", "max_num_tokens", "max_seq_len", "dtype", "gpus_per_node", "kv_cache_config"}
#: LLM-API keys known to TensorRT-LLM that no check reads
YAML_KNOWN = {"trust_remote_code", "cuda_graph_config", "stream_interval", "speculative_config", "print_iter_log",
              "moe_config", "attention_dp_config", "backend", "max_input_len", "enable_chunked_prefill",
              "disable_overlap_scheduler", "scheduler_config", "tokenizer", "enable_iter_perf_stats",
              "kv_cache_free_gpu_memory_fraction"}
DEFAULT_FREE_GPU_MEMORY_FRACTION = 0.9   # KvCacheConfig.free_gpu_memory_fraction (llm_args.py)


def entry(words) -> int | None:
    for i, w in enumerate(words):
        if (w.value or "").rsplit("/", 1)[-1] == "trtllm-serve":
            nxt = words[i + 1].value if i + 1 < len(words) else None
            return i + 2 if nxt == "serve" else i + 1
    return None


def _is_options(data) -> bool:
    return isinstance(data, dict) and bool(data) and set(data) <= YAML_KEYS | YAML_KNOWN and \
        bool(set(data) & {"max_batch_size", "max_num_tokens", "kv_cache_config", "moe_expert_parallel_size",
                          "enable_attention_dp", "cuda_graph_config"})


def read(path: str, text: str):
    if "trtllm-serve" in text:
        docs = sv.commands(path, text, "trtllm-serve", entry, lambda inv, label: _from_invocation(path, text, inv, label))
        if docs:
            return docs
    if not path.lower().endswith((".yaml", ".yml")) or not any(k in text for k in ("max_batch_size", "kv_cache_config",
                                                                                   "enable_attention_dp", "max_num_tokens")):
        return None
    from deploylint.core.document.kube import documents

    parsed = documents(text)
    if len(parsed) != 1 or not _is_options(parsed[0][0]):
        return None
    data, spans, _ = parsed[0]
    b = sv.Builder(text, (0, len(text)), (0, max(1, text.find("\n"))))
    options = _yaml_values(text, data, spans, b, same_file=True)
    _map(b, {}, {}, options, None)
    label = "trtllm-serve options"
    return [b.document(path, "yaml", label, _reload(path, label))]


def _reload(path, label):
    return lambda new_text: sv.same_plan(read(path, new_text), label)


def _yaml_values(text, data, spans, b, *, same_file: bool, file: str | None = None) -> dict:
    """``{key: (value, Word)}`` of an options YAML; unknown keys become infos (TensorRT-LLM forbids them)."""
    from deploylint.core.document.kube import item

    out = {}
    for key, value in data.items():
        if key == "kv_cache_config" and isinstance(value, dict):
            for sub, dest in (("free_gpu_memory_fraction", "free_gpu_memory_fraction"), ("dtype", "kv_cache_dtype")):
                if sub in value:
                    it = item(text, spans, data, f"/kv_cache_config/{sub}")
                    out[dest] = (value[sub], _word(it, same_file, file, f"kv_cache_config.{sub}"))
            continue
        if key in YAML_KEYS:
            it = item(text, spans, data, f"/{key}")
            out[key] = (value, _word(it, same_file, file, key))
        elif key not in YAML_KNOWN and same_file:
            node = spans.get(f"/{key}")
            b.skip(f"{key} (a key deploylint does not read; TensorRT-LLM's LLM API rejects keys it does not know)",
                   (node.key.start, node.key.end) if node and node.key else None)
    return out


def _word(it, same_file: bool, file: str | None, key: str):
    if it is None:
        return None
    if same_file:
        return sv.Word(str(it.value), (it.start, it.end), it.inner)
    return sv.Word(str(it.value), None, None, (Related(f"{key} is set here (the options YAML overrides the command line)",
                                                       file=file, start=it.start, end=it.end),))


def _from_invocation(path, text, inv, label):
    start = entry(inv.words)
    head = inv.words[start - 1].span or inv.span
    b = sv.Builder(text, inv.span, head)
    parsed = sv.parse_flags(inv.words[start:], TABLE, abbreviations=False, engine=ENGINE)
    model = parsed.positionals[0] if parsed.positionals else None
    for what, span in parsed.skipped:
        b.skip(what, span)
    options = {}
    name = parsed.values.get("options")
    if name:
        options = _options_file(path, str(name), b, parsed.words["options"])
    _map(b, parsed.values, parsed.words, options, model)
    for pointer, flag in (("/parallelism/tp", "--tp_size"), ("/parallelism/pp", "--pp_size")):
        b.inserts[pointer] = (lambda f: lambda value: (inv.insert_at, inv.insert(f, plain_token(value))))(flag)
    sv.k8s_hardware(b, inv.container, text)
    return b.document(path, "yaml" if inv.where == "container" else "shell", label, _reload(path, label))


def _options_file(path: str, name: str, b, word) -> dict:
    """The options YAML a command names, read from disk next to the file (never fetched)."""
    from deploylint.core.document.kube import documents, line_of

    full = name if os.path.isabs(name) else os.path.join(os.path.dirname(os.path.abspath(path)), name)
    try:
        with open(full, encoding="utf-8") as fh:
            other = fh.read()
    except (OSError, UnicodeDecodeError):
        b.skip(f"the options file {name} (not found next to this file: its values, which override the command line, "
               "are unknown)", word.span)
        return {}
    parsed = documents(other)
    if len(parsed) != 1 or not isinstance(parsed[0][0], dict):
        b.skip(f"the options file {name} (not a YAML mapping)", word.span)
        return {}
    data, spans, _ = parsed[0]
    values = _yaml_values(other, data, spans, b, same_file=False, file=full)
    # The engine places related locations of this file; those in the options file get their range here.
    from deploylint.core.document import LineIndex, Span

    lines = LineIndex(other)

    def placed(w):
        if w is None:
            return None
        return sv.Word(w.value, None, None, tuple(Related(r.message, lines.range(Span(r.start, r.end)), r.file)
                                                  for r in w.related))

    return {k: (v, placed(w)) for k, (v, w) in values.items()}


def _map(b, cli: dict, cli_words: dict, options: dict, model) -> None:
    """CLI values, then the options YAML over them (TensorRT-LLM's precedence), → plan fields."""
    values = dict(cli)
    words = dict(cli_words)
    for key, (value, word) in options.items():
        values[key] = value
        if word is not None:
            cli_word = cli_words.get(key)
            # the finding stays on the command's flag when there is one; the YAML is a related place
            words[key] = sv.Word(str(value), cli_word.span if cli_word else None, None, word.related) \
                if word.span is None else word
    model_value = options.get("model", (None,))[0] or (model.value if model else None)
    if model_value:
        b.set("/model/id", str(model_value), words.get("model") or model, bind=False)
        if "/model/id" in b.spans:
            b.spans["/model"] = b.spans["/model/id"]
    tp = values.get("tensor_parallel_size", 1)
    pp = values.get("pipeline_parallel_size", 1)
    cp = values.get("context_parallel_size", 1)
    ep = values.get("moe_expert_parallel_size")
    cluster = values.get("moe_cluster_parallel_size") or 1
    moe_tp = values.get("moe_tensor_parallel_size")
    if ep is None:
        ep = tp // ((moe_tp or 1) * cluster) if moe_tp else 1
    if moe_tp is None:
        moe_tp = tp // (ep * cluster) if ep * cluster and tp % (ep * cluster) == 0 else 1
    b.engine.update({"tp_size": tp, "moe_ep_size": ep, "moe_tp_size": moe_tp, "moe_cluster_size": cluster})
    attention_dp = bool(values.get("enable_attention_dp"))
    if attention_dp:
        b.set("/parallelism/tp", 1)
        b.set("/parallelism/dp", tp, words.get("tensor_parallel_size"), bind=False)
    else:
        b.set("/parallelism/tp", tp, words.get("tensor_parallel_size"))
        b.set("/parallelism/dp", 1)
    b.set("/parallelism/pp", pp, words.get("pipeline_parallel_size"))
    if cp > 1:
        b.set("/parallelism/cp", cp, words.get("context_parallel_size"))
    if ep > 1 or moe_tp > 1:
        b.set("/parallelism/ep", ep, words.get("moe_expert_parallel_size"), bind=False)
        b.set("/parallelism/etp", moe_tp)
    b.data.setdefault("serving", {})["engine"] = "trtllm"
    b.data["serving"]["memory_fraction_of"] = "free"
    for key, dest in (("max_seq_len", "max_model_len"), ("max_batch_size", "max_num_seqs"),
                      ("max_num_tokens", "max_num_batched_tokens")):
        if key in values:
            b.set(f"/serving/{dest}", values[key], words.get(key))
    b.set("/serving/memory_fraction", values.get("free_gpu_memory_fraction", DEFAULT_FREE_GPU_MEMORY_FRACTION),
          words.get("free_gpu_memory_fraction"))
    if str(values.get("kv_cache_dtype", "")).startswith("fp8"):
        b.set("/workload/kv_cache_dtype", "fp8", words.get("kv_cache_dtype"), bind=False)
    if isinstance(values.get("dtype"), str) and values["dtype"] in sv.DTYPES:
        b.set("/workload/dtype", sv.DTYPES[values["dtype"]])


@hookimpl
def deploylint_source(path, text):
    return read(path, text)


class MoeGridMismatch(Rule):
    code = "TRT001"
    name = "moe-grid-mismatch"
    severity = Severity.ERROR
    requires = frozenset()
    summary = "TensorRT-LLM splits tp as moe_tp·moe_ep·moe_cluster: the product must equal tp."
    explanation = """
        TensorRT-LLM's Mapping checks "tp_size must equal to moe_tp_size *
        moe_ep_size * moe_cluster_size, but got …" (tensorrt_llm/mapping.py,
        Mapping.__init__): expert parallelism is carved out of the tp GPUs, so
        the expert-parallel and expert-tensor-parallel sizes must multiply to tp.
    """
    bad_example = "tensor_parallel_size: 8\nmoe_expert_parallel_size: 3"
    good_example = "tensor_parallel_size: 8\nmoe_expert_parallel_size: 8"
    fix_safety = "No automatic fix."

    def check(self, ctx):
        s = ctx.plan.serving
        e = ctx.document.engine
        if s is None or s.engine != "trtllm" or not e or ctx.plan.model.moe is None:
            return
        product = e["moe_tp_size"] * e["moe_ep_size"] * e["moe_cluster_size"]
        if product != e["tp_size"]:
            yield self.report("/parallelism/ep", f"moe_tp·moe_ep·moe_cluster = {e['moe_tp_size']}·{e['moe_ep_size']}·"
                              f"{e['moe_cluster_size']} = {product}, but tensor_parallel_size = {e['tp_size']}: TensorRT-LLM "
                              "stops with \"tp_size must equal to moe_tp_size * moe_ep_size * moe_cluster_size\"",
                              data=dict(e))


class PipelineLongerThanLayers(Rule):
    code = "TRT002"
    name = "pp-larger-than-layers"
    severity = Severity.ERROR
    requires = frozenset()
    summary = "pipeline_parallel_size is larger than the model's layers."
    explanation = """
        TensorRT-LLM: "pp size cannot be larger than num_hidden_layers"
        (tensorrt_llm/mapping.py, pp_layers). Uneven stages are allowed
        (PAR403 warns); an empty stage is not: every pipeline rank must hold at
        least one transformer layer.
    """
    bad_example = "pipeline_parallel_size: 128   # a 126-layer model"
    good_example = "pipeline_parallel_size: 2"
    fix_safety = "No automatic fix."

    def check(self, ctx):
        s = ctx.plan.serving
        if s is None or s.engine != "trtllm":
            return
        if ctx.plan.parallelism.pp > ctx.plan.model.layers:
            yield self.report("/parallelism/pp", f"pipeline_parallel_size {ctx.plan.parallelism.pp} is larger than the "
                              f"{ctx.plan.model.layers} layers: TensorRT-LLM stops with \"pp size cannot be larger than "
                              "num_hidden_layers\"", data={"pp": ctx.plan.parallelism.pp, "layers": ctx.plan.model.layers})


@hookimpl
def deploylint_rules():
    return [MoeGridMismatch(), PipelineLongerThanLayers()]
