"""How long the language server takes to publish diagnostics after an edit.

Run:  python bench/bench_lsp.py [--edits 50] [--lines 200] [--devices 1024]

Starts `deploylint lsp` as a real LSP client would (pygls's client over
stdio), opens the seed plan (padded with comment lines to ``--lines``, or
spread over ``--devices`` devices), then sends edits one at a time (the ep
value alternates) and times each didChange → publishDiagnostics round trip.
The figure includes the server's debounce (150 ms, the pause it waits for
typing to stop); the last line gives the time past it, p50 and p95.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


DEBOUNCE_MS = 150.0


def plan_text(lines: int, devices: int) -> tuple[str, str, str]:
    """The seed plan, padded or scaled; returns (text, the ep line, the other ep line)."""
    text = open(os.path.join(ROOT, "examples", "seed-moe-64e-3dev.toml"), encoding="utf-8").read()
    a, b = "ep = 3", "ep = 4"
    if devices:
        text = text.replace("num_devices = 3", f"num_devices = {devices}").replace("ep = 3", "ep = 64")
        a, b = "ep = 64", "ep = 32"
    missing = lines - text.count("\n")
    if missing > 0:
        text += "".join(f"# padding line {i}: notes about this deployment\n" for i in range(missing))
    return text, a, b


async def main(edits: int, lines: int = 0, devices: int = 0) -> None:
    exe = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    client = LanguageClient("bench", "1")
    published: asyncio.Queue = asyncio.Queue()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params):
        published.put_nowait((time.perf_counter(), params))

    await client.start_io(exe, "lsp")
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
    client.initialized(types.InitializedParams())
    path = os.path.join(ROOT, "examples", "seed-moe-64e-3dev.toml")
    text, ep_a, ep_b = plan_text(lines, devices)
    uri = "file://" + path
    t0 = time.perf_counter()
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id="toml", version=1, text=text)))
    t1, first = await published.get()
    print(f"open → diagnostics: {(t1 - t0) * 1e3:.0f} ms ({len(first.diagnostics)} diagnostics; includes loading the plugins)")
    samples = []
    for i in range(edits):
        new = text.replace(ep_a, ep_b) if i % 2 == 0 else text
        t0 = time.perf_counter()
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=i + 2, uri=uri), [types.TextDocumentContentChangeWholeDocument(new)]))
        t1, _ = await published.get()
        samples.append((t1 - t0) * 1e3)
    median = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else median
    print(f"edit → diagnostics over {edits} edits ({text.count(chr(10))} lines): median {median:.0f} ms, "
          f"min {min(samples):.0f}, max {max(samples):.0f}")
    print(f"past the {DEBOUNCE_MS:.0f} ms debounce: p50 {median - DEBOUNCE_MS:.1f} ms, p95 {p95 - DEBOUNCE_MS:.1f} ms "
          f"(min {min(samples) - DEBOUNCE_MS:.1f}, max {max(samples) - DEBOUNCE_MS:.1f})")
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--lines", type=int, default=0, help="pad the plan with comment lines to this many lines")
    parser.add_argument("--devices", type=int, default=0, help="spread the plan over this many devices")
    a = parser.parse_args()
    asyncio.run(main(a.edits, a.lines, a.devices))
