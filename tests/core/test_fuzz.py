"""Damaged plans in every format: never a traceback, never a hang, never silence.

Every damaged input must produce a diagnostic (or be a plan that is still
valid, in which case a clean result is the right answer). Runs in-process
through the engine, the same path the CLI and the language server take.
"""

import signal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploylint.core.pipeline.config import Config
from deploylint.core.pipeline.engine import Engine
from deploylint.core.host.registry import Registry
from deploylint.core.testing import render_plan

PLAN = {
    "schema_version": 1,
    "name": "fuzz",
    "model": {"layers": 4, "hidden_size": 1024, "num_attention_heads": 16, "vocab_size": 32000,
              "moe": {"num_experts": 64, "top_k": 2, "expert_ffn_hidden_size": 512}},
    "hardware": {"num_devices": 3, "memory_gib": 64, "peak_tflops": 400, "memory_bandwidth_gbps": 1600},
    "parallelism": {"tp": 1, "pp": 1, "ep": 3, "expert_placement": [22, 21, 21]},
    "workload": {"mode": "inference", "batch_size": 8, "seq_len": 16},
    "claims": {"throughput_samples_per_s": 3800, "memory_per_device_mib": 149},
}
FORMATS = {"toml": ".toml", "yaml": ".yaml", "json": ".json", "python": ".py"}
TEXTS = {fmt: render_plan(PLAN, fmt).encode() for fmt in FORMATS}
EXTREMES = [b"inf", b"nan", b"-inf", b"1e308", b"1e309", b"-1e308", b"123456789012345678901", b"0", b"-1", b"1.5", b'"x"', b"true", b"[]", b"{}"]

_ENGINE = None


def engine():
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Engine(Registry().load(), Config())
    return _ENGINE


class Hang(Exception):
    pass


def check(fmt: str, raw: bytes):
    def alarm(*_):
        raise Hang(f"{fmt} input took more than 10 s: {raw[:200]!r}")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(10)
    try:
        result = engine().check_bytes(f"deploy{FORMATS[fmt]}", raw)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    codes = [d.code for d in result.diagnostics]
    if result.document is None:
        assert "DL001" in codes or "DL005" in codes, (raw[:300], codes)
    else:
        valid = _independently_valid(result.document.data)
        if not valid:
            assert set(codes) & {"DL001", "DL002", "DL003", "DL004"}, (raw[:300], codes)
    for d in result.diagnostics:
        assert d.message and d.range is not None and d.range.start.line >= 1, d
    return result


def _independently_valid(data) -> bool:
    import jsonschema

    from deploylint.core.pipeline.schema import load_schema

    data = {k: v for k, v in data.items() if k != "$deploylint"} if isinstance(data, dict) else data
    try:
        jsonschema.Draft202012Validator(load_schema()).validate(data)
    except jsonschema.ValidationError:
        return False
    return True


fmts = st.sampled_from(sorted(FORMATS))


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=fmts, data=st.data())
def test_flipped_bytes_truncation_and_insertions(fmt, data):
    raw = bytearray(TEXTS[fmt])
    op = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    pos = data.draw(st.integers(0, len(raw)))
    if op == "flip" and pos < len(raw):
        raw[pos] = data.draw(st.integers(0, 255))
    elif op == "truncate":
        raw = raw[:pos]
    elif op == "insert":
        raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    elif op == "delete":
        raw[pos:pos + data.draw(st.integers(1, 20))] = b""
    check(fmt, bytes(raw))


@settings(max_examples=120, deadline=None, derandomize=True)
@given(fmt=fmts, data=st.data())
def test_numbers_replaced_by_extremes_and_wrong_types(fmt, data):
    text = TEXTS[fmt]
    targets = [b"1024", b"16", b"3800", b"149", b"64", b"3", b"400"]
    target = data.draw(st.sampled_from(targets))
    value = data.draw(st.sampled_from(EXTREMES))
    if fmt == "python":
        value = {b"inf": b"float('inf')", b"nan": b"float('nan')", b"-inf": b"-float('inf')", b"true": b"True"}.get(value, value)
    if fmt == "json" and value in (b"inf", b"nan", b"-inf"):
        value = {b"inf": b"Infinity", b"nan": b"NaN", b"-inf": b"-Infinity"}[value]
    check(fmt, text.replace(target, value, 1))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_hostile_shapes(fmt):
    depth = 5000
    hostile = {
        "toml": [b"a = " + b"[" * depth + b"]" * depth + b"\n", b"schema_version = 1\nschema_version = 2\n",
                 b"[model]\n[model]\n"],
        "yaml": [b"a: " + b"[" * depth + b"]" * depth + b"\n",
                 b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                 b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                 b"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n",
                 b"schema_version: 1\nschema_version: 2\n", b"--- 1\n--- 2\n", b"!!python/object:os.system {}\n"],
        "json": [b"[" * depth + b"]" * depth, b'{"schema_version": 1, "schema_version": 2}', b"NaN", b'"just a string"'],
        "python": [b"PLAN = " + b"[" * depth + b"]" * depth + b"\n", b"PLAN = " + b"(" * 300 + b")" * 300 + b"\n",
                   b"import os\nos.system('echo pwned')\n", b"PLAN = {**other}\n", b"PLAN = f'{x}'\n"],
    }[fmt]
    common = [b"", b"\x00\x00\x00", b"\xff\xfe\xfa", b"\xef\xbb\xbf", b"\xef\xbb\xbf" + TEXTS[fmt], TEXTS[fmt].replace(b"\n", b"\r\n"),
              TEXTS[fmt] + b"\x00", TEXTS[fmt][:-1] + b"\xc3"]
    for raw in hostile + common:
        check(fmt, raw)


def test_bom_and_crlf_plans_still_check_cleanly_to_the_same_findings():
    base = sorted(d.code for d in check("toml", TEXTS["toml"]).diagnostics)
    for variant in (b"\xef\xbb\xbf" + TEXTS["toml"], TEXTS["toml"].replace(b"\n", b"\r\n")):
        assert sorted(d.code for d in check("toml", variant).diagnostics) == base


# -- extreme values in a well-formed plan ------------------------------------------------------
TRAINING = {
    "schema_version": 1,
    "model": {"layers": 32, "hidden_size": 4096, "num_attention_heads": 32, "vocab_size": 128000},
    "hardware": {"num_devices": 16, "memory_gib": 80, "peak_tflops": 989, "memory_bandwidth_gbps": 3350,
                 "intra_node_bandwidth_gbps": 450, "inter_node_bandwidth_gbps": 50},
    "parallelism": {"tp": 8, "pp": 2, "micro_batch_size": 1},
    "workload": {"mode": "training", "batch_size": 512, "seq_len": 4096},
    "claims": {"throughput_tokens_per_s": 1e6, "achieved_tflops_per_device": 400, "mfu": 0.4},
}
INFERENCE = dict(PLAN, workload={"mode": "inference", "batch_size": 8, "seq_len": 16, "output_len": 64},
                 claims={"throughput_samples_per_s": 3800, "latency_ms": 5, "ttft_ms": 1, "tpot_ms": 0.5,
                         "memory_per_device_mib": 149})
#: a billion devices, a batch of 10^12, a million layers, zeros where divisors go, and the edges of the bounds
EXTREME_VALUES = [0, 1, 2, 7, 10**6, 10**9, 10**12, 2**53 + 1, 131_072, 100_000_000, 1e-300, 1e-9, 0.25, 1e300]


def _numeric_paths(data, prefix=""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _numeric_paths(value, f"{prefix}/{key}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield f"{prefix}/{key}"


def _set(data, path, value):
    import copy

    data = copy.deepcopy(data)
    node = data
    *parents, last = path.strip("/").split("/")
    for p in parents:
        node = node[p]
    node[last] = value
    return data


def _finite_json(value) -> None:
    import json

    json.dumps(value, allow_nan=False)   # raises on NaN or Infinity


CASES = [(name, path) for name, plan in (("training", TRAINING), ("inference", INFERENCE)) for path in _numeric_paths(plan)]


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(CASES), value=st.sampled_from(EXTREME_VALUES), fmt=fmts)
def test_extreme_values_get_a_finding_never_a_crash_and_only_finite_numbers(case, value, fmt):
    from deploylint.core.pipeline.engine import render_fixes

    name, path = case
    plan = _set(TRAINING if name == "training" else INFERENCE, path, value)
    result = check(fmt, render_plan(plan, fmt).encode())
    render_fixes(result)
    core_failures = [d.message for d in result.diagnostics if d.code == "DL005"]
    assert not core_failures, (path, value, core_failures)      # no ZeroDivisionError, no time-out in the core
    for d in result.diagnostics:
        _finite_json(d.to_json())
    if result.analysis is not None:
        _finite_json(result.analysis.to_json())


@pytest.mark.parametrize("path,value,reason", [
    ("/hardware/num_devices", 10**9, "biggest published clusters"),
    ("/workload/batch_size", 10**12, "million sequences"),
    ("/model/layers", 10**6, "deepest published transformers"),
    ("/parallelism/pp", 10**6, "larger than the deployment"),
])
def test_values_outside_any_deployment_are_a_dl002_that_gives_the_reason(path, value, reason):
    result = check("toml", render_plan(_set(TRAINING, path, value), "toml").encode())
    d = next(d for d in result.diagnostics if d.code == "DL002" and d.path == path)
    assert reason in d.message and str(value) in d.message
    assert result.analysis is None      # nothing downstream sees a value out of bounds
