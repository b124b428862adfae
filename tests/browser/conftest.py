"""Browser-test fixtures: one Streamlit server per session, headless Debian chromium, and an ``app_page`` helper.

Later page tests reuse them::

    @pytest.mark.browser
    def test_explore(app_page):
        app_page.open("explore")
        stats = app_page.wait_for_molecule()
        assert stats["drawn"] > 2000
        app_page.screenshot("explore")

Chromium is Debian's ``/usr/bin/chromium`` (playwright never downloads a browser here). Without it the tests
skip, except under ``CI`` (any value but ``""``/``0``/``false``), where a missing browser is a failure.
WebGL is rendered by SwiftShader; never add ``--disable-software-rasterizer``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
SERVER_START_TIMEOUT_S = 60.0
#: Smallest canvas height (pixels) counted as a 3D view; the colour bars beside the views are 72 pixels tall.
MIN_VIEW_HEIGHT = 150

#: Runs inside a frame: copy every canvas into a 2D canvas (getContext('webgl') on 3Dmol's canvas returns null
#: from outside) and count pixels that differ from the corner (background) pixel, strongly red ones (with their
#: centroid in CSS pixels of the frame's viewport) and dark ones (3Dmol's hover labels are dark boxes).
CANVAS_STATS_JS = """
() => Array.from(document.querySelectorAll('canvas')).filter(c => c.width > 0 && c.height > 0).map((c, k) => {
  const tmp = document.createElement('canvas');
  tmp.width = c.width; tmp.height = c.height;
  const ctx = tmp.getContext('2d');
  ctx.drawImage(c, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let drawn = 0, red = 0, dark = 0, rx = 0, ry = 0, x0 = c.width, x1 = -1, y0 = c.height, y1 = -1;
  for (let i = 0; i < d.length; i += 4) {
    const diff = Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2])
      + Math.abs(d[i + 3] - d[3]);
    if (diff > 30) {
      drawn++;
      const px = (i / 4) % c.width, py = Math.floor(i / 4 / c.width);
      x0 = Math.min(x0, px); x1 = Math.max(x1, px); y0 = Math.min(y0, py); y1 = Math.max(y1, py);
    }
    if (d[i] > 150 && d[i + 1] < 90 && d[i + 2] < 90) {
      red++; rx += (i / 4) % c.width; ry += Math.floor(i / 4 / c.width);
    }
    if (d[i] < 60 && d[i + 1] < 60 && d[i + 2] < 60 && d[i + 3] > 200) dark++;
  }
  const box = c.getBoundingClientRect();
  const sx = box.width / c.width, sy = box.height / c.height;
  return {index: k, width: c.width, height: c.height, drawn: drawn, red: red, dark: dark,
          total: c.width * c.height, bbox: drawn ? [x0, y0, x1, y1] : null,
          red_center: red ? [box.left + sx * rx / red, box.top + sy * ry / red] : null};
})
"""


def ci_enabled() -> bool:
    """True when the ``CI`` environment variable is set to something other than empty/0/false."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    """Poll Streamlit's health endpoint until it answers ``ok``; fail with the server log otherwise."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with code {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"streamlit did not become healthy within {SERVER_START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of the system chromium; skips (or fails under CI) when it is missing."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found (install it: apt-get install -y chromium, or run scripts/test.sh)"
        if ci_enabled():
            pytest.fail(f"CI is set and the browser tests cannot run: {message}")
        pytest.skip(message)
    return str(CHROMIUM)


@contextlib.contextmanager
def streamlit_server(log_name: str = "streamlit-server.log") -> Iterator[str]:
    """Start a fresh ``streamlit run app.py`` on a free localhost port; yields its base URL once it is healthy and
    stops it afterwards. The server's output goes to ``test-artifacts/<log_name>``."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    log = ARTIFACTS / log_name
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"), OMP_WAIT_POLICY="PASSIVE")
    # no file watcher: the tree holds .venv, and inotify overflows while other processes write files
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def app_server(chromium_path: str):
    """Base URL of ``streamlit run app.py`` on a free localhost port, started once per test session (tests that
    need a cold server start their own with :func:`streamlit_server`)."""
    with streamlit_server() as url:
        yield url


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    """A headless chromium (playwright, system executable) shared by the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


class AppPage:
    """A browser tab on the test server with helpers for Streamlit pages and 3Dmol canvases.

    Attributes
    ----------
    page : the playwright ``Page``.
    base_url : the server's base URL.
    requests : every URL the tab requested (to prove nothing is fetched from outside).
    page_errors : uncaught JavaScript exceptions seen in the tab (iframes included).
    """

    def __init__(self, page: object, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.requests: list[str] = []
        self.page_errors: list[str] = []
        page.on("request", lambda req: self.requests.append(req.url))
        page.on("pageerror", lambda err: self.page_errors.append(str(err)))

    def open(self, path: str = "", timeout_s: float = 60.0) -> None:
        """Load ``base_url/path`` and wait until Streamlit has run the page script to the end."""
        self.page.goto(f"{self.base_url}/{path.lstrip('/')}", wait_until="domcontentloaded")
        self.wait_idle(timeout_s)

    def wait_idle(self, timeout_s: float = 60.0) -> None:
        """Wait until the app's script state has been ``notRunning`` for half a second with page content shown.

        ``stApp``'s ``data-test-script-state`` goes ``initial`` -> ``running`` -> ``notRunning``; the status
        widget alone is not enough (it is also absent before the first run starts).
        """
        idle = '[data-testid="stApp"][data-test-script-state="notRunning"]'
        content = '[data-testid="stMainBlockContainer"] [data-testid="stElementContainer"]'
        deadline = time.monotonic() + timeout_s
        quiet_since = None
        while time.monotonic() < deadline:
            busy = (self.page.locator(idle).count() == 0 or self.page.locator(content).count() == 0
                    or self.page.locator('[data-testid="stStatusWidget"]').count() > 0)
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 0.5:
                return
            self.page.wait_for_timeout(100)
        raise AssertionError(f"app still running (or showing nothing) after {timeout_s} s")

    def _script_idle(self) -> bool:
        """The app's script is not running right now (no wait; see :meth:`wait_idle`)."""
        idle = '[data-testid="stApp"][data-test-script-state="notRunning"]'
        return self.page.locator(idle).count() > 0 and self.page.locator('[data-testid="stStatusWidget"]').count() == 0

    def canvas_stats(self) -> list[dict]:
        """Pixel statistics of every canvas in every frame (frames that detach mid-call are skipped)."""
        from playwright.sync_api import Error as PlaywrightError

        stats = []
        for frame in list(self.page.frames):
            try:
                stats += [dict(s, frame=frame) for s in frame.evaluate(CANVAS_STATS_JS)]
            except PlaywrightError:  # frames detach when Streamlit reruns
                continue
        return stats

    def hover(self, stat: dict, point: tuple[float, float]) -> None:
        """Move the mouse to ``point`` (CSS pixels in the viewport of ``stat["frame"]``, as ``red_center``)."""
        frame = stat["frame"]
        offset = {"x": 0.0, "y": 0.0} if frame == self.page.main_frame else frame.frame_element().bounding_box()
        self.page.mouse.move(offset["x"] + point[0], offset["y"] + point[1], steps=5)

    def wait_for_molecule(self, min_drawn: int = 2000, timeout_s: float = 45.0) -> dict:
        """Poll until some canvas has at least ``min_drawn`` non-background pixels; return its statistics.

        The result holds ``drawn``, ``red``, ``dark``, ``total`` (pixels), ``red_center`` and ``frame`` (the
        playwright frame holding the canvas, for :meth:`hover` and :meth:`stats_of`). Canvases less than
        :data:`MIN_VIEW_HEIGHT` pixels tall are colour bars, not 3D views: a drawn colour bar (~2,200 pixels)
        was taken for the molecule while the 3D view beside it was still blank."""
        deadline = time.monotonic() + timeout_s
        best: dict = {"drawn": 0}
        while time.monotonic() < deadline:
            best = {"drawn": 0}  # only canvases of this poll: a rerun may have replaced (detached) older frames
            for stat in self.canvas_stats():
                if stat["height"] >= MIN_VIEW_HEIGHT and stat["drawn"] > best["drawn"]:
                    best = stat
            # the page must also have settled: a view drawn while the script still runs can be replaced
            if best["drawn"] >= min_drawn and self._script_idle():
                return best
            self.page.wait_for_timeout(250)
        raise AssertionError(f"no 3D canvas with >= {min_drawn} drawn pixels after {timeout_s} s; best: {best}")

    def stats_of(self, stat: dict) -> dict:
        """Fresh statistics of the same canvas as ``stat`` (e.g. after a hover)."""
        return dict(stat["frame"].evaluate(CANVAS_STATS_JS)[stat["index"]], frame=stat["frame"])

    def screenshot(self, name: str) -> Path:
        """Save a full-page PNG as ``test-artifacts/<name>.png`` and return its path."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def external_requests(self) -> list[str]:
        """Requested URLs that did not go to the test server (should be none: the app works offline)."""
        return [u for u in self.requests if not u.startswith((self.base_url, "data:", "blob:", "about:"))]


@pytest.fixture
def app_page(browser, app_server: str):
    """A fresh browser context and tab (1400 x 1000) on the test server; closed after the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield AppPage(context.new_page(), app_server)
    finally:
        context.close()
