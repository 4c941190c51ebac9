"""``deploylint analyze --format html``: the text report as one self-contained page (no scripts, no assets).

The figures are the same as in the text and JSON reports; the page only lays
them out as tables that are easier to share in a review.
"""

from __future__ import annotations

from html import escape

from .analysis_text import render_text

_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:72em}"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
          "th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}pre{background:#f8f8f8;padding:1em;overflow:auto}"
          ".no{color:#b00020;font-weight:bold}.yes{color:#1b5e20;font-weight:bold}")


def _b(n: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def render_html(analysis, plan, diagnostics=()) -> str:
    a = analysis
    title = escape(plan.name or plan.path or "plan")
    rows = []
    for d in a.memory.devices[:256]:
        rows.append("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in (
            d.index, d.stage, d.ep_rank, _b(d.weights), _b(d.gradients), _b(d.optimizer), _b(d.activations),
            _b(d.kv_cache), _b(d.total), f"{d.utilization * 100:.3g}%")) + "</tr>")
    more = len(a.memory.devices) - len(rows)
    phases = "".join(
        f"<tr><td>{escape(p.name)}</td><td>{p.time_s * 1e3:.4g}</td><td>{p.compute_s * 1e3:.4g}</td>"
        f"<td>{p.memory_s * 1e3:.4g}</td><td>{'skipped' if p.comm_s is None else f'{p.comm_s * 1e3:.4g}'}</td>"
        f"<td>{escape(p.bottleneck)}</td></tr>" for p in a.bounds.phases)
    findings = "".join(f"<li><b>{escape(d.code)}</b> {escape(d.severity.value)} — {escape(d.message)}</li>" for d in diagnostics)
    fits = a.memory.fits
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>deploylint analysis — {title}</title><style>{_STYLE}</style></head>
<body>
<h1>deploylint analysis — {title}</h1>
<p>Fits in memory: <span class="{'yes' if fits else 'no'}">{'yes' if fits else 'no'}</span>;
busiest device {a.memory.busiest.index} at {a.memory.utilization * 100:.3g}% of its memory;
bottleneck: {escape(a.bounds.bottleneck)}.</p>
<h2>Memory per device</h2>
<table><tr><th>device</th><th>stage</th><th>ep rank</th><th>weights</th><th>gradients</th><th>optimizer</th>
<th>activations</th><th>KV cache</th><th>total</th><th>use</th></tr>
{''.join(rows)}</table>
{f'<p>{more} more devices not shown.</p>' if more > 0 else ''}
<h2>Bounds</h2>
<table><tr><th>phase</th><th>≥ ms</th><th>compute ms</th><th>memory ms</th><th>communication ms</th><th>bound by</th></tr>
{phases}</table>
<h2>Findings</h2>
<ul>{findings or '<li>none</li>'}</ul>
<h2>Full report</h2>
<pre>{escape(render_text(analysis, plan, diagnostics))}</pre>
</body></html>
"""
