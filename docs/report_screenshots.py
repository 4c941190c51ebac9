"""Headless Chromium for the HTML report: a small DevTools-protocol driver, and the docs' screenshots.

Regenerate the screenshots in docs/ (from the repository root, deploylint installed, Debian's
``chromium`` on the PATH):

    python docs/report_screenshots.py

It writes ``docs/report-seed.png`` (examples/seed-moe-64e-3dev.toml) and
``docs/report-training.png`` (examples/mixtral-8x7b-training.plan.toml). The browser test
(tests/core/frontends/report/test_html_browser.py) drives the same :class:`Chromium`.

The driver speaks the DevTools protocol over ``--remote-debugging-pipe`` (JSON messages ended
by NUL on file descriptors 3 and 4), so it needs no websocket library and opens no port.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--remote-debugging-pipe")


class BrowserMissing(RuntimeError):
    pass


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise BrowserMissing("no Chromium on the PATH: install Debian's package (apt-get install -y chromium)")


class Chromium:
    """One headless browser with one page; records console errors, exceptions and network requests."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        exe = find_chromium()
        self._profile = tempfile.mkdtemp(prefix="deploylint-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire() -> None:        # the child reads commands on fd 3 and writes answers on fd 4
            high_r, high_w = os.dup(to_child_r), os.dup(from_child_w)   # the pipe may already sit on 3 or 4
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=wire, close_fds=False)   # fds 3 and 4 must survive exec
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.width = width

    # -- protocol ----------------------------------------------------------------------
    def _read_message(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read_message()
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def send(self, method: str, **params) -> dict:
        """A command to the page."""
        return self.call(method, self.session, **params)

    def wait_for(self, method: str) -> dict:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._read_message()
            if event.get("method") == method:
                return event
            self.events.append(event)

    # -- page ------------------------------------------------------------------------
    def open(self, path: str) -> None:
        self.events.clear()
        self.send("Page.navigate", url="file://" + os.path.abspath(path))
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        """Evaluate a JavaScript expression in the page (the DevTools protocol, not a script of the page)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def console_errors(self) -> list[str]:
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                out.append(str(p.get("exceptionDetails", {}).get("text")))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(p["entry"].get("text", ""))
        return out

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def screenshot(self, clip: dict | None = None) -> bytes:
        """A PNG of the whole page (or of ``clip``: x, y, width, height in CSS pixels)."""
        import base64

        params = {"format": "png", "captureBeyondViewport": True}
        if clip is None:
            height = self.evaluate("Math.ceil(document.documentElement.scrollHeight)")
            clip = {"x": 0, "y": 0, "width": self.width, "height": height}
        params["clip"] = {**clip, "scale": 1}
        return base64.b64decode(self.send("Page.captureScreenshot", **params)["data"])

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG into (width, height, rows of raw pixel bytes) with zlib (the PNG filters undone)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError("only 8-bit non-interlaced RGB(A) PNGs are decoded")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for r in range(height):
        kind = raw[r * (stride + 1)]
        line = bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def colours(data: bytes) -> int:
    """How many distinct colours a PNG holds (a blank page has one)."""
    width, _, rows = png_pixels(data)
    bpp = len(rows[0]) // width if rows else 3
    return len({row[i:i + bpp] for row in rows for i in range(0, len(row), bpp)})


# -- the docs' screenshots ------------------------------------------------------------
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORTS = (("examples/seed-moe-64e-3dev.toml", "docs/report-seed.png"),
           ("examples/mixtral-8x7b-training.plan.toml", "docs/report-training.png"))


def render_report(plan: str, out_dir: str) -> str:
    """``deploylint analyze PLAN --format html`` into ``out_dir``; returns the HTML file's path."""
    exe = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    html = subprocess.run([exe, "analyze", plan, "--format", "html"], capture_output=True, text=True, check=True,
                          stdin=subprocess.DEVNULL).stdout
    path = os.path.join(out_dir, os.path.splitext(os.path.basename(plan))[0] + ".html")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(html)
    return path


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, Chromium() as browser:
        for plan, png in REPORTS:
            browser.open(render_report(os.path.join(ROOT, plan), tmp))
            with open(os.path.join(ROOT, png), "wb") as fh:
                fh.write(browser.screenshot())
            print(f"{png}: {plan}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
