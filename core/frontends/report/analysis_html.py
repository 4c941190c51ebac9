"""``deploylint analyze --format html``: the estimate as one self-contained page a reviewer looks at.

Four pictures, all inline SVG with inline CSS (no script, no network, no
asset: the page works saved to disk, mailed, or opened with scripts off):

* **memory per device** — stacked bars (weights, gradients, optimizer,
  activations, KV cache) against the capacity line; devices grouped by
  pipeline stage and EP rank, identical devices drawn once with their count;
* **roofline** — log-log, arithmetic intensity (FLOPs per HBM byte) against
  attainable FLOP/s per device: the compute and memory ceilings of the
  hardware, each phase's communication as its own ceiling, each phase of
  the plan where its figures put it, and the claimed operating point;
* **feasible-layout frontier** — every layout the search finds on the same
  devices: throughput against latency (serving) or against the busiest
  device's memory (training), the Pareto front drawn, the plan and the layout
  PAR405 proposes (or, without one, the layout PAR407 names) marked;
* **findings** — each linked to its rule's documentation, with its figures.

The figures are the Analysis's (the same as the text and JSON reports);
where they land in pixels is decided by :mod:`.scales` only.
"""

from __future__ import annotations

import math
from html import escape

from . import scales
from .analysis_text import _OPTIMIZATION_CODES, render_text
from .rules_markdown import rule_anchor

#: where docs/rules.md of the built-in rules is published (docs/ci.md names the same repository)
RULES_URL = "https://github.com/deploylint/deploylint/blob/main/docs/rules.md"

#: chart geometry: the plot area of every chart is [LEFT, WIDTH - RIGHT] × [TOP, HEIGHT - BOTTOM]
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 360, 84, 28, 36, 64

PARTS = (("weights", "weights", "#4e79a7"), ("gradients", "gradients", "#f28e2b"), ("optimizer", "optimizer", "#e15759"),
         ("activations", "activations", "#76b7b2"), ("kv_cache", "KV cache", "#59a14f"))

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:76em;padding:0 1.5em;color:#1d1d1f}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.summary{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.5em .9em;min-width:9em}.card b{display:block;font-size:1.25em}
.no{color:#b00020}.yes{color:#1b5e20}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}td,th{border:1px solid #ccc;padding:.2em .55em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
pre{background:#f8f8f8;padding:1em;overflow:auto;font-size:.85em}
svg.chart{display:block;max-width:100%;height:auto;background:#fff;border:1px solid #e4e4e4;border-radius:4px}
svg text{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:12px;fill:#333}
svg .title{font-size:15px;font-weight:600}svg .halo{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}svg .axis-label{font-size:13px}svg .small{font-size:11px;fill:#555}
svg .grid{stroke:#eee}svg .axis{stroke:#555}svg .capacity{stroke:#b00020;stroke-width:2;stroke-dasharray:6 4}
svg .ceiling{stroke:#222;stroke-width:2;fill:none}svg .comm{stroke:#8e44ad;stroke-width:2;stroke-dasharray:5 3}
svg .front{stroke:#4e79a7;stroke-width:1.5;fill:none}svg .layout{fill:#9db7d5}svg .phase{fill:#f28e2b;stroke:#222}
svg .claim{fill:#fff;stroke:#b00020;stroke-width:2.5}svg .plan{fill:none;stroke:#222;stroke-width:2.5}
svg .proposal{fill:#59a14f;stroke:#222}
.legend span{display:inline-block;margin-right:1.2em}.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em}
.finding{border-left:4px solid #999;padding:.3em .8em;margin:.8em 0;background:#fafafa}
.finding.error{border-color:#b00020}.finding.warning{border-color:#e69500}.finding.info{border-color:#4e79a7}
.finding table{margin:.4em 0}.finding td{text-align:left}.finding code{font-size:.95em}
"""


# -- numbers in words ----------------------------------------------------------------
def _b(n: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def _si(x: float, unit: str = "") -> str:
    for prefix, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g} {prefix}{unit}"
    if abs(x) >= 1 or x == 0:
        return f"{x:.3g} {unit}".rstrip()
    for prefix, scale in (("m", 1e-3), ("µ", 1e-6), ("n", 1e-9)):
        if abs(x) >= scale:
            return f"{x / scale:.3g} {prefix}{unit}"
    return f"{x:.3g} {unit}".rstrip()


def _decade(v: float) -> str:
    """A power of ten as the axis writes it: 1, 10, 100, then 1k … 1P, and 0.1, 0.01 below one."""
    if 1 <= v < 1000:
        return f"{v:g}"
    if v < 1:
        return f"{v:g}"
    return _si(v).replace(" ", "")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.3g}%"


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g} ms"


def _f(x: float) -> str:
    return f"{x:.2f}"


# -- the figures each chart shows --------------------------------------------------------
def device_groups(analysis) -> list[tuple[object, int]]:
    """Distinct devices (same stage, EP rank and memory figures) with how many devices each stands for, in order."""
    groups: dict[tuple, list] = {}
    for d in analysis.memory.devices:
        key = (d.stage, d.ep_rank, d.weights, d.gradients, d.optimizer, d.activations, d.kv_cache, d.capacity)
        if key in groups:
            groups[key][1] += 1
        else:
            groups[key] = [d, 1]
    return sorted(((d, n) for d, n in groups.values()), key=lambda g: (g[0].stage, g[0].ep_rank, g[0].index))


def phase_points(analysis) -> list[dict]:
    """Each phase on the roofline, per device: FLOPs over HBM bytes, and the FLOP/s the phase's bound allows."""
    hw = analysis.plan.hardware
    peak, hbm = hw.peak_tflops * 1e12, hw.memory_bandwidth_gbps * 1e9
    out = []
    for ph in analysis.bounds.phases:
        flops, traffic = ph.compute_s * peak, ph.memory_s * hbm
        if flops <= 0 or traffic <= 0 or ph.time_s <= 0:
            continue
        out.append({"name": ph.name, "intensity": flops / traffic, "flops_per_s": flops / ph.time_s,
                    "comm_ceiling": flops / ph.comm_s if ph.comm_s else None, "bottleneck": ph.bottleneck,
                    "bubble": ph.bubble})
    return out


def claimed_point(analysis) -> dict | None:
    """The operating point the claims imply: the run's FLOPs over its HBM bytes, and the implied FLOP/s per device."""
    im, plan = analysis.implied, analysis.plan
    if im.flops is None:
        return None
    hw = plan.hardware
    peak, hbm = hw.peak_tflops * 1e12, hw.memory_bandwidth_gbps * 1e9
    work = plan.workload
    # one request's worth of work, as the throughput bound counts it: the batch's prefill once, one decode step per
    # 1 + speculative_tokens output tokens; "first token" is one request's own prefill, already inside the batch's
    weight = {"decode": work.output_len / (1 + work.speculative_tokens), "first token": 0.0}
    flops = traffic = 0.0
    for ph in analysis.bounds.phases:
        repeat = weight.get(ph.name, 1.0)
        flops += repeat * ph.compute_s * peak
        traffic += repeat * ph.memory_s * hbm
    if flops <= 0 or traffic <= 0:
        return None
    return {"intensity": flops / traffic, "flops_per_s": im.flops / hw.num_devices, "source": im.source}


def frontier(points: list[tuple[float, float]], *, lower_x_better: bool = True) -> list[tuple[float, float]]:
    """The Pareto front of (x, throughput) points: lower x and higher throughput are better, sorted by x."""
    front, best = [], float("-inf")
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best:
            front.append((x, y))
            best = y
    return front


# -- SVG pieces ---------------------------------------------------------------------
def _text(x: float, y: float, s: str, cls: str = "", anchor: str = "start", extra: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}"{c}{extra}>{escape(s)}</text>'


def _frame(title: str, xlabel: str, ylabel: str, width: int = WIDTH) -> list[str]:
    x0, x1, y0, y1 = LEFT, width - RIGHT, HEIGHT - BOTTOM, TOP
    return [_text(width / 2, 22, title, "title", "middle"),
            _text((x0 + x1) / 2, HEIGHT - 14, xlabel, "axis-label x-label", "middle"),
            f'<text class="axis-label y-label" text-anchor="middle" transform="translate(18 {_f((y0 + y1) / 2)}) rotate(-90)">'
            f'{escape(ylabel)}</text>',
            f'<rect class="plot" x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="none" stroke="#555"/>']


def _ticks(scale, labels, axis: str, width: int = WIDTH) -> list[str]:
    """Grid line and label of each (value, label) on the ``x`` or ``y`` axis."""
    out = []
    for v, label in labels:
        p = _f(scale(v))
        if axis == "x":
            line = f'x1="{p}" x2="{p}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"'
            mark = _text(scale(v), HEIGHT - BOTTOM + 16, label, anchor="middle")
        else:
            line = f'x1="{LEFT}" x2="{width - RIGHT}" y1="{p}" y2="{p}"'
            mark = _text(LEFT - 6, scale(v) + 4, label, anchor="end")
        out.append(f'<g class="tick {axis}-tick" data-value="{v!r}"><line class="grid" {line}/>{mark}</g>')
    return out


def _svg(id_: str, body: list[str], label: str, width: int = WIDTH) -> str:
    return (f'<svg id="{id_}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" '
            f'width="{width}" height="{HEIGHT}" role="img" aria-label="{escape(label)}">' + "".join(body) + "</svg>")


def _memory_unit(top: float) -> tuple[str, float]:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if top >= scale:
            return unit, scale
    return "B", 1


def memory_chart(analysis, *, top: float | None = None, id_: str = "memory", title: str = "Memory per device") -> str:
    groups = device_groups(analysis)
    capacity = max(d.capacity for d, _ in groups)
    peak_total = max(d.total for d, _ in groups)
    top = top if top is not None else max(capacity, peak_total)
    unit, per = _memory_unit(top)
    slot = 64
    width = max(WIDTH, LEFT + RIGHT + slot * len(groups))
    x0, x1 = LEFT, width - RIGHT
    y = scales.linear_from_zero(top / per, HEIGHT - BOTTOM, TOP)     # in display units
    body = _frame(title, "devices, by pipeline stage and EP rank (× how many identical devices)",
                  f"memory per device ({unit})", width)
    body += _ticks(y, [(v, f"{v:g}") for v in y.ticks()], "y", width)
    stages = analysis.plan.parallelism.pp > 1
    gaps = sum(1 for a, b in zip(groups, groups[1:]) if a[0].stage != b[0].stage)
    step = (x1 - x0) / (len(groups) + 0.6 * gaps)
    bar = min(44.0, step * 0.7)
    cx = x0 - step / 2
    spans: dict[int, list[float]] = {}
    for i, (d, count) in enumerate(groups):
        cx += step * (1.6 if i and groups[i - 1][0].stage != d.stage else 1.0)
        spans.setdefault(d.stage, []).append(cx)
        left = cx - bar / 2
        marks = []
        acc = 0.0
        for attr, name, colour in PARTS:
            value = getattr(d, attr)
            if not value:
                continue
            top_y, bottom_y = max(TOP, y((acc + value) / per)), y(acc / per)     # a zoomed chart clips at its top
            marks.append(f'<rect class="segment {attr}" data-bytes="{value}" x="{_f(left)}" y="{_f(top_y)}" width="{_f(bar)}" '
                         f'height="{_f(max(0.0, bottom_y - top_y))}" fill="{colour}"><title>{name}: {_b(value)}</title></rect>')
            acc += value
        cap_y = y(d.capacity / per)
        if cap_y >= TOP - 0.5:
            marks.append(f'<line class="capacity" x1="{_f(cx - step / 2)}" x2="{_f(cx + step / 2)}" y1="{_f(cap_y)}" y2="{_f(cap_y)}">'
                         f'<title>capacity {_b(d.capacity)}</title></line>')
        label_y = max(TOP + 12, y(min(d.total, top) / per) - 6)
        marks.append(_text(cx, label_y, f"{_b(d.total)}", "small halo", "middle"))
        name = f"EP {d.ep_rank}" if analysis.plan.parallelism.ep > 1 else ("" if stages else "device")
        marks.append(_text(cx, HEIGHT - BOTTOM + 14, f"{name} ×{count}".strip(), "small", "middle"))
        body.append(f'<g class="device" data-stage="{d.stage}" data-ep-rank="{d.ep_rank}" data-count="{count}" '
                    f'data-total="{d.total}" data-first-device="{d.index}"><title>device {d.index} (and {count - 1} identical): '
                    f'{_b(d.total)} of {_b(d.capacity)} ({_pct(d.utilization)})</title>{"".join(marks)}</g>')
    if stages:
        for stage, xs in spans.items():
            a, b = xs[0] - bar / 2, xs[-1] + bar / 2
            body.append(f'<g class="stage-label"><line class="axis" x1="{_f(a)}" x2="{_f(b)}" y1="{HEIGHT - BOTTOM + 20}" '
                        f'y2="{HEIGHT - BOTTOM + 20}"/>{_text((a + b) / 2, HEIGHT - BOTTOM + 32, f"stage {stage}", "small", "middle")}</g>')
    return _svg(id_, body, title, width)


def roofline_chart(analysis) -> str:
    hw = analysis.plan.hardware
    peak, hbm = hw.peak_tflops * 1e12, hw.memory_bandwidth_gbps * 1e9
    points = phase_points(analysis)
    claim = claimed_point(analysis)
    ridge = peak / hbm
    xs = [ridge] + [p["intensity"] for p in points] + ([claim["intensity"]] if claim else [])
    x = scales.Log.spanning([min(xs) / 3, max(xs) * 3], LEFT, WIDTH - RIGHT)
    ys = [peak * 1.5, x.lo * hbm] + [p["flops_per_s"] for p in points] + [1.5 * (p["comm_ceiling"] or 0) for p in points]
    ys += [claim["flops_per_s"] * 1.5] if claim else []
    y = scales.Log.spanning([v for v in ys if v], HEIGHT - BOTTOM, TOP)
    body = _frame(f"Roofline per device ({hw.accelerator or f'{hw.peak_tflops:g} TFLOP/s, {hw.memory_bandwidth_gbps:g} GB/s'})",
                  "arithmetic intensity (FLOPs per byte of HBM traffic)", "attainable FLOP/s per device")
    body += _ticks(x, [(v, _decade(v)) for v in x.ticks()], "x")
    body += _ticks(y, [(v, _decade(v)) for v in y.ticks()], "y")
    # memory ceiling (slope hbm) up to the ridge, then the compute ceiling; clipped to the plot area
    lo_x = max(x.lo, y.lo / hbm)
    body.append(f'<polyline class="ceiling memory-ceiling" points="{_f(x(lo_x))},{_f(y(lo_x * hbm))} {_f(x(ridge))},{_f(y(peak))}">'
                f'<title>memory ceiling: {hw.memory_bandwidth_gbps:g} GB/s × intensity</title></polyline>')
    body.append(f'<polyline class="ceiling compute-ceiling" points="{_f(x(ridge))},{_f(y(peak))} {_f(x(x.hi))},{_f(y(peak))}">'
                f'<title>compute ceiling: {_si(peak, "FLOP/s")}</title></polyline>')
    body.append(_text(x(ridge) + 6, y(peak) - 6, f"compute {_si(peak, 'FLOP/s')}", "small halo"))
    mid = lo_x * (ridge / lo_x) ** 0.6
    body.append(_text(x(mid) + 10, y(mid * hbm) + 14, f"HBM {hw.memory_bandwidth_gbps:g} GB/s", "small halo"))
    for i, p in enumerate(points):
        if p["comm_ceiling"] and y.lo <= p["comm_ceiling"] <= y.hi:
            cy = y(p["comm_ceiling"])
            body.append(f'<line class="comm" data-phase="{p["name"]}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_f(cy)}" y2="{_f(cy)}">'
                        f'<title>communication ceiling of {p["name"]}: {_si(p["comm_ceiling"], "FLOP/s")}</title></line>')
            body.append(_text(LEFT + 6 + 210 * i, cy - 5, f"communication ({p['name']}) {_si(p['comm_ceiling'], 'FLOP/s')}",
                              "small halo"))
    for i, p in enumerate(points):
        px, py = x(p["intensity"]), y(p["flops_per_s"])
        body.append(f'<g class="phase-point" data-phase="{p["name"]}" data-intensity="{p["intensity"]!r}" '
                    f'data-flops="{p["flops_per_s"]!r}"><circle class="phase" cx="{_f(px)}" cy="{_f(py)}" r="6">'
                    f'<title>{p["name"]}: {p["intensity"]:.3g} FLOP/B, {_si(p["flops_per_s"], "FLOP/s")} — bound by '
                    f'{p["bottleneck"]}</title></circle>{_text(px + 9, py + (16 if i % 2 == 0 else -10), p["name"], "halo")}</g>')
    if claim:
        cx, cy = x(claim["intensity"]), y(claim["flops_per_s"])
        body.append(f'<g class="claim-point" data-intensity="{claim["intensity"]!r}" data-flops="{claim["flops_per_s"]!r}">'
                    f'<path class="claim" d="M{_f(cx)} {_f(cy - 8)} L{_f(cx + 8)} {_f(cy)} L{_f(cx)} {_f(cy + 8)} L{_f(cx - 8)} {_f(cy)} Z">'
                    f'<title>claimed ({claim["source"]}): {_si(claim["flops_per_s"], "FLOP/s")} per device</title></path>'
                    f'{_text(cx + 11, cy + 4, "claimed", "halo")}</g>')
    return _svg("roofline", body, "roofline")


def frontier_chart(analysis, candidates, own, proposal, code: str = "PAR405") -> str:
    """``candidates``, ``own`` and ``proposal`` are layout-search Candidates (the last two may be None); ``code`` is
    the rule whose finding names ``proposal``."""
    plan = analysis.plan
    training = plan.workload.training
    capacity = analysis.memory.busiest.capacity

    def px(c):
        return c.memory_utilization * capacity / 2**30 if training else c.min_latency_ms

    everything = list(candidates) + [c for c in (own, proposal) if c is not None]
    xs = [px(c) for c in everything]
    ys = [c.throughput_samples_per_s for c in everything]
    if max(ys) < 20 * min(ys):      # a narrow range reads better on a linear axis from zero
        y = scales.linear_from_zero(max(ys) * 1.1, HEIGHT - BOTTOM, TOP)
        yticks = [(v, f"{v:g}") for v in y.ticks()]
    else:
        y = scales.Log.spanning([min(ys) / 1.5, max(ys) * 1.5], HEIGHT - BOTTOM, TOP)
        yticks = [(v, _decade(v)) for v in y.ticks()]
    if training:
        x = scales.linear_from_zero(max(max(xs), capacity / 2**30), LEFT, WIDTH - RIGHT)
        xticks = [(v, f"{v:g}") for v in x.ticks()]
        xlabel = "memory of the busiest device (GiB)"
    else:
        x = scales.Log.spanning([min(xs) / 1.5, max(xs) * 1.5], LEFT, WIDTH - RIGHT)
        xticks = [(v, _decade(v)) for v in x.ticks()]
        xlabel = "minimum latency per request (ms)"
    title = f"Feasible layouts on the same {plan.hardware.num_devices} devices ({len(candidates)} found)"
    body = _frame(title, xlabel, "maximum throughput (samples/s)")
    body += _ticks(x, xticks, "x")
    body += _ticks(y, yticks, "y")
    if not training and len(xticks) <= 3:          # one or two decades: the 2s and 5s help the eye
        for v in [m * d for d, _ in xticks[:-1] for m in (2, 5)]:
            body.append(f'<g class="minor"><line class="grid" x1="{_f(x(v))}" x2="{_f(x(v))}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>'
                        f'{_text(x(v), HEIGHT - BOTTOM + 16, f"{v:g}", "small", "middle")}</g>')
    if training:
        cx = x(capacity / 2**30)
        body.append(f'<line class="capacity" x1="{_f(cx)}" x2="{_f(cx)}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"><title>capacity</title></line>')
    front = frontier([(px(c), c.throughput_samples_per_s) for c in candidates])
    if len(front) > 1:
        pts = " ".join(f"{_f(x(fx))},{_f(y(fy))}" for fx, fy in front)
        body.append(f'<polyline class="front" points="{pts}"><title>Pareto front</title></polyline>')
    for c in candidates if len(candidates) <= 6 else ():
        body.append(_label(x, x(px(c)), y(c.throughput_samples_per_s) + 16, c.describe()).replace('class="halo"', 'class="small halo"'))
    for c in candidates:
        body.append(f'<circle class="layout" cx="{_f(x(px(c)))}" cy="{_f(y(c.throughput_samples_per_s))}" r="4">'
                    f'<title>{escape(c.describe())}: {c.throughput_samples_per_s:.4g} samples/s, {_ms(c.min_latency_ms)}, '
                    f'{_pct(c.memory_utilization)} of memory, bound by {escape(c.bottleneck)}</title></circle>')
    if own is not None:
        ox, oy = x(px(own)), y(own.throughput_samples_per_s)
        body.append(f'<g class="plan-mark"><circle class="plan" cx="{_f(ox)}" cy="{_f(oy)}" r="9"><title>the plan: '
                    f'{escape(own.describe())}</title></circle>{_label(x, ox, oy + 22, "plan")}</g>')
    if proposal is not None:
        sx, sy = x(px(proposal)), y(proposal.throughput_samples_per_s)
        star = " ".join(f"{_f(sx + r * math.cos(math.pi / 2 + k * math.pi / 5))},"
                        f"{_f(sy - r * math.sin(math.pi / 2 + k * math.pi / 5))}" for k, r in zip(range(10), [10, 4.5] * 5))
        body.append(f'<g class="proposal-mark"><polygon class="proposal" points="{star}"><title>{code} proposal: '
                    f'{escape(proposal.describe())}</title></polygon>{_label(x, sx, sy - 14, f"{code}: " + proposal.describe())}</g>')
    return _svg("frontier", body, title)


def _label(x, px: float, py: float, s: str) -> str:
    """A mark's label beside it, on the side with room (left of marks in the right half of the plot)."""
    right = px > (x.start + x.end) / 2
    return _text(px - 12 if right else px + 12, py, s, "halo", "end" if right else "start")


# -- findings -----------------------------------------------------------------------
def rule_link(d) -> str | None:
    """The documentation of a finding's rule: its section of docs/rules.md (built-in rules and the core's codes)."""
    if d.plugin.startswith("deploylint.") and d.rule:
        return f"{RULES_URL}#{rule_anchor(d.code, d.rule)}"
    return None


def _figures(data) -> list[tuple[str, str]]:
    rows = []
    for name, value in (data or {}).items():
        if isinstance(value, dict):
            rows.append((name, ", ".join(f"{k}={_figure(v)}" for k, v in value.items())))
        else:
            rows.append((name, _figure(value)))
    return rows


def _figure(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)) and len(value) > 12:
        return ", ".join(map(_figure, value[:12])) + f", … ({len(value)} values)"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(_figure, value))
    return str(value)


def findings_html(diagnostics, rules: dict | None = None) -> str:
    if not diagnostics:
        return "<p>No findings.</p>"
    out = []
    for d in diagnostics:
        link = rule_link(d)
        code = escape(d.code)
        name = f"<code>{code}</code> {escape(d.rule)}"
        head = f'<a class="rule-link" href="{escape(link)}">{name}</a>' if link else name
        rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in _figures(d.data))
        summary = ""
        rule = (rules or {}).get(d.code)
        if rule is not None and getattr(rule, "summary", ""):
            summary = f"<br><small>{escape(rule.summary)}</small>"
        where = f" at <code>{escape(d.path)}</code>" if d.path else ""
        if d.range is not None:
            where += f" (line {d.range.start.line + 1})"
        out.append(f'<div class="finding {escape(d.severity.value)}" id="finding-{len(out)}" data-code="{code}">'
                   f"<b>{head}</b> · {escape(d.severity.value)}{where}{summary}<p>{escape(d.message)}</p>"
                   + (f"<table><tr><th>figure</th><th>value</th></tr>{rows}</table>" if rows else "") + "</div>")
    return "".join(out)


# -- the page -------------------------------------------------------------------------
def render_html(analysis, plan, diagnostics=(), *, rules: dict | None = None, candidates=None, own=None) -> str:
    """The page. ``candidates``/``own`` are the layout search's results (searched here when not given: the layouts
    PAR405 chooses from, those keeping a fitting training plan's own memory savers)."""
    from ...estimate.layouts import candidate_for, keeps_memory_savers, search

    a = analysis
    kept = keeps_memory_savers(plan, a.memory.fits)
    if candidates is None:
        candidates = search(plan, counts=a.params, keep_memory_savers=kept)
    if own is None:
        own = candidate_for(plan, a.params)
    diagnostics = list(diagnostics)
    code, proposal = _proposal(diagnostics, candidates, plan, a.params, kept)
    title = escape(plan.name or plan.path or "plan")
    b, im = a.bounds, a.implied
    fits = a.memory.fits
    why = sorted({d.code for d in diagnostics if d.code in _OPTIMIZATION_CODES})
    cards = [("fits in memory", f'<span class="{"yes" if fits else "no"}">{"yes" if fits else "no"}</span>'),
             ("busiest device", f"{_b(a.memory.busiest.total)} ({_pct(a.memory.utilization)})"),
             ("max throughput", f"{b.max_throughput_samples_per_s:.4g} samples/s"),
             ("min latency", _ms(b.min_latency_ms)),
             ("bottleneck", escape(b.bottleneck)),
             ("optimized", "yes" if not why and fits else f'<span class="no">no</span> <small>{escape(", ".join(why))}</small>')]
    if im.utilization is not None:
        cards.append(("claims imply", f"{_pct(im.utilization)} MFU" + (f", {_pct(im.bandwidth_utilization)} MBU"
                                                                        if im.bandwidth_utilization is not None else "")))
    summary = "".join(f'<div class="card">{escape(k)}<b>{v}</b></div>' for k, v in cards)
    legend = "".join(f'<span><i style="background:{c}"></i>{n}</span>' for _, n, c in PARTS)
    legend += '<span><i style="background:#b00020;height:.2em;vertical-align:.25em"></i>capacity</span>'
    memory = memory_chart(a)
    busiest = a.memory.busiest
    if busiest.total < 0.1 * busiest.capacity and busiest.total > 0:
        memory += "<p>The same bars with the axis ending at the busiest device (capacity off the chart):</p>"
        memory += memory_chart(a, top=busiest.total * 1.1, id_="memory-zoom", title="Memory per device (zoomed)")
    groups = device_groups(a)
    rows = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in (
        d.stage, d.ep_rank, n, _b(d.weights), _b(d.gradients), _b(d.optimizer), _b(d.activations), _b(d.kv_cache),
        _b(d.total), _pct(d.utilization))) + "</tr>" for d, n in groups)
    phases = "".join(
        f"<tr><td>{escape(p.name)}</td><td>{p.time_s * 1e3:.4g}</td><td>{p.compute_s * 1e3:.4g}</td>"
        f"<td>{p.memory_s * 1e3:.4g}</td><td>{'skipped' if p.comm_s is None else f'{p.comm_s * 1e3:.4g}'}</td>"
        f"<td>{escape(p.bottleneck)}</td></tr>" for p in b.phases)
    if candidates:
        layouts = frontier_chart(a, candidates, own, proposal, code)
    else:
        layouts = "<p>The search found no feasible layout that fits in memory on these devices.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>deploylint analysis — {title}</title><style>{_STYLE}</style></head>
<body>
<h1>deploylint analysis — {title}</h1>
<p>{escape(_plan_line(plan))}</p>
<div class="summary">{summary}</div>
<h2 id="memory-section">Memory per device</h2>
<p class="legend">{legend}</p>
{memory}
<table><tr><th>stage</th><th>EP rank</th><th>devices</th><th>weights</th><th>gradients</th><th>optimizer</th>
<th>activations</th><th>KV cache</th><th>total</th><th>use</th></tr>{rows}</table>
<h2 id="roofline-section">Roofline</h2>
<p>Each phase sits at its FLOPs per byte of HBM traffic and the FLOP/s per device its bound allows; the ceilings are the
datasheet peak and bandwidth, and each phase's link traffic as its own ceiling. The diamond is what the claims imply.</p>
{roofline_chart(a)}
<table><tr><th>phase</th><th>≥ ms</th><th>compute ms</th><th>memory ms</th><th>communication ms</th><th>bound by</th></tr>
{phases}</table>
<h2 id="frontier-section">Feasible layouts</h2>
<p>Every layout on the same devices that passes the PAR and MOE rules and fits in memory{_savers_kept(plan) if kept else ''},
estimated like the plan (<code>deploylint suggest</code> lists them). The line is the Pareto front; the ring is the plan{f', the star the {code} proposal' if proposal else ''}{' (other savers)' if proposal and code == 'PAR407' else ''}.</p>
{layouts}
<h2 id="findings-section">Findings</h2>
{findings_html(diagnostics, rules)}
<h2>Full report</h2>
<details><summary>the text report</summary><pre>{escape(render_text(analysis, plan, diagnostics))}</pre></details>
</body></html>
"""


_LAYOUT_KEYS = ("tp", "pp", "dp", "cp", "ep", "etp", "zero_stage", "recompute", "micro_batch_size")


def _savers_kept(plan) -> str:
    from ...estimate.layouts import savers_text

    return f" keeping the plan's memory savers ({savers_text(plan.parallelism)}), as PAR405 does; PAR407 prices other savers"


def _proposal(diagnostics, candidates, plan, counts, kept: bool):
    """``(code, candidate)``: the searched layout a PAR405 finding proposes, or else the one PAR407 names (their
    ``best`` figures name it), or ``(None, None)``. ``candidates`` keep a fitting training plan's own memory savers
    (``kept``), as PAR405 does; PAR407's layout changes a saver, so the search with any saver is run for it."""
    for code in ("PAR405", "PAR407"):
        best = next((d.data.get("best") for d in diagnostics if d.code == code and isinstance(d.data.get("best"), dict)),
                    None)
        if best is None:
            continue

        def named(pool):
            return next((c for c in pool if all(c.to_json().get(k) == best.get(k) for k in _LAYOUT_KEYS)), None)

        found = named(candidates)
        if found is None and plan.workload.training:
            from ...estimate.layouts import search

            found = named(search(plan, counts=counts, keep_memory_savers=kept and code == "PAR405"))
        if found is not None:
            return code, found
    return None, None


def _plan_line(plan) -> str:
    hw, par, work = plan.hardware, plan.parallelism, plan.workload
    kind = f"MoE {plan.model.moe.num_experts} experts top-{plan.model.moe.top_k}" if plan.model.moe else "dense"
    return (f"{plan.model.layers} layers, hidden {plan.model.hidden_size}, {kind}; {hw.num_devices} × "
            f"{hw.accelerator or f'{hw.memory_gib:g} GiB / {hw.peak_tflops:g} TFLOP/s'}; tp={par.tp} pp={par.pp} "
            f"dp={par.dp} ep={par.ep}; {work.mode}, batch {work.batch_size}, seq {work.seq_len}")
