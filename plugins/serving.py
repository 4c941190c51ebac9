"""SRV0xx — serving engines' limits judged as the engines judge them (vLLM, SGLang, TensorRT-LLM).

``[serving]`` holds caps, not a load: an engine sizes its KV cache from its
memory knob and admits what fits. These rules check what the engines check at
start-up — context length against the model, the token budget against the
context length, and whether the KV cache left after the weights holds even one
sequence of ``max_model_len`` — with each engine's own meaning of its knob.
"""

from __future__ import annotations

from deploylint.core import Fix, Rule, Severity, hookimpl

from ._shared import num

_NAMES = {"vllm": ("vLLM", "--max-model-len", "--gpu-memory-utilization"),
          "sglang": ("SGLang", "--context-length", "--mem-fraction-static"),
          "trtllm": ("TensorRT-LLM", "max_seq_len", "kv_cache_config.free_gpu_memory_fraction")}


def _names(ctx):
    return _NAMES.get(ctx.plan.serving.engine or "", (ctx.plan.serving.engine or "the engine", "max_model_len", "memory_fraction"))


class ContextLongerThanModel(Rule):
    code = "SRV001"
    name = "context-longer-than-model"
    severity = Severity.ERROR
    requires = frozenset()
    summary = "max_model_len exceeds the model's max_position_embeddings: the engine refuses to start."
    explanation = """
        vLLM: "User-specified max_model_len ({m}) is greater than the derived
        max_model_len ({key}={d} …)" (vllm/config/model.py:2655-2684, 0.33.0);
        SGLang: "…context_length ({c}) is greater than the derived
        context_length ({d})…" unless SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN=1
        (srt/configs/model_config.py:1299-1315). Positions beyond the trained
        length are not defined for the model.
    """
    bad_example = "vllm serve meta-llama/Llama-3.1-8B --max-model-len 200000"
    good_example = "vllm serve meta-llama/Llama-3.1-8B --max-model-len 131072"
    fix_safety = "Unsafe: a shorter context changes what requests are admitted."

    def check(self, ctx):
        s, limit = ctx.plan.serving, ctx.plan.model.max_position_embeddings
        if s is None or s.max_model_len is None or limit is None or s.max_model_len <= limit:
            return
        engine, flag, _ = _names(ctx)
        yield self.report("/serving/max_model_len",
                          f"{flag} {s.max_model_len} is longer than the model's max_position_embeddings {limit}: "
                          f"{engine} refuses to start", data={"max_model_len": s.max_model_len, "max_position_embeddings": limit},
                          fixes=[Fix.set("/serving/max_model_len", limit, f"use the model's {limit}", applicability="unsafe")])


class TokenBudgetBelowContext(Rule):
    code = "SRV002"
    name = "token-budget-below-context"
    severity = Severity.ERROR
    requires = frozenset()
    summary = "max_num_batched_tokens is smaller than max_model_len (without chunked prefill) or than max_num_seqs."
    explanation = """
        vLLM's scheduler checks (vllm/config/scheduler.py:317-336, 0.33.0):
        "max_num_batched_tokens ({b}) is smaller than max_model_len ({m})…" when
        chunked prefill is off — a prompt of max_model_len tokens could never be
        scheduled — and "max_num_batched_tokens ({b}) must be greater than or
        equal to max_num_seqs ({s})."
    """
    bad_example = "vllm serve MODEL --max-model-len 32768 --max-num-batched-tokens 8192 --no-enable-chunked-prefill"
    good_example = "vllm serve MODEL --max-model-len 32768 --max-num-batched-tokens 8192"
    fix_safety = "Unsafe: a larger token budget uses more activation memory."

    def check(self, ctx):
        s = ctx.plan.serving
        if s is None or s.max_num_batched_tokens is None:
            return
        b = s.max_num_batched_tokens
        length = s.max_model_len or ctx.plan.model.max_position_embeddings
        if s.chunked_prefill is False and length is not None and b < length:
            yield self.report("/serving/max_num_batched_tokens",
                              f"max_num_batched_tokens {b} is smaller than max_model_len {length} with chunked prefill off: "
                              "a prompt of max_model_len tokens can never be scheduled",
                              data={"max_num_batched_tokens": b, "max_model_len": length},
                              fixes=[Fix.set("/serving/max_num_batched_tokens", length, f"use {length}", applicability="unsafe")])
        if s.max_num_seqs is not None and b < s.max_num_seqs:
            yield self.report("/serving/max_num_batched_tokens",
                              f"max_num_batched_tokens {b} is smaller than max_num_seqs {s.max_num_seqs}: the engine "
                              "refuses this (each running sequence needs at least one token per step)",
                              data={"max_num_batched_tokens": b, "max_num_seqs": s.max_num_seqs})


class NoKvCacheForOneRequest(Rule):
    code = "SRV003"
    name = "no-kv-cache-for-one-request"
    severity = Severity.ERROR
    requires = frozenset({"hardware"})
    summary = "After the weights, the engine's memory share leaves no KV cache, or too little for one max_model_len sequence."
    explanation = """
        The engines size the KV cache from their memory knob, not from the
        caps: vLLM gives weights, activations and KV cache together
        gpu_memory_utilization × the device ("No available memory for the cache
        blocks" / "To serve at least one request with the model's max seq len
        … KV cache is needed, which is larger than the available KV cache
        memory", vllm/v1/core/kv_cache_planning.py:56-87); SGLang the same with
        mem_fraction_static ("Not enough memory. Please try to increase
        --mem-fraction-static"); TensorRT-LLM gives the KV cache
        free_gpu_memory_fraction of what the weights leave. This rule computes
        the KV cache left on the busiest device (weights from the parameter
        count at the serving dtype; activations and CUDA graphs, which only
        lower it, are not counted) and how many sequences of max_model_len it
        holds: none is an error; fewer than max_num_seqs an info (the engine
        queues the rest — the cap is never reached).
    """
    bad_example = "vllm serve meta-llama/Llama-3.1-70B  # tp 1 on one 80 GiB GPU: 131 GiB of bf16 weights"
    good_example = "vllm serve meta-llama/Llama-3.1-70B -tp 4 --max-model-len 32768"
    fix_safety = "No automatic fix: more GPUs (tp), a shorter max_model_len, or a smaller dtype."

    def check(self, ctx):
        from deploylint.core.estimate.memory import kv_bytes_per_token

        s, plan = ctx.plan.serving, ctx.plan
        if s is None:
            return
        busiest = ctx.analysis.memory.busiest
        capacity = busiest.capacity
        weights = busiest.weights
        fraction = s.memory_fraction if s.memory_fraction is not None else 0.9
        budget = fraction * capacity - weights if s.memory_fraction_of == "device" else fraction * (capacity - weights)
        length = s.max_model_len or plan.model.max_position_embeddings
        engine, flag_len, flag_mem = _names(ctx)
        layers = -(-plan.model.layers // plan.parallelism.pp)
        per_token = kv_bytes_per_token(plan.model, layers, plan.parallelism.tp, plan.workload.kv_cache_dtype)
        gib = 2 ** 30
        data = {"capacity_gib": round(capacity / gib, 2), "weights_gib": round(weights / gib, 2),
                "memory_fraction": fraction, "kv_budget_gib": round(budget / gib, 2)}
        if budget <= 0:
            share = (f"{fraction:g} × {num(capacity / gib)} GiB" if s.memory_fraction_of == "device"
                     else f"{fraction:g} of the {num((capacity - weights) / gib)} GiB the weights leave")
            yield self.report("/serving/memory_fraction" if "memory_fraction" in (ctx.document.data.get("serving") or {})
                              else "/parallelism/tp",
                              f"no memory left for the KV cache: the weights take {num(weights / gib)} GiB per GPU, "
                              f"{engine}'s {flag_mem} gives {share}; {engine} stops with no KV cache blocks "
                              f"(tp={plan.parallelism.tp}, pp={plan.parallelism.pp} on {plan.hardware.accelerator or 'this GPU'})",
                              data=data)
            return
        if length is None or per_token <= 0:
            return
        one = per_token * length
        fits = int(budget // one)
        data.update({"kv_per_sequence_gib": round(one / gib, 3), "sequences_at_max_model_len": fits, "max_model_len": length})
        if fits < 1:
            yield self.report("/serving/max_model_len" if s.max_model_len else "/serving",
                              f"one sequence of {length} tokens needs {num(one / gib)} GiB of KV cache per GPU, but only "
                              f"{num(budget / gib)} GiB are left after {num(weights / gib)} GiB of weights at {flag_mem} "
                              f"{fraction:g}: {engine} refuses to start (\"to serve at least one request\")", data=data,
                              fixes=[Fix.set("/serving/max_model_len", int(budget // per_token) // 256 * 256 or 1,
                                             f"limit {flag_len} to what the KV cache holds", applicability="unsafe")]
                              if s.max_model_len and budget // per_token >= 256 else [])
        elif s.max_num_seqs is not None and fits < s.max_num_seqs:
            yield self.report("/serving/max_num_seqs",
                              f"the KV cache ({num(budget / gib)} GiB per GPU) holds {fits} sequences of {length} tokens, "
                              f"fewer than max_num_seqs {s.max_num_seqs}: at full length the cap is never reached "
                              "(shorter sequences share the cache)", severity=Severity.INFO, data=data)


@hookimpl
def deploylint_rules():
    return [ContextLongerThanModel(), TokenBudgetBelowContext(), NoKvCacheForOneRequest()]
