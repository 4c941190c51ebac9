"""The accelerator catalog: datasheet figures, each entry citing its source.

Peak figures are *dense* (no structured sparsity) per dtype, in TFLOP/s.
Bandwidths are GB/s (10^9 bytes) per device; link bandwidths are one
direction. Plugins add entries through the ``deploylint_accelerators`` hook.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Accelerator:
    name: str
    vendor: str
    memory_gib: float
    peak_tflops: dict[str, float]
    memory_bandwidth_gbps: float
    intra_node_bandwidth_gbps: float | None = None
    inter_node_bandwidth_gbps: float | None = None
    devices_per_node: int = 8
    source: str = ""
    notes: str = ""

    def peak_for(self, dtype: str) -> float | None:
        """Dense peak TFLOP/s for ``dtype``; fp16 and bf16 share a figure when only one is listed."""
        if dtype in self.peak_tflops:
            return self.peak_tflops[dtype]
        twin = {"bf16": "fp16", "fp16": "bf16"}.get(dtype)
        return self.peak_tflops.get(twin) if twin else None


# Filled in with datasheet entries (see the catalog section below).
CATALOG: dict[str, Accelerator] = {}
