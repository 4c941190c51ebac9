"""The accelerator catalog: datasheet figures, each entry citing its source.

Peak figures are *dense* (no structured sparsity) per dtype, in TFLOP/s.
Bandwidths are GB/s (10^9 bytes) per device; link bandwidths are one
direction. Plugins add entries through the ``deploylint_accelerators`` hook.
"""

from __future__ import annotations

from ..records import record



@record(frozen=True, slots=True)
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



# -- the catalog ------------------------------------------------------------------
#
# Conventions shared by every entry (each one's ``notes`` repeats what applies):
#
# * memory_gib: the vendor's "GB" of HBM is read as GiB. HBM capacity is binary
#   (an H100's five 16 GiB stacks make "80 GB"; nvidia-smi shows 81,559 MiB =
#   79.6 GiB), so "80 GB" is about 80 GiB, not 74.5. The same holds for H200's
#   "141 GB" (six 24 GiB stacks, 141 enabled) and MI300X's "192 GB".
#   Runtime reservations (CUDA context, allocator) are left to the memory rules.
# * peak_tflops: dense (no 2:4 structured sparsity) tensor-core / matrix-core
#   rates, i.e. half the datasheets' "with sparsity" figures; "fp32" is the plain
#   (non-tensor) FP32 rate and "tf32" the dense TF32 tensor rate. One decimal
#   where the vendor's architecture documents give one (H100 BF16 989.4, not
#   the datasheet's rounded 1,979 / 2).
# * bandwidths in GB/s (1e9 B/s); link figures are per device and per
#   direction: NVLink 4's "900 GB/s" is 450 each way, PCIe Gen5 x16 "128 GB/s
#   bidirectional" is 64 each way.
# * inter_node_bandwidth_gbps: one 400 Gb/s NIC (ConnectX-7 / NDR InfiniBand or
#   400 GbE) per accelerator = 50 GB/s each way, the DGX/HGX reference design;
#   a plan on another fabric sets hardware.inter_node_bandwidth_gbps.

_NIC = "inter-node: one 400 Gb/s NIC per device = 50 GB/s per direction (DGX/HGX reference design)"
_HBM_GIB = "vendor 'GB' of HBM read as GiB (binary stack capacity)"


def _peaks(bf16: float, *, fp8: float | None = None, fp32: float | None = None,
           tf32: float | None = None) -> dict[str, float]:
    """Dense peaks per dtype; FP16 runs at the BF16 rate on every accelerator here."""
    peaks = {"bf16": bf16, "fp16": bf16}
    peaks.update({k: v for k, v in (("fp8", fp8), ("fp32", fp32), ("tf32", tf32)) if v is not None})
    return peaks


CATALOG: dict[str, Accelerator] = {
    "h100-sxm": Accelerator(
        "h100-sxm", "NVIDIA", 80, _peaks(989.4, fp8=1978.9, fp32=66.9, tf32=494.7), 3350,
        intra_node_bandwidth_gbps=450.0, inter_node_bandwidth_gbps=50.0, devices_per_node=8,
        source="NVIDIA H100 Tensor Core GPU datasheet, H100 SXM column "
               "(https://www.nvidia.com/en-us/data-center/h100/); decimals from the NVIDIA H100 architecture "
               "whitepaper (https://resources.nvidia.com/en-us-tensor-core)",
        notes="80 GB HBM3 at 3.35 TB/s; datasheet with sparsity: BF16/FP16 1,979, FP8 3,958, TF32 989 TFLOPS, "
              "FP32 67 (whitepaper 66.9); NVLink 4: 900 GB/s total, 450 GB/s per direction; "
              + _HBM_GIB + "; " + _NIC),
    "h100-pcie": Accelerator(
        "h100-pcie", "NVIDIA", 80, _peaks(756.5, fp8=1513.0, fp32=51.2, tf32=378.0), 2000,
        intra_node_bandwidth_gbps=64.0, inter_node_bandwidth_gbps=50.0, devices_per_node=8,
        source="NVIDIA H100 Tensor Core GPU datasheet, H100 PCIe column "
               "(https://www.nvidia.com/en-us/data-center/h100/)",
        notes="80 GB HBM2e at 2 TB/s; datasheet with sparsity: BF16/FP16 1,513, FP8 3,026, TF32 756 TFLOPS, FP32 51 "
              "(whitepaper 51.2); PCIe Gen5 x16: 128 GB/s total, 64 GB/s per direction (an NVLink bridge pairs two "
              "cards at 600 GB/s total: set intra_node_bandwidth_gbps = 300 for bridged pairs); " + _HBM_GIB + "; " + _NIC),
    "h200": Accelerator(
        "h200", "NVIDIA", 141, _peaks(989.4, fp8=1978.9, fp32=66.9, tf32=494.7), 4800,
        intra_node_bandwidth_gbps=450.0, inter_node_bandwidth_gbps=50.0, devices_per_node=8,
        source="NVIDIA H200 Tensor Core GPU datasheet, H200 SXM column "
               "(https://www.nvidia.com/en-us/data-center/h200/)",
        notes="141 GB HBM3e at 4.8 TB/s (six 24 GiB stacks, 141 enabled; nvidia-smi shows about 140.4 GiB); the "
              "same GH100 compute as the H100 SXM (with sparsity: BF16 1,979, FP8 3,958 TFLOPS); NVLink 4: "
              "450 GB/s per direction; " + _HBM_GIB + "; " + _NIC),
    "a100-80gb": Accelerator(
        "a100-80gb", "NVIDIA", 80, _peaks(312.0, fp32=19.5, tf32=156.0), 2039,
        intra_node_bandwidth_gbps=300.0, inter_node_bandwidth_gbps=50.0, devices_per_node=8,
        source="NVIDIA A100 Tensor Core GPU datasheet, A100 80GB SXM column "
               "(https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/"
               "nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf)",
        notes="80 GB HBM2e at 2,039 GB/s; with sparsity: BF16/FP16 624, TF32 312 TFLOPS; no FP8; NVLink 3: "
              "600 GB/s total, 300 GB/s per direction; " + _HBM_GIB + "; " + _NIC),
    "a100-40gb": Accelerator(
        "a100-40gb", "NVIDIA", 40, _peaks(312.0, fp32=19.5, tf32=156.0), 1555,
        intra_node_bandwidth_gbps=300.0, inter_node_bandwidth_gbps=50.0, devices_per_node=8,
        source="NVIDIA A100 Tensor Core GPU datasheet, A100 40GB SXM column "
               "(https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/"
               "nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf)",
        notes="40 GB HBM2 at 1,555 GB/s; same compute as the 80 GB part; no FP8; NVLink 3: 300 GB/s per direction; "
              + _HBM_GIB + "; " + _NIC),
    "b200": Accelerator(
        "b200", "NVIDIA", 180, _peaks(2250.0, fp8=4500.0, fp32=80.0, tf32=1100.0), 8000,
        intra_node_bandwidth_gbps=900.0, inter_node_bandwidth_gbps=50.0, devices_per_node=8,
        source="NVIDIA DGX B200 datasheet (https://www.nvidia.com/en-us/data-center/dgx-b200/): 1,440 GB and "
               "64 TB/s of HBM3e for 8 GPUs, 72 PFLOPS FP8 training with sparsity; per-GPU HGX B200 (1,000 W) rates "
               "as tabulated from NVIDIA's Blackwell documents at https://glennklockwood.com/garden/processors/B200",
        notes="DGX B200: 180 GB per GPU at 8 TB/s (the B200 package has 192 GB; set memory_gib = 192 for boards that "
              "expose it); dense BF16 2,250, FP8 4,500, TF32 1,100, FP32 80 TFLOPS (sparsity doubles the tensor "
              "figures); NVLink 5: 1.8 TB/s total, 900 GB/s per direction; " + _NIC),
    "gb200": Accelerator(
        "gb200", "NVIDIA", 186, _peaks(2500.0, fp8=5000.0, fp32=80.0, tf32=1250.0), 8000,
        intra_node_bandwidth_gbps=900.0, inter_node_bandwidth_gbps=50.0, devices_per_node=72,
        source="NVIDIA GB200 NVL72 specifications (https://www.nvidia.com/en-us/data-center/gb200-nvl72/): per rack of "
               "72 GPUs, with sparsity, FP8 720 PFLOPS, FP16/BF16 360, TF32 180; FP32 5,760 TFLOPS; up to 13.4 TB "
               "HBM3e at 576 TB/s; NVLink 130 TB/s (the MLPerf system descriptions give 186 GB per GPU)",
        notes="one NVLink domain of 72 GPUs (devices_per_node = 72); per GPU 186 GB HBM3e at 8 TB/s; dense BF16 2,500, "
              "FP8 5,000, TF32 1,250, FP32 80 TFLOPS (the rack figures / 72, halved for sparsity); NVLink 5: "
              "1.8 TB/s total, 900 GB/s per direction; " + _HBM_GIB + "; " + _NIC),
    "gb300": Accelerator(
        "gb300", "NVIDIA", 288, _peaks(2500.0, fp8=5000.0, fp32=83.0, tf32=1250.0), 8000,
        intra_node_bandwidth_gbps=900.0, inter_node_bandwidth_gbps=100.0, devices_per_node=72,
        source="NVIDIA GB300 NVL72 specifications (https://www.nvidia.com/en-us/data-center/gb300-nvl72/): per rack of "
               "72 Blackwell Ultra GPUs, with sparsity, FP8 720 PFLOPS, FP16/BF16 360, TF32 180; FP32 6 PFLOPS; "
               "up to 21 TB HBM3e at 576 TB/s; NVLink 130 TB/s; ConnectX-8 SuperNICs",
        notes="one NVLink domain of 72 GPUs (devices_per_node = 72); per GPU 288 GB HBM3e (12-high stacks) at 8 TB/s; "
              "dense BF16 2,500, FP8 5,000, TF32 1,250, FP32 83 TFLOPS; NVLink 5: 900 GB/s per direction; " + _HBM_GIB
              + "; inter-node: one 800 Gb/s ConnectX-8 per GPU = 100 GB/s per direction"),
    "b300": Accelerator(
        "b300", "NVIDIA", 288, _peaks(2250.0, fp8=4500.0, fp32=75.0, tf32=1125.0), 8000,
        intra_node_bandwidth_gbps=900.0, inter_node_bandwidth_gbps=100.0, devices_per_node=8,
        source="NVIDIA HGX B300 specifications (https://www.nvidia.com/en-us/data-center/hgx/): per 8 GPUs, with "
               "sparsity, FP8 72 PFLOPS, FP16/BF16 36, TF32 18; FP32 600 TFLOPS; 2.3 TB HBM3e; NVLink 1.8 TB/s per "
               "GPU; per-GPU rates also at https://glennklockwood.com/garden/processors/B300",
        notes="HGX B300 (Blackwell Ultra): 288 GB HBM3e at 8 TB/s per GPU; dense BF16 2,250, FP8 4,500, TF32 1,125, "
              "FP32 75 TFLOPS; NVLink 5: 900 GB/s per direction; " + _HBM_GIB
              + "; inter-node: one 800 Gb/s ConnectX-8 per GPU = 100 GB/s per direction"),
    "l40s": Accelerator(
        "l40s", "NVIDIA", 48, _peaks(362.05, fp8=733.0, fp32=91.6, tf32=183.0), 864,
        intra_node_bandwidth_gbps=32.0, inter_node_bandwidth_gbps=25.0, devices_per_node=8,
        source="NVIDIA L40S datasheet (https://www.nvidia.com/en-us/data-center/l40s/)",
        notes="48 GB GDDR6 at 864 GB/s; datasheet dense | with sparsity: BF16/FP16 362.05 | 733, FP8 733 | 1,466, "
              "TF32 183 | 366, FP32 91.6 TFLOPS; no NVLink: PCIe Gen4 x16 64 GB/s bidirectional = 32 GB/s per "
              "direction; typically 8 per PCIe server; inter-node: PCIe servers usually give each GPU a 200 Gb/s "
              "share of a NIC = 25 GB/s per direction"),
    "mi300x": Accelerator(
        "mi300x", "AMD", 192, _peaks(1307.4, fp8=2614.9, fp32=163.4, tf32=653.7), 5300,
        intra_node_bandwidth_gbps=448.0, inter_node_bandwidth_gbps=50.0, devices_per_node=8,
        source="AMD Instinct MI300X data sheet "
               "(https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html)",
        notes="192 GB HBM3 at 5.3 TB/s; dense | with sparsity: FP16/BF16 1,307.4 | 2,614.9, FP8 2,614.9 | 5,229.8, "
              "TF32 653.7 | 1,307.4 TFLOPS; FP32 (matrix and vector) 163.4; Infinity Fabric: 7 links of 128 GB/s "
              "(bidirectional) to the other 7 GPUs of a platform = 896 GB/s total, 448 GB/s per direction; "
              + _HBM_GIB + "; " + _NIC),
    "ascend-910b": Accelerator(
        "ascend-910b", "Huawei", 64, {"fp16": 320.0, "bf16": 320.0}, 1600,
        intra_node_bandwidth_gbps=196.0, inter_node_bandwidth_gbps=25.0, devices_per_node=8,
        source="Huawei publishes no per-chip datasheet for the 910B; figures as publicly reported, e.g. "
               "https://boardor.com/blog/huawei-ascend-910b-outperforms-h20-910c-approaches-h100 (FP16 about "
               "320 TFLOPS, 64 GB HBM2e); server: Huawei Atlas 800T A2 (8 × 910B), "
               "https://e.huawei.com/en/products/computing/ascend",
        notes="SKUs differ (910B1–B4 are reported between 280 and about 400 TFLOPS FP16; volcengine/verl's MFU table "
              "uses 354): set hardware.peak_tflops for yours; 64 GB HBM2e at about 1.6 TB/s (reported); HCCS "
              "392 GB/s total, 196 GB/s per direction (reported); RoCE 200 Gb/s per NPU = 25 GB/s per direction; "
              "no FP8"),
}


def lookup(name: str) -> Accelerator | None:
    """A catalog entry by name: case-insensitive, ``_`` and spaces read as ``-`` ("H100_SXM" finds h100-sxm).

    Plugin entries come through the registry, not here.
    """
    if not isinstance(name, str):
        return None
    key = "-".join(name.strip().lower().replace("_", " ").split())
    return CATALOG.get(key)
