"""Headless Chromium driven over the DevTools protocol (CDP) with the ``websockets`` client the
bridge already needs: load a page, wait until the page itself says it is ready (an expression
evaluated in it), then take a screenshot. Waiting on the page's own state, not on
``--virtual-time-budget``, keeps the test independent of how fast the machine is."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

FLAGS = ("--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--window-size=640,480")


class Browser:
    """One headless Chromium with one page; ``with Browser(chromium) as b: b.open(url)``."""

    def __init__(self, executable: str, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory()
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self._profile.name}", "--remote-debugging-port=0",
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log: list[str] = []
        self._stack = contextlib.ExitStack()
        self._id = 0
        try:
            self._ws = self._page_socket(self._devtools_port())
        except BaseException:
            self.close()
            raise

    def _devtools_port(self) -> int:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            if m := re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line):
                return int(m.group(1))
        raise AssertionError("chromium did not open its DevTools port:\n" + "".join(self.log[-40:]))

    def _page_socket(self, port: int):  # type: ignore[no-untyped-def]
        import urllib.request

        from websockets.sync.client import connect

        deadline = time.monotonic() + self.timeout
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                return self._stack.enter_context(
                    connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=10))
            if time.monotonic() > deadline:
                raise AssertionError("chromium has no page target")
            time.sleep(0.1)

    def call(self, method: str, **params: object) -> dict:
        """Send one CDP command to the page and return its result (events are skipped)."""
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._ws.recv(timeout=self.timeout))
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.call("Page.enable")
        self.call("Page.navigate", url=url)

    def wait_for(self, expression: str, timeout: float = 60.0) -> None:
        """Poll ``expression`` in the page until it is truthy."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never satisfied {expression!r}; title "
                                     f"{self.evaluate('document.title')!r}, body "
                                     f"{self.evaluate('document.body && document.body.innerText')!r}")
            time.sleep(0.1)

    def dom(self) -> str:
        return str(self.evaluate("document.documentElement.outerHTML"))

    def screenshot(self, path: Path) -> Path:
        # Two animation frames: what was drawn last is on screen.
        self.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stderr is not None:
                self.proc.stderr.close()
            self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
