"""Open an HTML file in headless Chromium and report what a reader would see: a PNG screenshot of the whole page,
the console errors and uncaught exceptions, every request the page made, and facts read from the rendered DOM
(section ids, images that failed to decode). Spoken over the DevTools protocol on a pipe
(``--remote-debugging-pipe``), with the standard library only; POSIX systems.

Used by the report's tests and to make the README's screenshot; handy to check any report in CI.

>>> result = render_in_browser("report.html", screenshot="report.png")  # needs chromium  # doctest: +SKIP
>>> result.errors, result.section_ids[:2]  # doctest: +SKIP
([], ['overview', 'learning-curves'])
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import pathlib
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

TRAMPOLINE = ("import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); os.dup2(r, 3); os.dup2(w, 4); "
              "os.close(r); os.close(w); os.execv(sys.argv[3], sys.argv[3:])")
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

# Read from the rendered page: the ids of its sections, its images that did not decode, its drawn charts.
PROBE = """JSON.stringify({
  sections: Array.from(document.querySelectorAll("section[id]")).map(s => s.id),
  brokenImages: Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt),
  images: document.images.length,
  svgs: Array.from(document.querySelectorAll("svg")).filter(s => s.getBoundingClientRect().width > 0).length,
  height: Math.ceil(document.documentElement.scrollHeight)
})"""


@dataclass
class BrowserResult:
    """What the page did in the browser: ``errors`` (console errors, uncaught exceptions, failed loads),
    ``requests`` (every URL it asked for, the page included), ``section_ids``, ``broken_images`` (alt texts),
    ``images`` and ``svgs`` (counts of rendered ones), ``height`` (pixels) and the ``screenshot`` path."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    section_ids: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    images: int = 0
    svgs: int = 0
    height: int = 0
    screenshot: str | None = None


def find_chromium() -> str | None:
    """The Chromium (or Chrome) program: ``$LAMINA_CHROMIUM`` if set, else the first of the usual names on the
    PATH; None when there is none (Debian: ``apt-get install chromium``)."""
    chosen = os.environ.get("LAMINA_CHROMIUM")
    if chosen:
        return shutil.which(chosen) or (chosen if os.access(chosen, os.X_OK) else None)
    return next((path for path in map(shutil.which, CANDIDATES) if path), None)


class _Pipe:
    """The DevTools protocol on two pipes: JSON messages, each ended by a NUL byte."""

    def __init__(self, to_browser: int, from_browser: int, deadline: float):
        self.out, self.inp, self.deadline = to_browser, from_browser, deadline
        self.buffer, self.next_id, self.events = b"", 0, []

    def _read(self) -> dict:
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.inp], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time.")
            chunk = os.read(self.inp, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe (it exited).")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        try:
            os.write(self.out, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise RuntimeError("Chromium closed the DevTools pipe (it exited).") from None
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"Chromium refused {method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read())


def _errors(events: list[dict]) -> tuple[list[str], list[str]]:
    errors, requests = [], []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                 for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            requests.append(url[:40] + "..." if url.startswith("data:") and len(url) > 40 else url)
        elif method == "Network.loadingFailed":
            errors.append(f"load failed: {params.get('errorText')}")
    return errors, requests


def render_in_browser(path: str | os.PathLike, screenshot: str | os.PathLike | None = None, width: int = 1280,
                      timeout: float = 90.0, chromium: str | None = None) -> BrowserResult:
    """Load ``path`` in headless Chromium, wait for its load event, read the DOM, and save a full-page PNG
    screenshot to ``screenshot`` when given. Raises ``FileNotFoundError`` when no Chromium is installed."""
    program = chromium or find_chromium()
    if program is None:
        raise FileNotFoundError("No Chromium found: install it (Debian: `apt-get install chromium`) or set "
                                "LAMINA_CHROMIUM to its path.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"render_in_browser: no file at {os.fspath(path)!r}.")
    url = pathlib.Path(path).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="lamina-chromium-") as profile:
        to_r, to_w = os.pipe()  # we write commands, Chromium reads them on its fd 3
        from_r, from_w = os.pipe()  # Chromium writes answers on its fd 4
        # --remote-debugging-pipe wants the pipes on fds 3 and 4: copies above 10 (clear of 3 and 4) go to a fresh
        # Python that moves them there and execs Chromium (no preexec_fn, which is unsafe in threaded programs,
        # and no shell, whose redirections stop at fd 9).
        high_r, high_w = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
        args = [sys.executable, "-I", "-S", "-c", TRAMPOLINE, str(high_r), str(high_w), program,
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--remote-debugging-pipe",
                f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--hide-scrollbars", "--mute-audio", f"--window-size={width},800", "about:blank"]
        log_path = os.path.join(profile, "chromium.log")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       pass_fds=(high_r, high_w))
        for fd in (to_r, from_w, high_r, high_w):
            os.close(fd)
        pipe = _Pipe(to_w, from_r, time.monotonic() + timeout)
        try:
            return _drive(pipe, url, screenshot, width)
        except (RuntimeError, TimeoutError) as error:
            with open(log_path, "rb") as log:
                tail = log.read()[-2000:].decode(errors="replace").strip()
            raise type(error)(f"{error} Chromium ({program}) said: {tail or '(nothing)'}") from error
        finally:
            with contextlib.suppress(OSError, RuntimeError, TimeoutError):
                pipe.send("Browser.close")
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            os.close(to_w)
            os.close(from_r)


def _drive(pipe: _Pipe, url: str, screenshot: Any, width: int) -> BrowserResult:
    targets = pipe.send("Target.getTargets")["targetInfos"]
    page = next(t["targetId"] for t in targets if t.get("type") == "page")
    session = pipe.send("Target.attachToTarget", targetId=page, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        pipe.send(f"{domain}.enable", session)
    pipe.events.clear()
    navigation = pipe.send("Page.navigate", session, url=url)
    if navigation.get("errorText"):
        raise RuntimeError(f"Chromium could not open {url}: {navigation['errorText']}.")
    pipe.wait_for("Page.loadEventFired")
    facts = json.loads(pipe.send("Runtime.evaluate", session, expression=PROBE, returnByValue=True)
                       ["result"]["value"])
    result = BrowserResult(section_ids=facts["sections"], broken_images=facts["brokenImages"],
                           images=facts["images"], svgs=facts["svgs"], height=facts["height"])
    if screenshot is not None:
        height = max(1, min(facts["height"], 16000))
        pipe.send("Emulation.setDeviceMetricsOverride", session, width=width, height=height, deviceScaleFactor=1,
                  mobile=False)
        shot = pipe.send("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
        pathlib.Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        result.screenshot = os.fspath(screenshot)
    result.errors, result.requests = _errors(pipe.events)
    return result
