"""Every rule that offers a fix, in all four formats: apply it, the file still parses, comments are kept,
the diagnostic is gone, and a second run changes nothing."""

import copy
import re

import pytest

FORMATS = ("toml", "yaml", "json", "python")

BASE = {
    "schema_version": 1,
    "model": {"layers": 8, "hidden_size": 1024, "num_attention_heads": 16, "num_kv_heads": 8, "vocab_size": 32000,
              "ffn_hidden_size": 4096},
    "hardware": {"num_devices": 8, "memory_gib": 80, "peak_tflops": 1000, "memory_bandwidth_gbps": 3000,
                 "devices_per_node": 8, "intra_node_bandwidth_gbps": 450, "inter_node_bandwidth_gbps": 50},
    "parallelism": {"tp": 1, "pp": 1, "dp": 8},
    "workload": {"mode": "inference", "batch_size": 4096, "seq_len": 1024, "output_len": 128},
}
MOE = {"num_experts": 64, "top_k": 2, "expert_ffn_hidden_size": 512}
BIG = {"layers": 80, "hidden_size": 8192, "num_attention_heads": 64, "num_kv_heads": 8, "vocab_size": 128256,
       "ffn_hidden_size": 28672}


def plan(**sections):
    p = copy.deepcopy(BASE)
    for section, values in sections.items():
        target = p.setdefault(section, {})
        for k, v in values.items():
            if v is None:
                target.pop(k, None)
            else:
                target[k] = v
    return p


SEED_LIKE = dict(model={"layers": 4, "moe": MOE}, hardware={"num_devices": 3}, parallelism={"dp": 3, "ep": 3},
                 workload={"batch_size": 8, "seq_len": 16, "output_len": 0})

# code, plan, unsafe fixes allowed
CASES = [
    ("DL002", plan(parallelism={"dp": "8"}), False),
    ("DL003", plan(parallelism={"micro_batch_sizes": 1}), False),
    ("DL004", plan(hardware={"accelerator": "h100sxm", "memory_gib": None, "peak_tflops": None,
                             "memory_bandwidth_gbps": None}), True),
    ("MOE301", plan(**SEED_LIKE), True),
    ("MOE302", plan(model={"moe": MOE}, parallelism={"ep": 4, "dp": 8, "expert_placement": [16, 16, 16]}), False),
    ("MOE303", plan(model={"moe": {**MOE, "num_experts": 4}}, parallelism={"ep": 8}), True),
    ("MOE304", plan(model={"moe": MOE}, parallelism={"ep": 4, "expert_placement": [20, 12, 16, 16]}), False),
    ("PAR401", plan(parallelism={"tp": 2, "dp": 3}), False),
    ("PAR402", plan(hardware={"num_devices": 6}, parallelism={"tp": 6, "dp": 1}), True),
    ("PAR403", plan(model={"layers": 10}, parallelism={"pp": 4, "dp": 2}), True),
    ("PAR404", plan(hardware={"num_devices": 16}, parallelism={"tp": 16, "dp": 1}), True),
    ("PAR405", plan(model=BIG, hardware={"memory_gib": 192}, parallelism={"tp": 1, "dp": 8},
                    workload={"batch_size": 8, "seq_len": 1024, "output_len": 128}), True),
    ("MEM101", plan(model=BIG, hardware={"memory_gib": 192}, parallelism={"dp": 8},
                    workload={"mode": "training", "batch_size": 64, "seq_len": 4096, "output_len": None}), True),
    ("MEM102", plan(workload={"batch_size": 8, "seq_len": 128, "output_len": 16}), True),
    ("MEM103", plan(**SEED_LIKE, claims={"memory_per_device_mib": 149}), True),
    ("CMP201", plan(**SEED_LIKE, claims={"throughput_samples_per_s": 3800}), True),
    ("PRF502", plan(**SEED_LIKE, claims={"throughput_samples_per_s": 3800, "latency_ms_per_layer": 2.1}), True),
]


def with_comments(text: str, fmt: str) -> str:
    """The rendered plan with a comment on a line of its own and one at the end of a line."""
    if fmt == "json":
        return text
    return "# a plan under review\n" + re.sub(r"(schema_version\"?\s*[:=]\s*1,?)", r"\1  # format version", text, count=1)


def comments(text: str) -> list[str]:
    return [m.group(0).strip() for m in re.finditer(r"#[^\n]*", text)]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("code, data, unsafe", CASES, ids=[c[0] for c in CASES])
def test_fix_applies_cleanly(deploylint, code, data, unsafe, fmt):
    from deploylint.core.testing import render_plan

    text = with_comments(render_plan(data, fmt), fmt)
    only = {"select": [code]}
    before = deploylint.lint(text, format=fmt, config=only)
    assert code in before.codes, (code, before.codes)
    fixed = before.apply_fixes(unsafe=unsafe)
    assert fixed != text
    after = deploylint.lint(fixed, format=fmt)
    assert not {"DL001", "DL002"} & set(after.codes), [d.message for d in after.diagnostics if d.code.startswith("DL")]
    assert code not in deploylint.lint(fixed, format=fmt, config=only).codes
    assert comments(text) == comments(fixed)                     # every comment kept, in order
    assert ("\r\n" in fixed) == ("\r\n" in text)
    assert deploylint.lint(fixed, format=fmt, config=only).apply_fixes(unsafe=unsafe) == fixed   # a second run: no-op


@pytest.mark.parametrize("fmt", FORMATS)
def test_crlf_and_untouched_lines_survive(deploylint, fmt):
    from deploylint.core.testing import render_plan

    text = with_comments(render_plan(plan(parallelism={"tp": 2, "dp": 3}), fmt), fmt).replace("\n", "\r\n")
    fixed = deploylint.lint(text, format=fmt).apply_fixes()
    assert "PAR401" not in deploylint.lint(fixed, format=fmt).codes
    old_lines, new_lines = text.split("\r\n"), fixed.split("\r\n")
    assert "\n" not in fixed.replace("\r\n", "")                 # no bare LF introduced
    changed = [(a, b) for a, b in zip(old_lines, new_lines) if a != b]
    assert len(old_lines) == len(new_lines) and len(changed) == 1 and "3" in changed[0][0] and "4" in changed[0][1]
