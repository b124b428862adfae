"""App latency measured with the browser harness of ``tests/browser`` (Debian chromium via playwright), and a
server-side profile of every page script (``--profile``).

Sections (``--sections``, all by default), each on a fresh ``streamlit run app.py`` server, repeated ``--repeats``
times; the table gives the median and the range (min-max), the JSON every sample:

``legacy``  server start -> Home drawn with its 3D molecule; Explore opened by URL (``?mol=KEY``) for
            ``--molecules`` until the numbers (energy tile) show and until the 3D view is drawn; gallery molecules
            picked in the sidebar of the loaded Explore page (``--pick``) until their numbers show; the total
            charge changed in the sidebar until the new numbers show and the view is redrawn.
``nav``     first visit of every page (``lsip.ui.common.PAGES``) for a small gallery molecule (``--small``,
            water) inside one loaded session: Home is opened by URL, then each page is opened by a click on its
            sidebar link (no page load, no new session). Two times per page: its main content shown (a
            page-specific element, :data:`CONTENT`, drawn by the current run under the page's own title) and the
            script idle (the harness's ``wait_idle`` criterion: script state ``notRunning``, no status widget,
            content shown; the time is when the quiet began, the 0.5 s confirmation window is not counted).
            After the small molecule, the large one (``--large``, the 648-atom ``water_216``) the same way in a
            new session on the same server: Home by URL, then every page by its sidebar link; for these also the
            first page-level progress indicator (``st.spinner`` -> ``stSpinner``, ``st.progress`` ->
            ``stProgress``, ``st.status`` -> ``stExpanderIconSpinner``) and Streamlit's own "Running..." widget
            (``stStatusWidget``).
``url``     cold URL load of every page for the small molecule (``/Charge_transfer?mol=water``), each in a new
            browser context (empty HTTP cache, new session): Streamlit's bundle, a new session, the router and the
            page. Times from the navigation start. Same server state as ``nav`` (a fresh server, pages in the same
            order), so ``url`` - ``nav`` is the page-load and session overhead.

All times are wall-clock seconds in the browser's clock (``performance.now()``), measured from the click (nav)
or the navigation start (url); a MutationObserver plus a 50 ms poll in the tab timestamps the events.

``--profile`` runs each page script once under cProfile through ``streamlit.testing.v1.AppTest`` (in this process,
pages in navigation order after one router run that pays the imports, as ``nav`` does) for the small and the large
molecule, prints the top functions by cumulative time per page (wrappers that hold the whole run left out) and
stores them in the JSON. ``--profile-only`` skips the browser.

Usage: python benchmarks/bench_app.py [--repeats 3] [--sections legacy,nav,url] [--pages Explore,Energy]
                                      [--profile | --profile-only] [--out benchmarks/results/app.json]
Prints tables and writes JSON (browser results under "browser", the profile under "profile", the medians of the
legacy section also under "rows" as before; a run keeps the part it did not redo). Browser-side cost per visit:
"long_tasks_s", the tab's main-thread tasks over 50 ms (Long Tasks API). Machines are shared: compare numbers from
one run.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import json
import os
import platform
import pstats
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT))

from conftest import CHROMIUM, CHROMIUM_ARGS, AppPage, streamlit_server  # noqa: E402

from lsip.ui.common import PAGES, PageSpec, page_path  # noqa: E402

VIEWPORT = {"width": 1400, "height": 1000}
METRIC = '[data-testid="stMetricValue"]'

#: Main content of each page (CSS inside the main block, optional regular expression on its text): what the
#: user came for. Home: the 3D view; Explore/Energy: the metric tiles; Charge transfer: the channel table;
#: Density: the isosurface view (model density; no DFT is run); Scan: the first curve; Latent library: the
#: element table; Diagnostics: the pass/fail summary; Evaluate: the file uploader (no data set yet); Optimize:
#: the "press Run" prompt (or, above the app's size limit, the warning that replaces the page); Present: the
#: molecule of the first slide.
CONTENT: dict[str, tuple[str, str | None]] = {
    "Home": ("iframe", None),
    "Explore": (METRIC, None),
    "Charge transfer": ('[data-testid="stDataFrame"]', None),
    "Energy": (METRIC, None),
    "Density": ("iframe", None),
    "Scan": ('[data-testid="stPlotlyChart"]', None),
    "Latent library": ('[data-testid="stDataFrame"]', None),
    "Diagnostics": ('[data-testid="stMarkdownContainer"] strong', r"\d+ passed, \d+ failed"),
    "Evaluate": ('[data-testid="stFileUploader"]', None),
    "Optimize": ('[data-testid="stAlert"]', r"press Run|more than the app relaxes"),
    "Present": ("iframe", None),
}
#: A page not listed above: the first number, table, chart or 3D view.
DEFAULT_CONTENT = ('[data-testid="stMetricValue"], [data-testid="stDataFrame"], [data-testid="stPlotlyChart"], iframe',
                   None)
#: The page's h1 (``common.page_header``) when it is not the navigation title.
HEADING = {"Home": "LSIP Explorer"}
PROGRESS = '[data-testid="stSpinner"], [data-testid="stProgress"], [data-testid="stExpanderIconSpinner"]'

#: Installed in every tab before its scripts run (top frame only): timestamps, in ``performance.now()``
#: milliseconds, of the target page's content, the first progress indicator, the status widget and the start of
#: the current idle period. ``__bench.reset(heading, css, regex)`` starts a new measurement (a nav click);
#: ``__benchTarget`` (set by the context's init script) is the target of a URL load, measured from 0.
INSTRUMENT_JS = """
(() => {
  if (window.top !== window || window.__bench) return;
  const B = window.__bench = {t0: 0, heading: null, css: null, re: null};
  const now = () => performance.now();
  const fresh = el => !el.closest('[data-stale="true"]');
  const shown = el => fresh(el) && el.getClientRects().length > 0;
  let lastCheck = -1e9, dirty = false;
  const PROGRESS = __PROGRESS__;
  function clear() {
    Object.assign(B, {contentAt: null, progressAt: null, progressKind: null, statusAt: null, idleSince: null,
                      quietSince: null, headingAt: null, longTasks: []});
  }
  function check() {
    const t = now();
    lastCheck = t; dirty = false;
    const main = document.querySelector('[data-testid="stMainBlockContainer"]');
    let heading = false;
    if (main && B.heading) {
      heading = Array.from(main.querySelectorAll('h1'))
        .some(h => fresh(h) && h.textContent.trim().startsWith(B.heading));
      if (heading && B.headingAt === null) B.headingAt = t;
    }
    if (heading && B.contentAt === null && B.css) {
      const rx = B.re ? new RegExp(B.re) : null;
      if (Array.from(main.querySelectorAll(B.css)).some(el => shown(el) && (!rx || rx.test(el.textContent))))
        B.contentAt = t;
    }
    if (B.progressAt === null) {
      const p = Array.from(document.querySelectorAll(PROGRESS)).find(shown);
      if (p) { B.progressAt = t; B.progressKind = p.getAttribute('data-testid'); }
    }
    const status = document.querySelector('[data-testid="stStatusWidget"]');
    if (status && B.statusAt === null) B.statusAt = t;
    const app = document.querySelector('[data-testid="stApp"]');
    const quiet = !!app && app.getAttribute('data-test-script-state') === 'notRunning' && !status && heading;
    if (!quiet) B.quietSince = null; else if (B.quietSince === null) B.quietSince = t;
    if (!(quiet && B.contentAt !== null)) B.idleSince = null;
    else if (B.idleSince === null) B.idleSince = Math.max(t, B.contentAt);
  }
  B.reset = (heading, css, re) => {
    Object.assign(B, {t0: now(), heading: heading, css: css, re: re}); clear(); check();
  };
  B.state = () => { check(); return {now: now(), t0: B.t0, content: B.contentAt, heading: B.headingAt,
    progress: B.progressAt, progress_kind: B.progressKind, status: B.statusAt, idle: B.idleSince,
    quiet: B.quietSince, long_tasks: B.longTasks.filter(e => e[0] + e[1] >= B.t0)}; };
  clear();
  const target = window.__benchTarget;
  if (target) Object.assign(B, target);
  // at most one check per 25 ms from mutations (each check forces a layout), the rest from the 50 ms poll
  new MutationObserver(() => { if (now() - lastCheck > 25) check(); else dirty = true; }).observe(
    document, {subtree: true, childList: true, attributes: true, characterData: true});
  setInterval(() => { if (dirty || B.idleSince === null) check(); }, 50);
  // main-thread tasks over 50 ms (same-process iframes such as the 3Dmol views included): browser-side work
  try {
    new PerformanceObserver(list => { for (const e of list.getEntries()) B.longTasks.push([e.startTime, e.duration]); })
      .observe({type: 'longtask', buffered: true});
  } catch (e) { /* no Long Tasks API */ }
})();
""".replace("__PROGRESS__", json.dumps(PROGRESS))


def target_of(spec: PageSpec) -> dict:
    css, rx = CONTENT.get(spec.title, DEFAULT_CONTENT)
    return {"heading": HEADING.get(spec.title, spec.title), "css": css, "re": rx}


def wait_measure(tab, timeout_s: float, quiet_s: float = 0.5, no_content_s: float = 20.0) -> dict:
    """Poll the tab's ``__bench`` until the page has been idle with its content for ``quiet_s`` (or the script
    has been idle ``no_content_s`` under the page's heading without the content: recorded as content None; the
    browser can draw an element long after the script ended, e.g. the first plotly chart of a tab waits for
    plotly's JavaScript); times in seconds from ``t0``."""
    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + timeout_s
    st: dict = {}
    while time.monotonic() < deadline:
        try:
            st = tab.evaluate("() => window.__bench ? window.__bench.state() : null") or {}
        except PlaywrightError:  # the document is being replaced
            st = {}
        if st:
            if st["idle"] is not None and st["now"] - st["idle"] > 1000 * quiet_s:
                break
            if st["content"] is None and st["quiet"] is not None and st["now"] - st["quiet"] > 1000 * no_content_s:
                break
        tab.wait_for_timeout(100)
    else:
        st = dict(st, timed_out=True)
    t0 = st.get("t0", 0.0)

    def sec(key: str) -> float | None:
        return None if st.get(key) is None else round((st[key] - t0) / 1000, 3)

    out = {k: sec(k) for k in ("content", "idle", "progress", "status", "heading")}
    out["script_done"] = sec("quiet")  # the page's run ended (Streamlit's script state), drawn or not
    # browser main-thread tasks over 50 ms between t0 and the end of the measurement (seconds, summed / longest)
    tasks = [d for start, d in st.get("long_tasks", []) if start + d >= t0]
    out["long_tasks_s"] = round(sum(tasks) / 1000, 3)
    out["longest_task_s"] = round(max(tasks, default=0.0) / 1000, 3)
    out["progress_kind"] = st.get("progress_kind")
    if st.get("timed_out"):
        out["timed_out"] = timeout_s
    return out


@contextlib.contextmanager
def server(tag: str) -> Iterator[tuple[str, float]]:
    """A fresh server from the browser tests' ``streamlit_server`` (log ``test-artifacts/bench-app-server-TAG.log``);
    yields its URL and the launch time (``perf_counter``, taken just before the launch)."""
    t0 = time.perf_counter()
    with streamlit_server(log_name=f"bench-app-server-{tag}.log") as url:
        yield url, t0


def new_tab(browser, url: str, target: dict | None = None):
    """A new context (empty cache, new session) with the instrumentation; returns (context, AppPage)."""
    context = browser.new_context(viewport=VIEWPORT)
    if target is not None:
        context.add_init_script(f"window.__benchTarget = {json.dumps(target)};")
    context.add_init_script(INSTRUMENT_JS)
    return context, AppPage(context.new_page(), url)


def click_nav(app: AppPage, spec: PageSpec) -> None:
    """Click the sidebar link of ``spec`` (opening a collapsed navigation first)."""
    nav = app.page.locator('[data-testid="stSidebarNav"]')
    link = nav.locator(f'a[href$="/{spec.url_path}"], a[href*="/{spec.url_path}?"]').first
    if not link.is_visible():
        more = nav.locator('[data-testid="stSidebarNavViewButton"]')
        if more.count() and "more" in more.inner_text():
            more.click()
    link.click()


# --- sections ---------------------------------------------------------------------------------------------------

def run_legacy(browser, args, pages: list[PageSpec], out: dict) -> None:
    with server("legacy") as (url, t_launch):
        out["server_healthy_s"] = time.perf_counter() - t_launch
        context, app = new_tab(browser, url)
        app.open("")
        app.wait_for_molecule()
        out["first_page_drawn_s"] = time.perf_counter() - t_launch
        tab = app.page
        out["explore_numbers"], out["explore_drawn"] = {}, {}
        for key in args.molecules.split(","):
            t1 = time.perf_counter()
            tab.goto(f"{url}/Explore?mol={key}", wait_until="domcontentloaded")
            tab.wait_for_selector(METRIC, timeout=60_000)  # the model's numbers are on screen
            out["explore_numbers"][key] = time.perf_counter() - t1
            app.wait_idle()
            app.wait_for_molecule()
            out["explore_drawn"][key] = time.perf_counter() - t1
        # pick gallery molecules in the sidebar of the loaded page (no page load): the everyday interaction
        from lsip.gallery import load_gallery

        gallery = load_gallery()
        sidebar = tab.locator('[data-testid="stSidebar"]')
        out["pick_numbers"] = {}
        for key in args.pick.split(","):
            before = tab.locator(METRIC).first.inner_text()
            sidebar.locator('[data-testid="stSelectbox"]').filter(has_text=re.compile("Gallery structure")).click()
            tab.keyboard.type(gallery[key].title)  # the list is virtualised: filter it, then pick
            option = tab.get_by_role("option", name=re.compile(f"^{re.escape(gallery[key].title)} ")).first
            option.wait_for()
            t3 = time.perf_counter()  # from the click on the option (typing the filter is not counted)
            option.click()
            tab.wait_for_function(f"() => document.querySelector('{METRIC}') && "
                                  f"document.querySelector('{METRIC}').innerText !== {before!r}", timeout=60_000)
            out["pick_numbers"][key] = time.perf_counter() - t3
            app.wait_idle()
        before = tab.locator(METRIC).first.inner_text()
        t2 = time.perf_counter()
        box = tab.get_by_label("Total charge Q (e)")
        box.fill("1")
        box.press("Enter")
        tab.wait_for_function(f"() => document.querySelector('{METRIC}') && "  # the cation's energy
                              f"document.querySelector('{METRIC}').innerText !== {before!r}", timeout=60_000)
        out["charge_numbers_s"] = time.perf_counter() - t2
        app.wait_idle()
        app.wait_for_molecule()
        out["charge_drawn_s"] = time.perf_counter() - t2
        context.close()


def nav_through(browser, url: str, mol: str, pages: list[PageSpec], timeout_s: float) -> dict:
    """Open Home for ``mol`` by URL in a new session, then click every page of ``pages`` in the sidebar."""
    home = PAGES[0]
    context, app = new_tab(browser, url, target_of(home))
    result = {}
    try:
        app.page.goto(f"{url}/{home.url_path}?mol={mol}", wait_until="commit")
        result["Home (URL)"] = wait_measure(app.page, timeout_s)
        for spec in pages:
            t = target_of(spec)
            app.page.evaluate("t => window.__bench.reset(t.heading, t.css, t.re)", t)
            click_nav(app, spec)
            result[spec.title] = wait_measure(app.page, timeout_s)
            print(f"  nav {mol} {spec.title:<16} {result[spec.title]}", flush=True)
    finally:
        context.close()
    return result


def run_nav(browser, args, pages: list[PageSpec], out: dict) -> None:
    nav_pages = [p for p in pages if p.title != "Home"] + [PAGES[0]]  # Home last: a revisit after the tour
    with server("nav") as (url, _):
        out["small"] = nav_through(browser, url, args.small, nav_pages, args.timeout)
        if args.large:
            out["large"] = nav_through(browser, url, args.large, nav_pages, args.timeout)


def run_url(browser, args, pages: list[PageSpec], out: dict) -> None:
    with server("url") as (url, _):
        warm_ctx, warm = new_tab(browser, url)  # the server's first session (imports), as Home in nav
        warm.open(f"?mol={args.small}", timeout_s=args.timeout)
        warm_ctx.close()
        for spec in [p for p in pages if p.title != "Home"] + [PAGES[0]]:
            context, app = new_tab(browser, url, target_of(spec))
            try:
                app.page.goto(f"{url}/{spec.url_path}?mol={args.small}", wait_until="commit")
                out[spec.title] = wait_measure(app.page, args.timeout)
            finally:
                context.close()
            print(f"  url {args.small} {spec.title:<16} {out[spec.title]}", flush=True)


# --- statistics and tables -----------------------------------------------------------------------------------

def summary(samples: list) -> dict | None:
    xs = [x for x in samples if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs), "missing":
            len(samples) - len(xs)}


def fmt(s: dict | None) -> str:
    if s is None:
        return "-"
    text = f"{s['median']:.2f}" if s["n"] == 1 else f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})"
    return text + (f" [{s['missing']} missing]" if s["missing"] else "")


def collect(runs: list[dict], *path: str) -> list:
    vals = []
    for run in runs:
        node = run
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        vals.append(node)
    return vals


def legacy_rows(runs: list[dict]) -> dict | None:
    """Medians of the legacy section under the keys of the earlier flat format (``rows``, read by
    ``benchmarks/plot_results.py``)."""
    legacy = [r["legacy"] for r in runs if "legacy" in r]
    if not legacy:
        return None

    def med(*path: str) -> float:
        return statistics.median(x for x in collect(legacy, *path) if x is not None)

    return {"server_healthy_s": med("server_healthy_s"), "first_page_drawn_s": med("first_page_drawn_s"),
            "explore": {k: med("explore_drawn", k) for k in legacy[0]["explore_drawn"]},
            "explore_numbers": {k: med("explore_numbers", k) for k in legacy[0]["explore_numbers"]},
            "pick_numbers": {k: med("pick_numbers", k) for k in legacy[0]["pick_numbers"]},
            "charge_rerun_numbers_s": med("charge_numbers_s"), "charge_rerun_s": med("charge_drawn_s")}


def tables(runs: list[dict], args) -> tuple[list[str], dict]:
    """Markdown table lines (median (min-max), seconds) and the summaries for the JSON."""
    lines: list[str] = []
    summ: dict = {}
    legacy = [r["legacy"] for r in runs if "legacy" in r]
    if legacy:
        lines += ["| step | seconds |", "|---|---:|"]
        rows = [("server healthy (from launch)", ("server_healthy_s",)),
                ("Home drawn with its 3D view (from launch)", ("first_page_drawn_s",))]
        rows += [(f"Explore `?mol={k}` by URL: numbers shown", ("explore_numbers", k)) for k in
                 legacy[0]["explore_numbers"]]
        rows += [(f"Explore `?mol={k}` by URL: 3D drawn + 0.5 s quiet", ("explore_drawn", k)) for k in
                 legacy[0]["explore_drawn"]]
        rows += [(f"sidebar pick of `{k}` on loaded Explore: numbers shown", ("pick_numbers", k)) for k in
                 legacy[0]["pick_numbers"]]
        rows += [("sidebar total-charge change: new numbers", ("charge_numbers_s",)),
                 ("sidebar total-charge change: 3D redrawn + 0.5 s quiet", ("charge_drawn_s",))]
        for label, path in rows:
            s = summary(collect(legacy, *path))
            summ["legacy/" + "/".join(path)] = s
            lines.append(f"| {label} | {fmt(s)} |")
        lines.append("")
    nav = [r["nav"] for r in runs if "nav" in r]
    url = [r["url"] for r in runs if "url" in r]
    if nav or url:
        titles = list(dict.fromkeys([t for r in nav for t in r.get("small", {})] + [t for r in url for t in r]))
        lines += [f"| page ({args.small}) | nav: content | nav: script done | nav: idle | nav: browser busy | "
                  "URL: content | URL: script done | URL: idle | URL: browser busy |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for t in titles:
            cells = []
            for src, key in ((nav, ("small", t)), (url, (t,))):
                for what in ("content", "script_done", "idle", "long_tasks_s"):
                    s = summary([None if v is None else v.get(what) for v in collect(src, *key)]) if src else None
                    summ[f"{'nav' if src is nav else 'url'}/{args.small}/{t}/{what}"] = s
                    cells.append(fmt(s))
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
        lines.append("")
    large = [r["nav"]["large"] for r in runs if "large" in r.get("nav", {})]
    if large:
        lines += [f"| page ({args.large}, nav) | first progress | indicator | content | script done | idle | "
                  "browser busy | longest task |", "|---|---:|---|---:|---:|---:|---:|---:|"]
        silent: set[str] = set()
        for t in large[0]:
            cells = []
            kinds = sorted({v.get("progress_kind") or "none" for v in collect(large, t) if v})
            for what in ("progress", "content", "script_done", "idle", "long_tasks_s", "longest_task_s"):
                vals = [None if v is None else v.get(what) for v in collect(large, t)]
                s = summary(vals)
                summ[f"nav/{args.large}/{t}/{what}"] = s
                cells.append(fmt(s))
            cells.insert(1, ", ".join(kinds))
            for v in collect(large, t):  # busy after 1 s without a page-level indicator by then
                busy = v is None or v.get("idle") is None or v["idle"] > 1.0
                if busy and (v is None or v.get("progress") is None or v["progress"] > 1.0):
                    silent.add(t)
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
        lines.append("")
        status = [v.get("status") for r in large for v in r.values() if v]
        summ[f"{args.large}_busy_after_1s_without_progress"] = sorted(silent)
        lines.append(f"Busy after 1 s with no page-level progress indicator by then ({args.large}): "
                     f"{', '.join(sorted(silent)) or 'none'}. Streamlit's status widget (stStatusWidget) appeared "
                     f"on {sum(x is not None for x in status)} of {len(status)} visits.")
        lines.append("")
    return lines, summ


# --- server-side profile ---------------------------------------------------------------------------------------

def profile_pages(mol: str, pages: list[PageSpec], timeout: float, top: int = 15) -> dict:
    """Each page of ``pages`` once under cProfile in AppTest (after one router run that pays the imports)."""
    from streamlit.testing.v1 import AppTest
    from streamlit.testing.v1 import local_script_runner as lsr

    active: dict[str, cProfile.Profile | None] = {"prof": None}
    original = lsr.LocalScriptRunner._run_script_thread
    if not getattr(original, "_bench_wrapped", False):
        def _profiled(self) -> None:  # AppTest runs the script in its own thread: profile that thread
            prof = active["prof"]
            if prof is None:
                return original(self)
            prof.enable()
            try:
                return original(self)
            finally:
                prof.disable()
        _profiled._bench_wrapped = True  # type: ignore[attr-defined]
        _profiled._bench_active = active  # type: ignore[attr-defined]
        lsr.LocalScriptRunner._run_script_thread = _profiled
    else:
        active = original._bench_active  # type: ignore[attr-defined]
    result: dict = {}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.query_params["mol"] = mol
    t0 = time.perf_counter()
    at.run()
    result["router first run (imports, Home)"] = {"wall_s": round(time.perf_counter() - t0, 3)}
    for spec in [p for p in pages if p.title != "Home"] + [PAGES[0]]:
        prof = cProfile.Profile()
        active["prof"] = prof
        t0 = time.perf_counter()
        try:
            at.switch_page(page_path(spec)).run()
            error = [str(e.value)[:200] for e in at.exception] or None
        except Exception as exc:  # a timeout: record it, keep profiling the other pages
            error = [f"{type(exc).__name__}: {str(exc)[:200]}"]
        finally:
            active["prof"] = None
        wall = time.perf_counter() - t0
        result[spec.title] = dict(wall_s=round(wall, 3), error=error, **top_functions(prof, top))
        print(f"\n== profile {mol} {spec.title}: {wall:.2f} s" + (f" ERROR {error}" if error else ""))
        for row in result[spec.title]["cumulative"]:
            print(f"  {row['cum_s']:7.3f} cum {row['own_s']:7.3f} own {row['calls']:>8}  {row['function']}")
    return result


def _name(func: tuple) -> str:
    file, line, name = func
    for base in (str(ROOT) + "/", "site-packages/"):
        if base in file:
            file = file.split(base, 1)[1]
    return f"{file}:{line}({name})"


def top_functions(prof: cProfile.Profile, top: int) -> dict:
    """The ``top`` functions by cumulative and by own time; wrappers that hold (almost) the whole run (script
    runner, exec, the router and page modules) are left out of the cumulative list."""
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.values())  # own times add up to the profiled time
    wrappers = ("streamlit/runtime/scriptrunner", "streamlit/testing", "threading.py",
                "<built-in method builtins.exec>")
    rows = []
    for func, (_cc, nc, tt, ct, _callers) in stats.items():
        name = _name(func)
        rows.append({"function": name, "calls": nc, "own_s": round(tt, 4), "cum_s": round(ct, 4)})
    cum = [r for r in rows if not any(w in r["function"] for w in wrappers)
           and not r["function"].endswith("(<module>)") and "run_page" not in r["function"]
           and r["cum_s"] < 0.98 * total]
    cum.sort(key=lambda r: -r["cum_s"])
    own = sorted(rows, key=lambda r: -r["own_s"])
    return {"profiled_s": round(total, 3), "cumulative": cum[:top], "own": own[:10]}


# --- main -------------------------------------------------------------------------------------------------------

def select_pages(arg: str | None) -> list[PageSpec]:
    present = [p for p in PAGES if (ROOT / page_path(p)).is_file()]
    if not arg:
        return present
    wanted = {w.strip().lower().replace("_", " ") for w in arg.split(",")}
    return [p for p in present if p.title.lower() in wanted]


def timed(label: str, fn: Callable[[], None]) -> None:
    t0 = time.perf_counter()
    fn()
    print(f"[{label}: {time.perf_counter() - t0:.0f} s]", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="repeat every browser measurement N times")
    ap.add_argument("--sections", default="legacy,nav,url", help="comma list of legacy, nav, url")
    ap.add_argument("--pages", default="", help="page titles (default: every page of lsip.ui.common.PAGES)")
    ap.add_argument("--small", default="water", help="small gallery molecule for the page visits")
    ap.add_argument("--large", default="water_216", help="large gallery structure for nav ('' to skip)")
    ap.add_argument("--molecules", default="water,lih,benzene,glycine", help="legacy: Explore by URL")
    ap.add_argument("--pick", default="lih,hf,methanol,pyridine",
                    help="legacy: gallery molecules picked in the sidebar of the loaded Explore page")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds a page may take before it is given up")
    ap.add_argument("--profile", action="store_true", help="also profile every page script (AppTest + cProfile)")
    ap.add_argument("--profile-only", action="store_true", help="only the profile, no browser")
    ap.add_argument("--profile-timeout", type=float, default=600.0, help="seconds one profiled page may take")
    ap.add_argument("--profile-mols", default="", help="molecules to profile (default: --small and --large)")
    ap.add_argument("--report-only", action="store_true", help="print the tables of the browser runs in --out")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "app.json"))
    args = ap.parse_args()
    pages = select_pages(args.pages)
    out_path = Path(args.out)
    previous = json.loads(out_path.read_text()) if out_path.is_file() else {}
    if "browser" not in previous and "profile" not in previous:
        previous = {}  # the earlier flat format alone: replaced (its "rows" are rewritten from the legacy section)
    record = dict(previous)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "host_cpus": os.cpu_count(),
            "python": platform.python_version(), "load_avg_at_start": os.getloadavg(), "args": vars(args),
            "pages": [p.title for p in pages]}
    t_all = time.perf_counter()
    if args.report_only:
        browser = previous["browser"]
        for key in ("small", "large", "molecules", "pick"):
            setattr(args, key, browser["args"][key])
        print("\n".join(tables(browser["runs"], args)[0]))
        return
    if not args.profile_only:
        from playwright.sync_api import sync_playwright

        sections = [s.strip() for s in args.sections.split(",") if s.strip()]
        runs: list[dict] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            for rep in range(args.repeats):
                run: dict = {}
                for section, fn in (("legacy", run_legacy), ("nav", run_nav), ("url", run_url)):
                    if section in sections:
                        run[section] = {}
                        print(f"repeat {rep + 1}/{args.repeats}: {section}", flush=True)
                        timed(section, functools.partial(fn, browser, args, pages, run[section]))
                runs.append(run)
            browser.close()
        lines, summ = tables(runs, args)
        print("\n".join(lines))
        record["browser"] = dict(meta, load_avg_at_end=os.getloadavg(), runs=runs, summary=summ, table="\n".join(lines),
                                 wall_s=round(time.perf_counter() - t_all, 1))
        rows = legacy_rows(runs)
        if rows is not None:  # the earlier flat format, kept for benchmarks/plot_results.py
            record["date"], record["rows"] = meta["date"], rows
    if args.profile or args.profile_only:
        mols = [m for m in (args.profile_mols or f"{args.small},{args.large}").split(",") if m]
        t_prof = time.perf_counter()
        old = record.get("profile", {}).get("molecules", {})  # pages profiled earlier and not redone are kept
        molecules = {m: dict(old.get(m, {}), **profile_pages(m, pages, args.profile_timeout)) for m in mols}
        record["profile"] = dict(meta, molecules=dict(old, **molecules), wall_s=round(time.perf_counter() - t_prof, 1))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(record, indent=1, default=str))
    print(f"wrote {out_path} ({time.perf_counter() - t_all:.0f} s in all)")


if __name__ == "__main__":
    main()
