"""Regenerate schemas/plan.schema.json from the tables below (run: python -m deploylint.schemas.generate).

The schema is the contract of PLAN_FORMAT.md; keeping its source as Python
tables makes every property's description, range and default sit on one line.
tests/schemas/test_plan_schema.py checks the committed JSON equals this output.
"""
import json
import os

from deploylint.core.estimate.memory import RECOMPUTE_MODULES

POS_INT = {"type": "integer", "minimum": 1}
BIG = 10**9


def integer(desc, minimum=1, maximum=BIG, default=None, why=None):
    """An integer property; ``why`` (kept as ``$comment``) says why no deployment lies outside the bounds."""
    s = {"type": "integer", "minimum": minimum, "maximum": maximum, "description": desc}
    if default is not None:
        s["default"] = default
    if why:
        s["$comment"] = why
    return s


def number(desc, maximum=1e12, default=None, minimum_exclusive=0, minimum=None, why=None):
    s = {"type": "number", "exclusiveMinimum": minimum_exclusive, "maximum": maximum, "description": desc}
    if minimum is not None:
        del s["exclusiveMinimum"]
        s["minimum"] = minimum
    if default is not None:
        s["default"] = default
    if why:
        s["$comment"] = why
    return s


# The bounds of what any deployment has, each with its reason (DL002 quotes it). They are generous on purpose:
# a plan outside them is a typo or a hostile input, and the estimate and the layout search stay bounded by them.
WHY_DEVICES = ("no single deployment is that large: the biggest published clusters hold about 100,000 "
               "accelerators (xAI Colossus, 2024; Llama 3 405B trained on 16,384 H100s)")
WHY_SPLIT = "a split cannot be larger than the deployment (hardware.num_devices is at most 131,072)"
WHY_LAYERS = "the deepest published transformers have a few hundred layers (Llama 3.1 405B: 126)"
WHY_BATCH = ("published training runs step on at most a few million sequences (Llama 3 405B: 16M tokens "
             "per step) and servers hold far fewer at once")
WHY_TOKENS = "the longest published context windows hold 10 million tokens (Llama 4 Scout)"
WHY_MEMORY = "accelerators hold 16 GiB to a few hundred GiB each (H100 80 GB, MI300X 192 GB, B200 192 GB)"
WHY_RATE = "below this the figure is not a datacenter accelerator's (or its unit is wrong)"


def boolean(desc, default=None):
    s = {"type": "boolean", "description": desc}
    if default is not None:
        s["default"] = default
    return s


def enum(values, desc, default=None):
    s = {"type": "string", "enum": list(values), "description": desc}
    if default is not None:
        s["default"] = default
    return s


def table(desc, props, required=()):
    s = {"type": "object", "description": desc, "properties": props, "additionalProperties": False}
    if required:
        s["required"] = list(required)
    return s


DTYPES = ["fp32", "bf16", "fp16", "fp8"]

moe = table("Mixture-of-Experts layers: routed experts, optional shared experts, dense first layers.", {
    "num_experts": integer("Routed experts in each MoE layer.", maximum=1_000_000),
    "top_k": integer("Routed experts each token is sent to.", maximum=1_000_000),
    "expert_ffn_hidden_size": integer("Hidden width of one routed expert's MLP (default: model.ffn_hidden_size)."),
    "shared_experts": integer("Always-on shared experts per MoE layer.", minimum=0, maximum=1024, default=0),
    "shared_expert_ffn_hidden_size": integer("Total hidden width of the shared experts (default: expert width × shared_experts).", minimum=0),
    "dense_layers": integer("The first k layers use a dense MLP instead of experts (DeepSeek's first_k_dense_replace).", minimum=0, maximum=100_000, default=0),
    "layer_frequency": integer("Every n-th layer (after the dense ones) is an MoE layer.", maximum=100_000, default=1),
    "router_bias": boolean("The router (gate) projection has a bias vector (gpt-oss).", default=False),
    "expert_bias": boolean("Expert projections have bias vectors (gpt-oss).", default=False),
    "shared_expert_gate": boolean("A sigmoid gate (hidden → 1) scales the shared expert's output (Qwen2-MoE).", default=False),
    "n_group": integer("Node-limited routing: experts form n_group groups (DeepSeek-V3 config n_group); 0 = none.", minimum=0, maximum=1_000_000, default=0),
    "topk_group": integer("Node-limited routing: each token's experts come from at most topk_group groups (config topk_group).", minimum=0, maximum=1_000_000, default=0),
}, required=["num_experts", "top_k"])

mla = table("Multi-head latent attention (DeepSeek-V2/V3): low-rank compressed queries and key/values.", {
    "q_lora_rank": integer("Rank of the query compression; 0 = queries are not compressed.", minimum=0),
    "kv_lora_rank": integer("Rank of the compressed key/value latent (what the KV cache stores)."),
    "qk_nope_head_dim": integer("Per-head query/key width without rotary embedding."),
    "qk_rope_head_dim": integer("Per-head query/key width with rotary embedding (the key part is shared by all heads)."),
    "v_head_dim": integer("Per-head value width."),
}, required=["kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"])

model = table("The model: inline fields, or `from` a Hugging Face config.json (inline fields override it).", {
    "from": {"type": "string", "minLength": 1, "description": "Path of a Hugging Face config.json, relative to the plan file."},
    "id": {"type": "string", "minLength": 1, "description": "A Hugging Face model id (org/name), resolved offline: local Hugging Face cache, bundled catalog, [tool.deploylint.models]."},
    "max_position_embeddings": integer("The longest context (tokens) the model was built for (config.json max_position_embeddings).", maximum=10**9),
    "layers": integer("Transformer blocks.", maximum=10_000, why=WHY_LAYERS),
    "hidden_size": integer("Model width h.", maximum=10_000_000),
    "num_attention_heads": integer("Query heads per layer.", maximum=100_000),
    "num_kv_heads": integer("Key/value heads (GQA/MQA); default: num_attention_heads.", maximum=100_000),
    "head_dim": integer("Width of one attention head; default: hidden_size / num_attention_heads.", maximum=100_000),
    "ffn_hidden_size": integer("Hidden width of the dense MLP; default: 4 × hidden_size.", maximum=100_000_000),
    "ffn_activation": enum(["swiglu", "gelu"], "MLP kind: gated (swiglu, 3 matrices) or plain (gelu, 2 matrices).", "swiglu"),
    "vocab_size": integer("Rows of the token embedding.", maximum=100_000_000),
    "tie_embeddings": boolean("The LM head shares the input embedding's weights.", False),
    "attention": enum(["gqa", "mla"], "Attention kind: gqa (also MHA and MQA) or mla (needs [model.mla]).", "gqa"),
    "mla": mla,
    "moe": moe,
    "qkv_bias": boolean("Query/key/value projections have biases (Qwen2, gpt-oss).", False),
    "attention_out_bias": boolean("The attention output projection has a bias (gpt-oss).", False),
    "qk_norm": enum(["none", "head", "full"], "Normalization of queries and keys: per head (Qwen3) or over all heads (OLMoE).", "none"),
    "attention_sinks": boolean("One learned sink logit per head (gpt-oss).", False),
    "norm": enum(["rmsnorm", "layernorm"], "Normalization kind: RMSNorm (weight only) or LayerNorm (weight and bias).", "rmsnorm"),
    "mtp_layers": integer("Multi-token-prediction modules (DeepSeek-V3); counted apart from the headline parameters.", minimum=0, maximum=1000, default=0),
    "model_type": {"type": "string", "description": "The Hugging Face model_type the fields came from (informational)."},
    "dropout": boolean("Training keeps dropout masks (default true; false when the config's dropouts are 0).", True),
})
model["allOf"] = [
    {"if": {"not": {"anyOf": [{"required": ["from"]}, {"required": ["id"]}]}},
     "then": {"required": ["layers", "hidden_size", "num_attention_heads", "vocab_size"]}},
    {"if": {"required": ["attention"], "properties": {"attention": {"const": "mla"}}}, "then": {"required": ["mla"]}},
]

hardware = table("The accelerators: a catalog name and/or explicit figures (explicit keys override the catalog).", {
    "accelerator": {"type": "string", "minLength": 1, "description": "A catalog name (`deploylint hardware` lists them); explicit keys below override its figures."},
    "num_devices": integer("Accelerators in the deployment.", maximum=131_072, why=WHY_DEVICES),
    "devices_per_node": integer("Accelerators that share the fast intra-node interconnect.", maximum=131_072, default=8, why=WHY_SPLIT),
    "memory_gib": number("Memory per device, GiB.", minimum=0.25, maximum=1e5, why=WHY_MEMORY),
    "peak_tflops": number("Dense peak TFLOP/s per device for the workload dtype (not the sparsity figure).", minimum=0.01, maximum=1e9, why=WHY_RATE),
    "memory_bandwidth_gbps": number("Memory (HBM) bandwidth per device, GB/s.", minimum=1, maximum=1e9, why=WHY_RATE),
    "intra_node_bandwidth_gbps": number("Intra-node link bandwidth per device, one direction, GB/s.", minimum=0.01, maximum=1e9, why=WHY_RATE),
    "inter_node_bandwidth_gbps": number("Inter-node network bandwidth per device, one direction, GB/s.", minimum=0.01, maximum=1e9, why=WHY_RATE),
}, required=["num_devices"])
hardware["if"] = {"not": {"required": ["accelerator"]}}
hardware["then"] = {"required": ["memory_gib", "peak_tflops", "memory_bandwidth_gbps"]}

placement = {
    "description": "Experts held by each expert-parallel rank: a count per rank (e.g. [22, 21, 21]) or a list of expert ids per rank.",
    "type": "array", "minItems": 1, "maxItems": 1_000_000,
    "items": {"anyOf": [
        {"type": "integer", "minimum": 0, "maximum": 1_000_000},
        {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 1_000_000}, "maxItems": 1_000_000},
    ]},
}

parallelism = table("How the work is split over the devices.", {
    "tp": integer("Tensor parallel size.", maximum=131_072, default=1, why=WHY_SPLIT),
    "pp": integer("Pipeline parallel size (stages).", maximum=131_072, default=1, why=WHY_SPLIT),
    "dp": integer("Data parallel size (replicas); default: num_devices / (tp·pp·cp).", maximum=131_072, why=WHY_SPLIT),
    "cp": integer("Context (sequence) parallel size.", maximum=131_072, default=1, why=WHY_SPLIT),
    "ep": integer("Expert parallel size: MoE layers use ep·etp·edp = tp·cp·dp.", maximum=131_072, default=1, why=WHY_SPLIT),
    "etp": integer("Tensor parallel size inside one expert.", maximum=131_072, default=1, why=WHY_SPLIT),
    "expert_placement": placement,
    "zero_stage": integer("ZeRO / FSDP stage: 1 shards optimizer states, 2 also gradients, 3 also parameters over dp.", minimum=0, maximum=3, default=0),
    "recompute": enum(["none", "selective", "full"], "Activation recomputation (Korthikanti et al. 2022).", "none"),
    "recompute_modules": {"description": "Selective recompute: the parts of each block rebuilt in the backward pass instead of kept (Megatron-LM --recompute-modules; default [\"core_attn\"]).",
                          "type": "array", "maxItems": 16, "default": ["core_attn"],
                          "items": {"type": "string", "enum": list(RECOMPUTE_MODULES)}},
    "sequence_parallel": boolean("Megatron sequence parallelism (default: on when tp > 1)."),
    "micro_batch_size": integer("Samples per pipeline micro-batch.", maximum=100_000_000, default=1, why=WHY_BATCH),
    "pipeline_layers": {"description": "Layers held by each pipeline stage, first to last (default: as even as possible).",
                        "type": "array", "minItems": 1, "maxItems": 1_000_000,
                        "items": {"type": "integer", "minimum": 0, "maximum": 100_000}},
    "flash_attention": boolean("Training: attention keeps no score matrix (FlashAttention); false stores the softmax scores (5as²b per layer).", True),
    "redundant_experts": integer("Replicas of hot experts held besides the routed experts (DeepSeek EPLB); ranks hold (num_experts + redundant_experts) / ep slots.", minimum=0, maximum=1_000_000, default=0),
    "offload_optimizer": enum(["none", "cpu", "nvme"], "Where ZeRO-Offload keeps the optimizer states and gradients (DeepSpeed offload_optimizer.device; FSDP CPU offload): off the device.", "none"),
    "offload_params": enum(["none", "cpu", "nvme"], "Where ZeRO-Infinity keeps the parameters between uses (DeepSpeed offload_param.device, stage 3): the device holds only the layer being computed.", "none"),
})

workload = table("What the deployment does.", {
    "mode": enum(["training", "inference"], "Training or inference."),
    "batch_size": integer("Training: global samples per step. Inference: concurrent sequences.", maximum=100_000_000, why=WHY_BATCH),
    "seq_len": integer("Training: tokens per sample. Inference: prompt tokens per sequence.", maximum=100_000_000, why=WHY_TOKENS),
    "output_len": integer("Inference: generated tokens per sequence.", minimum=0, maximum=100_000_000, default=0, why=WHY_TOKENS),
    "dtype": enum(DTYPES, "Weights and compute dtype.", "bf16"),
    "kv_cache_dtype": enum(DTYPES, "KV-cache dtype (default: dtype)."),
    "activation_cache_dtype": enum(DTYPES, "Training: dtype the matmuls' inputs are cached in for the backward pass (default: 16 bits; fp8 as DeepSeek-V3 §3.3.3)."),
    "optimizer": enum(["adam", "sgd"], "Training optimizer (Adam keeps fp32 master weights, momentum and variance).", "adam"),
    "batching": enum(["continuous", "static"], "Inference: continuous batching gives each request its own prefill; static prefills the whole batch first.", "continuous"),
    "phase": enum(["both", "prefill", "decode"], "Inference: the serving phases this plan runs; prefill or decode for one pool of a disaggregated deployment.", "both"),
    "speculative_acceptance": number("Inference: share of speculative drafts accepted (default 1: every draft, the fastest bound).", maximum=1),
    "speculative_tokens": integer("Inference: draft tokens verified per decode step (speculative decoding, MTP).", minimum=0, maximum=1000, default=0),
}, required=["mode", "batch_size", "seq_len"])

claims = table("What the plan's author says it achieves; each claim is checked against the estimate.", {
    "throughput_samples_per_s": number("Claimed samples (sequences) per second, whole deployment."),
    "throughput_tokens_per_s": number("Claimed tokens per second, whole deployment."),
    "latency_ms": number("Claimed latency of one step (training) or one request (inference), ms."),
    "latency_ms_per_layer": number("Claimed latency per transformer layer, ms."),
    "ttft_ms": number("Claimed time to first token, ms."),
    "tpot_ms": number("Claimed time per output token, ms."),
    "memory_per_device_mib": {
        "description": "Claimed memory used per device, MiB: one number, or one per device.",
        "anyOf": [number("MiB on every device."),
                  {"type": "array", "minItems": 1, "items": number("MiB on one device.")}],
    },
    "mfu": number("Claimed model FLOPs utilization (0–1).", maximum=1e6),
    "achieved_tflops_per_device": number("Claimed achieved TFLOP/s per device.", maximum=1e9),
})

serving = table("A serving engine's limits: caps on what runs (not the load), and its memory knob.", {
    "engine": {"type": "string", "minLength": 1, "description": "The serving engine the limits belong to (vllm, sglang, trtllm, …)."},
    "max_model_len": integer("Longest sequence (prompt + output tokens) the engine admits.", maximum=10**9),
    "max_num_seqs": integer("Most sequences the engine runs at once (vLLM max_num_seqs, SGLang max_running_requests, TensorRT-LLM max_batch_size).", maximum=10**9),
    "max_num_batched_tokens": integer("Most tokens one engine step processes (vLLM max_num_batched_tokens, TensorRT-LLM max_num_tokens).", maximum=10**12),
    "memory_fraction": number("The engine's memory knob: the share of memory it may use (see memory_fraction_of).", maximum=1),
    "memory_fraction_of": enum(["device", "free"], "What memory_fraction is a share of: the whole device (weights, activations and KV cache; vLLM, SGLang) or the memory left after the weights (the KV cache only; TensorRT-LLM).", "device"),
    "chunked_prefill": boolean("Long prompts are prefilled in chunks of max_num_batched_tokens."),
    "redundant_experts": integer("Extra expert replicas for load balancing (EPLB); experts + redundant must split evenly over ep.", minimum=0, maximum=1_000_000, default=0),
    "expert_load_balancing": boolean("Expert-parallel load balancing (EPLB) is on: experts + redundant_experts must split evenly over ep."),
})

training = table("What a training framework adds to the layout: the framework whose start-up checks apply, and its batch and pipeline options.", {
    "framework": {"type": "string", "minLength": 1, "description": "The training framework the plan was read from or is run with (megatron, torchtitan, deepspeed, accelerate): its own start-up checks apply."},
    "gradient_accumulation_steps": integer("Micro-batches each data-parallel rank accumulates per step (DeepSpeed gradient_accumulation_steps): batch_size = micro_batch_size × gradient_accumulation_steps × dp.", maximum=10**9),
    "step_batch_size_schedule": {"type": "string", "minLength": 1, "description": "Megatron-LM --step-batch-size-schedule (a batch size that changes at given steps); it excludes --global-batch-size."},
    "rampup_batch_size": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 10**15}, "minItems": 3, "maxItems": 3,
                          "description": "Megatron-LM --rampup-batch-size [start, increment, ramp-up samples] (deprecated and ignored since 532ad926; MEG008)."},
    "layers_per_virtual_stage": integer("Megatron-LM --num-layers-per-virtual-pipeline-stage (interleaved pipeline): layers of one virtual stage.", maximum=100_000),
    "virtual_stages_per_rank": integer("Megatron-LM --num-virtual-stages-per-pipeline-rank: virtual stages each pipeline rank holds.", maximum=100_000),
    "uneven_pipeline": boolean("The framework is told to split layers unevenly over the pipeline (Megatron-LM --decoder-first/last-pipeline-num-layers, --pipeline-model-parallel-layout).", default=False),
    "dp_shard": integer("Data-parallel ranks the parameters are sharded over (TorchTitan data_parallel_shard_degree, FSDP/HSDP); the rest of dp replicates.", maximum=10_000_000),
    "pipeline_schedule": enum(["1f1b", "dualpipe"], "Pipeline schedule: 1F1B (interleaved when virtual stages are given), or DeepSeek-V3's DualPipe (each rank holds stages r and pp-1-r; bubble (pp/2-1)(F&B+B-3W), 2x parameters, pp+1 micro-batches of activations).", "1f1b"),
})

schema = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://deploylint.dev/schemas/plan-1.json",
    "title": "deploylint deployment plan (version 1)",
    "description": "A deployment plan of a large model: model, hardware, parallelism, workload and claims (PLAN_FORMAT.md).",
    "type": "object",
    "properties": {
        "$schema": {"type": "string", "description": "The JSON schema this file follows (for editors)."},
        "schema_version": {"const": 1, "description": "Version of the plan format; 1 is the only version.", "type": "integer"},
        "name": {"type": "string", "description": "A name for the plan, shown in reports."},
        "model": model,
        "hardware": hardware,
        "parallelism": parallelism,
        "workload": workload,
        "claims": claims,
        "serving": serving,
        "training": training,
    },
    "required": ["schema_version", "model", "hardware", "parallelism", "workload"],
    "additionalProperties": False,
}

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plan.schema.json")

def render() -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"

if __name__ == "__main__":
    with open(OUT, "w", encoding="utf-8") as fh:
        fh.write(render())
    print(OUT)
