"""Plans the rule tests start from: small, explicit hardware (no catalog), one finding changed at a time."""

import copy

import pytest

BASE = {
    "schema_version": 1,
    "name": "base",
    "model": {"layers": 8, "hidden_size": 1024, "num_attention_heads": 16, "num_kv_heads": 8, "vocab_size": 32000,
              "ffn_hidden_size": 4096},
    "hardware": {"num_devices": 8, "memory_gib": 80, "peak_tflops": 1000, "memory_bandwidth_gbps": 3000,
                 "devices_per_node": 8, "intra_node_bandwidth_gbps": 450, "inter_node_bandwidth_gbps": 50},
    "parallelism": {"tp": 1, "pp": 1, "dp": 8},
    "workload": {"mode": "inference", "batch_size": 64, "seq_len": 1024, "output_len": 128},
}

MOE = {"num_experts": 64, "top_k": 2, "expert_ffn_hidden_size": 512}


def merged(base, **sections):
    plan = copy.deepcopy(base)
    for section, values in sections.items():
        if values is None:
            plan.pop(section, None)
            continue
        target = plan.setdefault(section, {})
        for k, v in values.items():
            if v is None:
                target.pop(k, None)
            else:
                target[k] = v
    return plan


@pytest.fixture
def plan():
    """``plan(model={...}, parallelism={...}, ...)``: BASE with sections updated (None deletes a key)."""
    return lambda **sections: merged(BASE, **sections)


@pytest.fixture
def moe_plan():
    return lambda **sections: merged(merged(BASE, model={"moe": MOE}), **sections)
