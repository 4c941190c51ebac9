"""How long the feasible-layout search takes on large clusters.

Run:  python bench/bench_layouts.py [DEVICES] [--runs 15]     (one line per scenario)

Scenarios: Llama-3.1-70B training on 1,024 H100s and Mixtral-8x7B inference
on 1,024 H100s (model shapes from their published config.json). Reports the
layouts of the grid, how many the search priced in full and how many its
memory estimate rejected first, and the wall time of ``--runs`` searches
(median, min–max) with the process's CPU time beside it (on a loaded machine
the CPU time is the steadier figure).
"""
from __future__ import annotations

import argparse
import statistics
import time

from deploylint.core.estimate import layouts
from deploylint.core.estimate.layouts import _grid, search
from deploylint.core.plan import Hardware, Model, MoE, Parallelism, Plan, Workload

H100 = dict(memory_gib=80, peak_tflops=989.4, memory_bandwidth_gbps=3350, devices_per_node=8,
            intra_node_bandwidth_gbps=450, inter_node_bandwidth_gbps=50)
LLAMA70 = Model(layers=80, hidden_size=8192, num_attention_heads=64, vocab_size=128256, num_kv_heads=8, head_dim=128,
                ffn_hidden_size=28672)
MIXTRAL = Model(layers=32, hidden_size=4096, num_attention_heads=32, vocab_size=32000, num_kv_heads=8, head_dim=128,
                ffn_hidden_size=14336, moe=MoE(num_experts=8, top_k=2, expert_ffn_hidden_size=14336))


def scenarios(devices: int = 1024):
    yield "llama-3.1-70b training", Plan(1, LLAMA70, Hardware(devices, **H100), Parallelism(tp=8, pp=4, dp=devices // 32),
                                         Workload("training", batch_size=2048, seq_len=8192))
    yield "mixtral-8x7b inference", Plan(1, MIXTRAL, Hardware(devices, **H100), Parallelism(tp=2, dp=devices // 2, ep=2),
                                         Workload("inference", batch_size=4096, seq_len=2048, output_len=512))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("devices", nargs="?", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    for name, plan in scenarios(args.devices):
        grid = sum(1 for _ in _grid(plan))
        stats = getattr(layouts, "SearchStats", None)   # absent before the search pruned (for A/B runs)
        what = ""
        if stats is not None:
            stats = stats()
            search(plan, stats=stats)
            what = f"{stats.tried} tried, {stats.rejected_by_memory} rejected by memory, {stats.priced} priced; "
        wall, cpu = [], []
        for _ in range(args.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            found = search(plan)
            wall.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
        best = found[0].describe() if found else "none fits"
        print(f"{name} on {args.devices} devices: {grid} layouts in the grid, {len(found)} fit; {what}"
              f"median {statistics.median(wall):.1f} ms (min {min(wall):.1f}, max {max(wall):.1f}), "
              f"CPU median {statistics.median(cpu):.1f} ms; best {best}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
