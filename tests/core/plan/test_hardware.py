"""The accelerator catalog against datasheet transcriptions, and the invariants every entry must keep.

The figures below are copied from the vendors' datasheets (sources per row);
the catalog is a transcription too, so besides equality the tests check
relations a typo would break: dense = half the "with sparsity" figure,
FP8 = 2 x BF16 where the vendor says so, link bandwidths per direction.
"""

import pytest

from deploylint.core.plan.hardware import CATALOG, Accelerator, lookup

# name: memory (vendor "GB"), HBM GB/s, {dtype: (dense TFLOPS, with-sparsity TFLOPS as printed)}, plain FP32, source
DATASHEET = {
    # NVIDIA H100 datasheet (H100 SXM column), nvidia.com/en-us/data-center/h100; dense decimals from the H100
    # whitepaper (BF16 989.4, FP8 1978.9, TF32 494.7; FP32 66.9, printed "67" in the datasheet)
    "h100-sxm": (80, 3350, {"bf16": (989.4, 1979), "fp8": (1978.9, 3958), "tf32": (494.7, 989)}, 66.9),
    # same datasheet, H100 PCIe column: BF16 1,513*, FP8 3,026*, TF32 756*, FP32 51 (whitepaper 51.2), 2 TB/s
    "h100-pcie": (80, 2000, {"bf16": (756.5, 1513), "fp8": (1513, 3026), "tf32": (378, 756)}, 51.2),
    # NVIDIA H200 datasheet (SXM): 141 GB HBM3e, 4.8 TB/s, BF16 1,979*, FP8 3,958*
    "h200": (141, 4800, {"bf16": (989.4, 1979), "fp8": (1978.9, 3958), "tf32": (494.7, 989)}, 66.9),
    # NVIDIA A100 datasheet r4 (80GB SXM): BF16 312 | 624*, TF32 156 | 312*, FP32 19.5, 2,039 GB/s
    "a100-80gb": (80, 2039, {"bf16": (312, 624), "tf32": (156, 312)}, 19.5),
    # same datasheet (40GB SXM): 1,555 GB/s
    "a100-40gb": (40, 1555, {"bf16": (312, 624), "tf32": (156, 312)}, 19.5),
    # DGX B200 datasheet: 1,440 GB and 64 TB/s for 8 GPUs; HGX B200 per-GPU rates (glennklockwood.com/garden/processors/B200)
    "b200": (180, 8000, {"bf16": (2250, 4500), "fp8": (4500, 9000), "tf32": (1100, 2200)}, 80),
    # NVIDIA GB200 NVL72 / GB300 NVL72 specifications, per rack of 72 (with sparsity): FP16/BF16 360 PFLOPS, FP8 720,
    # TF32 180, 576 TB/s of HBM3e; per GPU 5,000* / 10,000* / 2,500* and 8 TB/s. Memory: 186 GB (GB200: MLPerf system
    # descriptions; 13.4 TB / 72), 288 GB (GB300). FP32 5,760 / 72 = 80 TFLOPS (GB200), 6 PFLOPS / 72 ≈ 83 (GB300)
    "gb200": (186, 8000, {"bf16": (2500, 5000), "fp8": (5000, 10000), "tf32": (1250, 2500)}, 80),
    "gb300": (288, 8000, {"bf16": (2500, 5000), "fp8": (5000, 10000), "tf32": (1250, 2500)}, 83),
    # NVIDIA HGX B300 specifications, per 8 GPUs (with sparsity): FP16/BF16 36 PFLOPS, FP8 72, TF32 18, FP32 600 TFLOPS,
    # 2.3 TB HBM3e: per GPU 4,500* / 9,000* / 2,250*, 75, 288 GB
    "b300": (288, 8000, {"bf16": (2250, 4500), "fp8": (4500, 9000), "tf32": (1125, 2250)}, 75),
    # AMD Instinct MI300X data sheet: 192 GB HBM3, 5.3 TB/s, FP16/BF16 1,307.4 | 2,614.9*, FP8 2,614.9 | 5,229.8*
    "mi300x": (192, 5300, {"bf16": (1307.4, 2614.9), "fp8": (2614.9, 5229.8), "tf32": (653.7, 1307.4)}, 163.4),
    # NVIDIA L40S datasheet: 48 GB GDDR6, 864 GB/s, BF16 362.05 | 733*, FP8 733 | 1,466*, TF32 183 | 366*, FP32 91.6
    "l40s": (48, 864, {"bf16": (362.05, 733), "fp8": (733, 1466), "tf32": (183, 366)}, 91.6),
}

# Ascend 910B: no Huawei per-chip datasheet; reported figures (boardor.com, see the entry's source): FP16 ~320, 64 GB
ASCEND_REPORTED = (64, 320)

# The link figures vendors print (total, both directions) and the per-direction value the catalog must hold.
LINKS = {
    "h100-sxm": (900, 450),    # NVLink 4, H100 datasheet
    "h200": (900, 450),        # NVLink 4, H200 datasheet
    "a100-80gb": (600, 300),   # NVLink 3, A100 datasheet
    "a100-40gb": (600, 300),
    "b200": (1800, 900),       # NVLink 5, DGX B200 datasheet (14.4 TB/s for 8 GPUs)
    "gb200": (1800, 900),      # NVLink 5: 130 TB/s for 72 GPUs, GB200 NVL72 specifications
    "gb300": (1800, 900),      # the same fabric, GB300 NVL72 specifications
    "b300": (1800, 900),       # HGX B300: 1.8 TB/s per GPU
    "h100-pcie": (128, 64),    # PCIe Gen5 x16, H100 datasheet
    "l40s": (64, 32),          # PCIe Gen4 x16 "64GB/s bidirectional", L40S datasheet
    "mi300x": (896, 448),      # 7 Infinity Fabric links x 128 GB/s, MI300X data sheet
}


@pytest.mark.parametrize("name", sorted(DATASHEET))
def test_datasheet_figures(name):
    acc = CATALOG[name]
    memory, hbm, peaks, fp32 = DATASHEET[name]
    assert (acc.memory_gib, acc.memory_bandwidth_gbps) == (memory, hbm)
    for dtype, (dense, _) in peaks.items():
        assert acc.peak_for(dtype) == pytest.approx(dense, abs=1e-9), dtype
    assert acc.peak_for("fp32") == fp32


@pytest.mark.parametrize("name", sorted(DATASHEET))
def test_dense_is_half_the_sparsity_figure(name):
    # Datasheets print the 2:4-sparsity rate; the catalog must hold the dense one. Tolerance 0.1%: the
    # printed figures are rounded to whole TFLOPS (1,979 for 2 x 989.4 = 1,978.8).
    # One documented exception: the L40S datasheet prints BF16 "362.05 | 733*", though 2 x 362.05 = 724.1
    # (its own 1.2% inconsistency; 733 is the FP8 dense figure). The catalog keeps the dense figure as printed.
    acc = CATALOG[name]
    for dtype, (_, sparse) in DATASHEET[name][2].items():
        dense = acc.peak_for(dtype)
        assert dense < sparse
        tolerance = 0.013 if (name, dtype) == ("l40s", "bf16") else 1e-3
        assert 2 * dense == pytest.approx(sparse, rel=tolerance), dtype


def test_fp8_doubles_bf16_where_the_vendor_says_so():
    # H100/H200/B200/MI300X: FP8 is exactly twice BF16. L40S is the exception the datasheet prints:
    # FP8 733 dense vs BF16 362.05 dense (733 is also BF16's sparsity figure), so 1.2% above 2 x BF16.
    for name in ("h100-sxm", "h100-pcie", "h200", "b200", "gb200", "gb300", "b300", "mi300x"):
        acc = CATALOG[name]
        assert acc.peak_for("fp8") == pytest.approx(2 * acc.peak_for("bf16"), rel=1e-4), name
    l40s = CATALOG["l40s"]
    assert l40s.peak_for("fp8") == 733 and l40s.peak_for("fp8") / l40s.peak_for("bf16") == pytest.approx(2.0246, rel=1e-4)
    for name in ("a100-80gb", "a100-40gb", "ascend-910b"):      # no FP8 units
        assert CATALOG[name].peak_for("fp8") is None


@pytest.mark.parametrize("name", sorted(LINKS))
def test_links_are_per_direction(name):
    total, per_direction = LINKS[name]
    assert CATALOG[name].intra_node_bandwidth_gbps == per_direction == total / 2


def test_ascend_910b_reported_figures():
    acc = CATALOG["ascend-910b"]
    assert (acc.memory_gib, acc.peak_for("fp16")) == ASCEND_REPORTED and acc.peak_for("bf16") == acc.peak_for("fp16")
    assert "no per-chip datasheet" in acc.source and "set hardware.peak_tflops" in acc.notes


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_entry_is_complete_and_cites_a_source(name):
    acc = CATALOG[name]
    assert isinstance(acc, Accelerator) and acc.name == name and acc.vendor
    assert acc.source and "https://" in acc.source and acc.notes
    assert acc.memory_gib > 0 and acc.memory_bandwidth_gbps > 0
    # a node is the NVLink domain: 8 GPUs of a DGX/HGX board, 72 of an NVL72 rack
    assert acc.devices_per_node == (72 if "NVL72" in acc.source else 8)
    assert acc.peak_tflops and all(v > 0 for v in acc.peak_tflops.values())
    assert set(acc.peak_tflops) <= {"fp32", "tf32", "bf16", "fp16", "fp8"}
    assert acc.intra_node_bandwidth_gbps > 0 and acc.inter_node_bandwidth_gbps > 0
    assert acc.inter_node_bandwidth_gbps <= acc.intra_node_bandwidth_gbps   # the network never beats the node's links
    assert acc.peak_for("fp16") == acc.peak_for("bf16")
    fp32, tf32 = acc.peak_for("fp32"), acc.peak_for("tf32")
    if fp32 is not None:
        assert fp32 < acc.peak_for("bf16")       # tensor/matrix units beat the plain FP32 pipes
    if tf32 is not None:
        assert tf32 == pytest.approx(acc.peak_for("bf16") / 2, rel=0.03)   # TF32 runs at half the BF16 rate


def test_every_50_gbps_nic_note_is_stated():
    # The inter-node figure is an assumption, not a datasheet value: every entry that uses it says so.
    for acc in CATALOG.values():
        if acc.inter_node_bandwidth_gbps == 50.0:
            assert "400 Gb/s NIC" in acc.notes, acc.name


def test_required_entries_and_lookup():
    assert {"h100-sxm", "h100-pcie", "h200", "a100-80gb", "a100-40gb", "b200", "mi300x", "l40s", "ascend-910b"} <= set(CATALOG)
    assert lookup("H100-SXM") is CATALOG["h100-sxm"]
    assert lookup(" MI300X ") is CATALOG["mi300x"]
    assert lookup("h100_sxm") is CATALOG["h100-sxm"] and lookup("Ascend 910B") is CATALOG["ascend-910b"]
    assert lookup("h100") is None and lookup("nope") is None and lookup("") is None and lookup(None) is None


def test_peak_for_unknown_dtype_and_twin():
    acc = Accelerator("x", "v", 1, {"fp16": 10.0}, 1)
    assert acc.peak_for("bf16") == 10.0 and acc.peak_for("fp8") is None and acc.peak_for("int4") is None
