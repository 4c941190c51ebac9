"""Soundness gate: deploylint against measured serving runs.

Every row of ai-dynamo/aiconfigurator's ``silicon_sample.csv`` (a copy lives in
``../shared/data/measured/``, see its SOURCES.md) is a serving run that really
happened: its layout fitted in memory and its measured TTFT and TPOT are at or
above what physics allows. Each row deploylint can express becomes a plan with
the measured figures as ``ttft_ms`` / ``tpot_ms`` claims and is checked like any
plan. The contract (docs/validation.md):

* no expressible row gets an error-severity diagnostic (a run that happened is
  never called impossible);
* no lower bound exceeds its measurement (bound / measured ≤ 1);
* the distribution of bound / measured is printed (how tight the bounds are).

A row whose client concurrency does not fit in the KV cache (MEM101 at that
batch) ran with fewer requests admitted at once and the rest queued (its TTFT
shows the wait): it is checked at the largest batch that fits, and counted.
The gate leaves out PAR405 and MEM102, warning-only rules whose fixes run the
layout search (``--all-rules`` keeps them).

Rows it cannot express are counted with the reason (model without a config in
the project, a system not in the accelerator catalog, 4-bit weights the plan
format has no dtype for). Exit status 1 on any violation, 2 when the CSV is
missing.

    python bench/validate_measured.py [CSV] [--show N] [--json]
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import re
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(ROOT, "tests", "data", "hf-configs")
DEFAULT_CSV = os.path.join(os.environ.get("DEPLOYLINT_SHARED", os.path.join(ROOT, "..", "shared")),
                           "data", "measured", "aiconfigurator-silicon-sample.csv")

#: model_path → config.json in tests/data/hf-configs (an Instruct or R1 checkpoint has its base model's architecture)
MODELS = {
    "meta-llama/Llama-3.1-70B": "llama-3.1-70b.json",
    "meta-llama/Llama-3.1-8B-Instruct": "llama-3.1-8b.json",
    "nvidia/Llama-3.1-8B-Instruct-FP8": "llama-3.1-8b.json",
    "deepseek-ai/DeepSeek-V3": "deepseek-v3.json",
    "deepseek-ai/DeepSeek-R1": "deepseek-v3.json",
    "openai/gpt-oss-120b": "gpt-oss-120b.json",
}

#: aiconfigurator system → deploylint accelerator catalog entry (8 GPUs per HGX node, 72 per NVL72 rack)
SYSTEMS = {"h100_sxm": "h100-sxm", "h200_sxm": "h200", "b200_sxm": "b200", "b300_sxm": "b300", "gb200": "gb200",
           "gb300": "gb300"}

#: GEMM quantization → plan dtype. An unrecorded precision is bounded as fp8, the cheapest dtype the plan format has
#: (fewest bytes, highest peak), which keeps the bound a lower bound whatever the run used.
DTYPES = {"fp8": "fp8", "fp8_block": "fp8", "bf16": "bf16", "fp16": "fp16", "": "fp8"}


class Unexpressible(Exception):
    """A row the plan format cannot state faithfully (the reason is the message)."""


def _int(row: dict, key: str, default: int | None = None) -> int | None:
    value = (row.get(key) or "").strip()
    if not value:
        return default
    return int(float(value))


def _concurrency(row: dict) -> int | None:
    found = re.search(r"silicon_concurrency=(\d+)", row.get("silicon_data_source") or "")
    return int(found.group(1)) if found else None


def _layout(row: dict, prefix: str, moe: bool) -> dict:
    """deploylint's [parallelism] for one worker: attention tp × attention-dp devices, regrouped as moe_tp × moe_ep."""
    tp = _int(row, prefix + "tp_size", 1) or 1
    pp = _int(row, prefix + "pp_size", 1) or 1
    dp = _int(row, prefix + "attention_dp_size", 1) or 1
    par = {"tp": tp, "pp": pp, "dp": dp}
    if moe:
        ep = _int(row, prefix + "moe_ep_size", 1) or 1
        etp = _int(row, prefix + "moe_tp_size", 0) or max(1, tp * dp // ep)
        if ep * etp != tp * dp:
            raise Unexpressible(f"moe_tp·moe_ep = {etp}·{ep} does not regroup the tp·attention_dp = {tp * dp} devices")
        par.update(ep=ep, etp=etp)
    return par


def plans_for(row: dict) -> list[tuple[str, dict]]:
    """The plans (as dicts) one measured row becomes: ("agg", plan), or ("prefill", …) and ("decode", …) pools.

    Raises :class:`Unexpressible` with the reason when the row cannot be stated.
    """
    model = row["model_path"]
    if model not in MODELS:
        raise Unexpressible(f"no config.json for {model} in tests/data/hf-configs")
    system = row["system"]
    if system not in SYSTEMS:
        raise Unexpressible(f"system {system} is not in the accelerator catalog")
    quant = row.get("gemm_quant_mode") or ""
    moe_quant = row.get("moe_quant_mode") or ""
    if quant not in DTYPES or moe_quant not in DTYPES:
        raise Unexpressible(f"{quant or moe_quant} weights: the plan format has no 4-bit dtype")
    dtype = DTYPES[quant]
    is_moe = "deepseek" in model.lower() or "gpt-oss" in model.lower()
    base = {
        "schema_version": 1,
        "name": row["id"],
        "model": {"from": os.path.join(CONFIGS, MODELS[model])},
        "workload": {"mode": "inference", "seq_len": int(row["isl"]), "output_len": int(row["osl"]), "dtype": dtype},
    }

    def plan(par: dict, batch: int, claims: dict, phase: str = "both") -> dict:
        devices = par["tp"] * par["pp"] * par["dp"]
        out = json.loads(json.dumps(base))
        out["hardware"] = {"accelerator": SYSTEMS[system], "num_devices": devices}
        out["parallelism"] = par
        out["workload"]["batch_size"] = batch
        if phase != "both":
            out["workload"]["phase"] = phase
        out["claims"] = claims
        return out

    ttft, tpot = float(row["silicon_ttft_ms"]), float(row["silicon_tpot_ms"])
    if row["mode"] == "agg":
        par = _layout(row, "", is_moe)
        batch = _concurrency(row) or (_int(row, "batch_size", 1) or 1) * par["dp"]
        return [("agg", plan(par, batch, {"ttft_ms": ttft, "tpot_ms": tpot}))]
    # disaggregated: a prefill pool (TTFT) and a decode pool (TPOT); a batch the row does not give is bounded at 1,
    # the smallest (and so the fastest) a worker can run
    pre = _layout(row, "prefill_", is_moe)
    dec = _layout(row, "decode_", is_moe)
    pre_batch = (_int(row, "prefill_batch_size", 1) or 1) * pre["dp"]
    dec_batch = (_int(row, "decode_batch_size", 1) or 1) * dec["dp"]
    return [("prefill", plan(pre, pre_batch, {"ttft_ms": ttft}, "prefill")),
            ("decode", plan(dec, dec_batch, {"tpot_ms": tpot}, "decode"))]


#: warning-only rules whose fixes run the layout search; the gate leaves them out to stay fast (``--all-rules`` keeps them)
SLOW_WARNINGS = ("PAR405", "MEM102")


#: share of device memory the engines give weights and KV cache by default: vLLM gpu_memory_utilization = 0.9,
#: TensorRT-LLM KvCacheConfig free_gpu_memory_fraction = 0.9, SGLang mem_fraction_static ≈ 0.88
ENGINE_MEMORY_FRACTION = 0.9


def running_batch(plan: dict, resolved) -> int | None:
    """The largest batch whose KV cache fits next to the weights in the engine's share of memory
    (:data:`ENGINE_MEMORY_FRACTION`), when the row's concurrency does not fit.

    An engine admits only the requests its KV cache can hold and queues the rest (vLLM's scheduler, SGLang's
    max_running_requests, TensorRT-LLM's capacity scheduler); their TTFT shows the wait. The decode step then runs at
    the admitted batch, which is what its TPOT measures. None when even the weights do not fit.
    """
    from dataclasses import replace

    from deploylint.core.estimate.analysis import analyze

    work, dp = resolved.workload, max(1, resolved.parallelism.dp)

    def fits(batch: int) -> bool:
        busiest = analyze(replace(resolved, workload=replace(work, batch_size=batch)), all_devices=False).memory.busiest
        return busiest.total <= ENGINE_MEMORY_FRACTION * busiest.capacity

    if not fits(dp):
        return None
    lo, hi = 1, max(1, work.batch_size // dp)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid * dp) else (lo, mid)
    return lo * dp


def recorded_layout_problem(resolved) -> str | None:
    """Why a pool's recorded layout is not one an engine can run, whatever deploylint estimates (None when it can).

    Two checks on the row itself, not on any rule: attention tensor parallelism must divide the heads (vLLM, SGLang
    and TensorRT-LLM refuse to start otherwise), and the devices must hold at least the weights (no sharding fits
    more bytes than the memory of all devices together). Rows that fail them record something else in their layout
    columns — e.g. SGLang's ``--tp`` world size under DP attention, with the attention split not recorded.
    """
    from deploylint.core.plan import DTYPE_BYTES
    from deploylint.core.estimate.params import count_params

    model, hw, par = resolved.model, resolved.hardware, resolved.parallelism
    if model.num_attention_heads % par.tp:
        return (f"recorded tp {par.tp} does not divide the {model.num_attention_heads} attention heads: the layout "
                "columns are not the engine's attention layout")
    weights = count_params(model).total * DTYPE_BYTES[resolved.workload.dtype]
    if weights > hw.num_devices * hw.memory_bytes:
        return (f"the recorded {hw.num_devices} device(s) hold less memory than the weights: the layout columns are "
                "not the engine's")
    return None


def check_rows(rows, *, linter=None, all_rules: bool = False):
    """Lint every expressible row. Returns (results, skipped): one result per (row, pool), skipped reasons counted."""
    from deploylint.core.testing import Linter

    linter = linter or Linter()
    config = None if all_rules else {"ignore": list(SLOW_WARNINGS)}
    results, skipped = [], collections.Counter()
    for row in rows:
        try:
            pools = plans_for(row)
        except Unexpressible as exc:
            skipped[str(exc)] += 1
            continue
        entries, problem = [], None
        for pool, plan in pools:
            path = f"{row['id']}.{pool}.json"
            res = linter.lint(plan, format="json", path=path, config=config)
            problem = res.plan is not None and recorded_layout_problem(res.plan)
            if problem:
                break
            admitted = None
            if "MEM101" in res.codes and res.plan is not None and res.plan.workload.batch_size > 1:
                admitted = running_batch(plan, res.plan)
                if admitted is not None:
                    plan["workload"]["batch_size"] = admitted
                    res = linter.lint(plan, format="json", path=path, config=config)
            errors = [d for d in res.diagnostics if d.severity.name == "ERROR"]
            b = res.analysis.bounds if res.analysis is not None else None
            entry = {"id": row["id"], "pool": pool, "model": row["model_path"], "system": row["system"],
                     "backend": row["backend"], "errors": [f"{d.code} {d.message}" for d in errors],
                     "admitted_batch": admitted,
                     "warnings": sorted({d.code for d in res.diagnostics if d.severity.name == "WARNING"})}
            for key in ("ttft_ms", "tpot_ms"):
                measured = plan["claims"].get(key)
                bound = getattr(b, key, None) if b is not None else None
                if measured is not None and bound is not None:
                    entry[key] = (bound, measured, bound / measured)
            entries.append(entry)
        if problem:
            skipped[problem] += 1
        else:
            results.extend(entries)
    return results, skipped


def summary(results) -> dict:
    out = {"plans": len(results), "rows": len({r["id"] for r in results}),
           "with_error": sum(1 for r in results if r["errors"]),
           "concurrency_above_kv_capacity": sum(1 for r in results if r["admitted_batch"])}
    for key in ("ttft_ms", "tpot_ms"):
        ratios = [r[key][2] for r in results if key in r]
        out[key] = {"n": len(ratios), "above_measured": sum(1 for x in ratios if x > 1),
                    "median": statistics.median(ratios) if ratios else None,
                    "min": min(ratios, default=None), "max": max(ratios, default=None)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", nargs="?", default=DEFAULT_CSV)
    ap.add_argument("--show", type=int, default=10, help="violations to print (default 10)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument("--all-rules", action="store_true", help=f"also run {', '.join(SLOW_WARNINGS)} (slower)")
    args = ap.parse_args(argv)
    if not os.path.exists(args.csv):
        print(f"validate_measured: no measured corpus at {args.csv} (set DEPLOYLINT_SHARED or pass the CSV)",
              file=sys.stderr)
        return 2
    with open(args.csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    results, skipped = check_rows(rows, all_rules=args.all_rules)
    s = summary(results)
    s["total_rows"] = len(rows)
    s["skipped"] = dict(skipped.most_common())
    bad_error = [r for r in results if r["errors"]]
    bad_bound = [r for r in results if any(k in r and r[k][2] > 1 for k in ("ttft_ms", "tpot_ms"))]
    if args.json:
        print(json.dumps(s, indent=2))
    else:
        print(f"measured serving runs: {len(rows):,} rows; expressed {s['rows']:,} rows as {s['plans']:,} plans; "
              f"{sum(skipped.values()):,} rows not expressible:")
        for reason, n in skipped.most_common():
            print(f"  {n:5,}  {reason}")
        groups = collections.defaultdict(list)
        for r in results:
            groups[(r["model"], r["system"], r["pool"])].append(r)
        print(f"\n{'model':34} {'system':9} {'pool':8} {'plans':>5}  {'TTFT bound/measured (median, range)':36} "
              f"{'TPOT bound/measured (median, range)':36}")
        for (model, system, pool), rs in sorted(groups.items()):
            cells = []
            for key in ("ttft_ms", "tpot_ms"):
                xs = [r[key][2] for r in rs if key in r]
                cells.append(f"{statistics.median(xs):.3f} [{min(xs):.3f}, {max(xs):.3f}]" if xs else "—")
            print(f"{model:34} {system:9} {pool:8} {len(rs):5}  {cells[0]:36} {cells[1]:36}")
        for key, label in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT")):
            d = s[key]
            if d["n"]:
                print(f"\n{label}: {d['n']:,} bounds, median bound/measured {d['median']:.3f}, range "
                      f"[{d['min']:.3f}, {d['max']:.3f}], {d['above_measured']} above the measurement")
        print(f"plans with an error: {s['with_error']}; plans whose concurrency exceeds the KV cache, bounded at the "
              f"batch that fits (the rest queue): {s['concurrency_above_kv_capacity']}")
    for r in (bad_error + bad_bound)[:args.show]:
        detail = "; ".join(r["errors"]) or ", ".join(
            f"{k} bound {r[k][0]:.3g} ms > measured {r[k][1]:.3g} ms" for k in ("ttft_ms", "tpot_ms") if k in r and r[k][2] > 1)
        print(f"VIOLATION {r['id']} ({r['pool']}): {detail}", file=sys.stderr)
    return 1 if bad_error or bad_bound else 0


if __name__ == "__main__":
    sys.exit(main())
