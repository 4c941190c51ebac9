"""How long the language server takes to publish diagnostics after an edit.

Run:  python bench/bench_lsp.py [--edits 15]

Starts `deploylint lsp` as a real LSP client would (pygls's client over
stdio), opens the seed plan, then sends edits one at a time (the ep value
alternates between 3 and 4) and times each didChange → publishDiagnostics
round trip. The figure includes the server's debounce (150 ms, the pause it
waits for typing to stop); the line below subtracts it.
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


async def main(edits: int) -> None:
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
    text = open(path, encoding="utf-8").read()
    uri = "file://" + path
    t0 = time.perf_counter()
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id="toml", version=1, text=text)))
    t1, first = await published.get()
    print(f"open → diagnostics: {(t1 - t0) * 1e3:.0f} ms ({len(first.diagnostics)} diagnostics; includes loading the plugins)")
    samples = []
    for i in range(edits):
        new = text.replace("ep = 3", "ep = 4" if i % 2 == 0 else "ep = 3")
        t0 = time.perf_counter()
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=i + 2, uri=uri), [types.TextDocumentContentChangeWholeDocument(new)]))
        t1, _ = await published.get()
        samples.append((t1 - t0) * 1e3)
    median = statistics.median(samples)
    print(f"edit → diagnostics over {edits} edits: median {median:.0f} ms, min {min(samples):.0f}, max {max(samples):.0f}")
    print(f"  of which debounce 150 ms: linting and publishing take about {median - 150:.0f} ms")
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=15)
    asyncio.run(main(parser.parse_args().edits))
