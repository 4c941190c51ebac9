"""The seed review's plan (see seed-moe-64e-3dev.toml), as a Python plan file.

deploylint reads PLAN statically and never imports or runs this module.
"""

EXPERTS = 64  # ignored by deploylint: only the PLAN literal is read

PLAN = {
    "schema_version": 1,
    "name": "moe-64e-3dev",
    "model": dict(layers=4, hidden_size=1024, num_attention_heads=16, vocab_size=32000,
                  moe=dict(num_experts=64, top_k=2, expert_ffn_hidden_size=512)),
    "hardware": {
        "num_devices": 3,
        "memory_gib": 64,  # per device
        "peak_tflops": 400,
        "memory_bandwidth_gbps": 1600,
        "intra_node_bandwidth_gbps": 196,
    },
    "parallelism": {"tp": 1, "pp": 1, "ep": 3, "expert_placement": [22, 21, 21]},
    "workload": {"mode": "inference", "batch_size": 8, "seq_len": 16},
    "claims": {
        "throughput_samples_per_s": 3800,
        "latency_ms_per_layer": 2.1,
        "memory_per_device_mib": 149,
    },
}
