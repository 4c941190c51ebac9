"""How the cost of `deploylint check` grows with the size of the plan file.

A plan is small, but a linter in a pre-commit hook or an editor must not hang
on a big or odd one: its cost must grow linearly with the file. This script
writes the seed review's plan (examples/seed-moe-64e-3dev.*, which has findings
with fixes) padded to 1 MB and 10 MB in each format, with one kind of padding
at a time:

    comments   long comment blocks at the top level (TOML, YAML, Python; JSON has no comments)
    deep-comments  the same comment lines inside a nested table (workload), indented as its keys
    blank      many blank lines
    strings    one long string value (an unknown key)
    array      one long array of integers under an unknown key
    keys       many unknown keys close to a known one (each gets a did-you-mean fix)
    tables     many small tables of one key each (TOML [headers]; nested mappings elsewhere)

A plan of more than MAX_ENTRIES keys and list items (50,000; docs/plan-format.md,
"Limits") is refused with a DL001 before its parser runs: at 10 MB the array,
keys and tables shapes are past it, and what is timed is that refusal.

and times `deploylint check FILE` on each in a fresh process. Run from the
repository root, in the venv that has deploylint installed:

    python bench/bench_size.py                          # every format and shape, 1 and 10 MB
    python bench/bench_size.py --formats toml,json --shapes keys --sizes 1,10
    python bench/bench_size.py --timeout 60 --memory-gib 4 --format json

Each run is stopped after ``--timeout`` seconds (shown as ">60 s") and limited
to ``--memory-gib`` of address space (shown as "MEM"). It prints, per format
and shape, the wall time and peak memory at each size and the growth ratio
10 MB / 1 MB of the CPU time (10x means linear; CPU time, because wall time on a
shared machine mostly measures the other processes). Figures are reported,
never asserted.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MB = 1_000_000

FORMATS = ("toml", "yaml", "json", "python")
SHAPES = ("comments", "deep-comments", "blank", "strings", "array", "keys", "tables")

# The seed plan in each format, with two insertion points: TOP (after `name`) and WORK (inside workload).
TEMPLATES = {
    "toml": """schema_version = 1
name = "moe-64e-3dev"
{TOP}
[model]
layers = 4
hidden_size = 1024
num_attention_heads = 16
vocab_size = 32000

[model.moe]
num_experts = 64
top_k = 2
expert_ffn_hidden_size = 512

[hardware]
num_devices = 3
memory_gib = 64
peak_tflops = 400
memory_bandwidth_gbps = 1600
intra_node_bandwidth_gbps = 196

[parallelism]
tp = 1
pp = 1
ep = 3
expert_placement = [22, 21, 21]

[workload]
mode = "inference"
batch_size = 8
seq_len = 16
{WORK}
[claims]
throughput_samples_per_s = 3800
latency_ms_per_layer = 2.1
memory_per_device_mib = 149
""",
    "yaml": """schema_version: 1
name: moe-64e-3dev
{TOP}
model:
  layers: 4
  hidden_size: 1024
  num_attention_heads: 16
  vocab_size: 32000
  moe: {{num_experts: 64, top_k: 2, expert_ffn_hidden_size: 512}}
hardware:
  num_devices: 3
  memory_gib: 64
  peak_tflops: 400
  memory_bandwidth_gbps: 1600
  intra_node_bandwidth_gbps: 196
parallelism:
  tp: 1
  pp: 1
  ep: 3
  expert_placement: [22, 21, 21]
workload:
  mode: inference
  batch_size: 8
  seq_len: 16
{WORK}
claims:
  throughput_samples_per_s: 3800
  latency_ms_per_layer: 2.1
  memory_per_device_mib: 149
""",
    "json": """{{
  "schema_version": 1,
  "name": "moe-64e-3dev",
{TOP}
  "model": {{
    "layers": 4,
    "hidden_size": 1024,
    "num_attention_heads": 16,
    "vocab_size": 32000,
    "moe": {{"num_experts": 64, "top_k": 2, "expert_ffn_hidden_size": 512}}
  }},
  "hardware": {{
    "num_devices": 3,
    "memory_gib": 64,
    "peak_tflops": 400,
    "memory_bandwidth_gbps": 1600,
    "intra_node_bandwidth_gbps": 196
  }},
  "parallelism": {{"tp": 1, "pp": 1, "ep": 3, "expert_placement": [22, 21, 21]}},
  "workload": {{
{WORK}
    "mode": "inference",
    "batch_size": 8,
    "seq_len": 16
  }},
  "claims": {{"throughput_samples_per_s": 3800, "latency_ms_per_layer": 2.1, "memory_per_device_mib": 149}}
}}
""",
    "python": '''"""The seed plan, padded."""

PLAN = {{
    "schema_version": 1,
    "name": "moe-64e-3dev",
{TOP}
    "model": dict(layers=4, hidden_size=1024, num_attention_heads=16, vocab_size=32000,
                  moe=dict(num_experts=64, top_k=2, expert_ffn_hidden_size=512)),
    "hardware": {{
        "num_devices": 3,
        "memory_gib": 64,
        "peak_tflops": 400,
        "memory_bandwidth_gbps": 1600,
        "intra_node_bandwidth_gbps": 196,
    }},
    "parallelism": {{"tp": 1, "pp": 1, "ep": 3, "expert_placement": [22, 21, 21]}},
    "workload": {{
{WORK}
        "mode": "inference",
        "batch_size": 8,
        "seq_len": 16,
    }},
    "claims": {{
        "throughput_samples_per_s": 3800,
        "latency_ms_per_layer": 2.1,
        "memory_per_device_mib": 149,
    }},
}}
''',
}
SUFFIX = {"toml": ".plan.toml", "yaml": ".yaml", "json": ".json", "python": ".py"}
COMMENT = {"toml": "#", "yaml": "#", "python": "    #"}
INDENT = {"toml": "", "yaml": "  ", "json": "    ", "python": "        "}


def _repeat(line: str, size: int) -> str:
    return line * max(1, size // len(line))


def padding(fmt: str, shape: str, size: int) -> tuple[str, str]:
    """(TOP, WORK) padding of about ``size`` characters."""
    if shape in ("comments", "deep-comments"):
        if fmt == "json":
            raise ValueError("JSON has no comments")
        line = "# a long comment block explaining the plan, line after line, word by word\n"
        if shape == "comments":
            return _repeat(COMMENT[fmt] + line[1:], size), ""
        return "", _repeat(INDENT[fmt] + line, size)
    if shape == "strings":
        body = _repeat("a long note, word by word; ", size)
        return {"toml": f'extra_note = "{body}"\n', "yaml": f'extra_note: "{body}"\n',
                "json": f'  "extra_note": "{body}",\n', "python": f'    "extra_note": "{body}",\n'}[fmt], ""
    if shape == "tables":
        line = {"toml": "[extra_tables.t{:07d}]\nk = 1\n", "yaml": "  t{:07d}: {{k: 1}}\n",
                "json": '    "t{:07d}": {{"k": 1}},\n', "python": '        "t{:07d}": {{"k": 1}},\n'}[fmt]
        count = max(1, size // len(line.format(0)))
        body = "".join(line.format(i) for i in range(count))
        if fmt == "toml":
            return "", ""  # headers go last (after [claims]): see make_plan
        if fmt == "yaml":
            return f"extra_tables:\n{body}", ""
        if fmt == "json":
            return f'  "extra_tables": {{\n{body}    "last": {{}}\n  }},\n', ""
        return f'    "extra_tables": {{\n{body}    }},\n', ""
    if shape == "blank":
        return _repeat("\n", size), ""
    if shape == "array":
        row = ", ".join(str(1000 + i) for i in range(16))
        rows = max(1, size // (len(row) + 8))
        body = (",\n").join("    " + row for _ in range(rows))
        if fmt == "toml":
            return f"extra_padding = [\n{body}\n]\n", ""
        if fmt == "yaml":
            return f"extra_padding: [\n{body}\n]\n", ""
        if fmt == "json":
            return f'  "extra_padding": [\n{body}\n  ],\n', ""
        return f'    "extra_padding": [\n{body}\n    ],\n', ""
    if shape == "keys":
        # output_len_000001 is close to the known (and unused) key output_len: each gets a did-you-mean rename
        ind = INDENT[fmt]
        line = {"toml": ind + "output_len_{:07d} = 1\n", "yaml": ind + "output_len_{:07d}: 1\n",
                "json": ind + '"output_len_{:07d}": 1,\n', "python": ind + '"output_len_{:07d}": 1,\n'}[fmt]
        count = max(1, size // len(line.format(0)))
        return "", "".join(line.format(i) for i in range(count))
    raise ValueError(shape)


def make_plan(fmt: str, shape: str, megabytes: float) -> str:
    base = TEMPLATES[fmt].format(TOP="", WORK="")
    size = int(megabytes * MB) - len(base)
    if fmt == "toml" and shape == "tables":   # [headers] would capture the keys after them: append them
        line = "[extra_tables.t{:07d}]\nk = 1\n"
        return base + "".join(line.format(i) for i in range(max(1, size // len(line.format(0)))))
    top, work = padding(fmt, shape, size)
    return TEMPLATES[fmt].format(TOP=top, WORK=work)


def _limit(memory_bytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    return apply


def run_one(exe: str, path: str, extra: list[str], timeout: float, memory_bytes: int) -> tuple[str, float, float, float, int | None]:
    """(status, wall seconds, CPU seconds, peak MiB, exit code) of one `deploylint check`."""
    start = time.perf_counter()
    proc = subprocess.Popen([exe, "check", path, *extra], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=ROOT, preexec_fn=_limit(memory_bytes))
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            return "timeout", time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, None
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    state = "ok"
    if "MemoryError" in err or code < 0:
        state = "memory" if "MemoryError" in err or code == -9 else f"signal {-code}"
    elif "Traceback" in err:
        state = "crash"
    return state, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code


def _cell(state: str, seconds: float, cpu: float, mib: float, timeout: float) -> str:
    if state == "timeout":
        return f">{timeout:g} s"
    if state != "ok":
        return state.upper()
    return f"{seconds:.2f} s ({cpu:.2f} s CPU), {mib:.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--sizes", default="1,10", help="megabytes, comma-separated; the ratio is last/first")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a run is stopped")
    parser.add_argument("--memory-gib", type=float, default=4.0, help="address-space limit of each run")
    parser.add_argument("--format", dest="output", default="text", help="deploylint's --format (text, json, sarif)")
    args = parser.parse_args()
    exe = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if exe is None:
        sys.exit("deploylint is not installed in this environment")
    sizes = [float(s) for s in args.sizes.split(",")]
    extra = ["--format", args.output]
    memory = int(args.memory_gib * 2**30)
    header = ["format", "shape"] + [f"{s:g} MB" for s in sizes] + ([f"{sizes[-1]:g}/{sizes[0]:g} MB"] if len(sizes) > 1 else [])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    with tempfile.TemporaryDirectory(prefix="deploylint-bench-") as tmp:
        for fmt in args.formats.split(","):
            for shape in args.shapes.split(","):
                if fmt == "json" and shape.endswith("comments"):
                    continue
                cells, times = [], []
                for size in sizes:
                    path = os.path.join(tmp, f"{shape}-{size:g}mb{SUFFIX[fmt]}")
                    with open(path, "w", encoding="utf-8") as fh:
                        fh.write(make_plan(fmt, shape, size))
                    state, seconds, cpu, mib, _code = run_one(exe, path, extra, args.timeout, memory)
                    os.unlink(path)
                    cells.append(_cell(state, seconds, cpu, mib, args.timeout))
                    times.append(cpu if state == "ok" else None)
                if len(sizes) > 1:
                    cells.append(f"{times[-1] / times[0]:.1f}x" if None not in (times[0], times[-1]) else "-")
                print("| " + " | ".join([fmt, shape] + cells) + " |", flush=True)


if __name__ == "__main__":
    main()
