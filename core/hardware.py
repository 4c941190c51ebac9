"""The accelerator catalog: datasheet figures, each entry citing its source.

Peak figures are *dense* (no structured sparsity) per dtype, in TFLOP/s.
Bandwidths are GB/s (10^9 bytes) per device; link bandwidths are one
direction. Plugins add entries through the ``deploylint_accelerators`` hook.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def _nvidia(name, memory_gib, bf16, hbm, nvlink_total, *, fp8=None, fp32=None, tf32=None, source, notes="", dpn=8,
            intra=None, inter=50.0):
    peaks = {"bf16": bf16, "fp16": bf16}
    if fp8:
        peaks["fp8"] = fp8
    if fp32:
        peaks["fp32"] = fp32
    if tf32:
        peaks["tf32"] = tf32
    return Accelerator(name, "NVIDIA", memory_gib, peaks, hbm,
                       intra_node_bandwidth_gbps=intra if intra is not None else nvlink_total / 2,
                       inter_node_bandwidth_gbps=inter, devices_per_node=dpn, source=source, notes=notes)


#: Inter-node bandwidth of every entry: one 400 Gb/s NIC per device (ConnectX-7 / NDR InfiniBand or 400 GbE),
#: i.e. 50 GB/s per direction — the usual DGX/HGX design; set ``inter_node_bandwidth_gbps`` for other fabrics.
_NIC = "inter-node: one 400 Gb/s NIC per device = 50 GB/s per direction (DGX/HGX reference design)"

CATALOG.update({
    "h100-sxm": _nvidia(
        "h100-sxm", 80, 989.4, 3350, 900, fp8=1978.9, fp32=66.9, tf32=494.7,
        source="NVIDIA H100 Tensor Core GPU datasheet (H100 SXM column), https://www.nvidia.com/en-us/data-center/h100/",
        notes="dense figures (the datasheet's tensor-core numbers with sparsity are 2x); NVLink 4: 900 GB/s total, "
              "450 GB/s per direction; " + _NIC),
    "h100-pcie": _nvidia(
        "h100-pcie", 80, 756.5, 2000, 128, fp8=1513, fp32=51.2, tf32=378,
        source="NVIDIA H100 Tensor Core GPU datasheet (H100 PCIe column), https://www.nvidia.com/en-us/data-center/h100/",
        notes="dense figures; PCIe Gen5 x16: 128 GB/s total, 64 GB/s per direction (an NVLink bridge pairs two "
              "cards at 600 GB/s; set intra_node_bandwidth_gbps for bridged pairs); " + _NIC),
    "h200": _nvidia(
        "h200", 141, 989.4, 4800, 900, fp8=1978.9, fp32=66.9, tf32=494.7,
        source="NVIDIA H200 Tensor Core GPU datasheet (H200 SXM column), https://www.nvidia.com/en-us/data-center/h200/",
        notes="141 GB HBM3e as the datasheet states it, read as GiB like the 80 GB of the H100 (the driver "
              "reserves some of it: set memory_gib for the usable figure); dense figures; NVLink 4: 450 GB/s per direction; " + _NIC),
    "a100-80gb": _nvidia(
        "a100-80gb", 80, 312, 2039, 600, fp32=19.5, tf32=156,
        source="NVIDIA A100 Tensor Core GPU datasheet (A100 80GB SXM column), https://www.nvidia.com/en-us/data-center/a100/",
        notes="dense figures; no FP8; NVLink 3: 600 GB/s total, 300 GB/s per direction; " + _NIC),
    "a100-40gb": _nvidia(
        "a100-40gb", 40, 312, 1555, 600, fp32=19.5, tf32=156,
        source="NVIDIA A100 Tensor Core GPU datasheet (A100 40GB SXM column), https://www.nvidia.com/en-us/data-center/a100/",
        notes="dense figures; no FP8; NVLink 3: 300 GB/s per direction; " + _NIC),
    "b200": _nvidia(
        "b200", 180, 2250, 8000, 1800, fp8=4500, fp32=75, tf32=1100,
        source="NVIDIA DGX B200 datasheet (per GPU: 1,440 GB / 8, 72 PFLOPS FP8 training / 8 with sparsity), "
               "https://www.nvidia.com/en-us/data-center/dgx-b200/",
        notes="DGX B200: 180 GB per GPU (HGX B200 boards list 192 GB; set memory_gib for those); dense BF16 2.25 PFLOPS, "
              "FP8 4.5 PFLOPS (half the sparsity figures); NVLink 5: 1.8 TB/s total, 900 GB/s per direction; " + _NIC),
    "l40s": _nvidia(
        "l40s", 48, 362.05, 864, 64, fp8=733, fp32=91.6, tf32=183, inter=25.0,
        source="NVIDIA L40S datasheet, https://www.nvidia.com/en-us/data-center/l40s/",
        notes="48 GB GDDR6; dense figures (sparsity doubles them); no NVLink: PCIe Gen4 x16 64 GB/s total, "
              "32 GB/s per direction; inter-node: PCIe servers usually give each GPU a 200 Gb/s share of a NIC, "
              "25 GB/s per direction"),
    "mi300x": Accelerator(
        "mi300x", "AMD", 192, {"bf16": 1307.4, "fp16": 1307.4, "fp8": 2614.9, "fp32": 163.4}, 5300,
        intra_node_bandwidth_gbps=448.0, inter_node_bandwidth_gbps=50.0, devices_per_node=8,
        source="AMD Instinct MI300X data sheet, https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html",
        notes="192 GB HBM3, 5.3 TB/s; dense figures (sparsity doubles them); Infinity Fabric: 7 links of 128 GB/s "
              "(bidirectional) to the other 7 GPUs of a platform = 448 GB/s per direction in all; " + _NIC),
    "ascend-910b": Accelerator(
        "ascend-910b", "Huawei", 64, {"fp16": 320.0, "bf16": 320.0}, 1600,
        intra_node_bandwidth_gbps=196.0, inter_node_bandwidth_gbps=25.0, devices_per_node=8,
        source="Huawei Atlas 800T A2 training server (8 × Ascend 910B), https://e.huawei.com/en/products/computing/ascend; "
               "Huawei publishes no per-chip datasheet: figures as widely reported for the 910B",
        notes="64 GB HBM2e at about 1.6 TB/s; about 320 TFLOPS FP16 (SKUs 910B1–B4 differ: 280–400; set peak_tflops "
              "for yours); HCCS 392 GB/s total, 196 GB/s per direction; RoCE 200 Gb/s per NPU = 25 GB/s per direction; "
              "no FP8"),
})


def lookup(name: str) -> Accelerator | None:
    """A catalog entry by name, case-insensitive (plugin entries come through the registry, not here)."""
    return CATALOG.get(name) or CATALOG.get(str(name).strip().lower())
