"""App latency measured with the browser harness of ``tests/browser`` (Debian chromium via playwright).

1. server start -> first rendered page with a drawn 3D molecule (Home);
2. opening Explore for a gallery molecule (URL ``?mol=KEY``) -> its results and 3D view drawn;
3. picking gallery molecules in the sidebar of the loaded page -> their numbers shown;
4. a widget re-run: changing the total charge in the sidebar -> new numbers shown, view redrawn.

For 2 and 3 two times are kept: until the model's numbers (the energy tile) are on screen, and until the 3D
view is drawn and the page has been quiet for 0.5 s (the harness's idle criterion).

Usage: python benchmarks/bench_app.py [--molecules water,lih,benzene] [--out benchmarks/results/app.json]
Prints a table and writes JSON. Machines are shared: compare numbers from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from conftest import CHROMIUM, CHROMIUM_ARGS, AppPage, _wait_healthy, free_port  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--molecules", default="water,lih,benzene,glycine")
    ap.add_argument("--pick", default="lih,hf,methanol,pyridine",
                    help="gallery molecules picked in the sidebar of the loaded Explore page")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "app.json"))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = ROOT / "test-artifacts" / "bench-app-server.log"
    log.parent.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    rows: dict = {}
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        _wait_healthy(url, proc, log)
        rows["server_healthy_s"] = time.perf_counter() - t0
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = AppPage(browser.new_page(viewport={"width": 1400, "height": 1000}), url)
            page.open("")
            page.wait_for_molecule()
            rows["first_page_drawn_s"] = time.perf_counter() - t0
            rows["explore"], rows["explore_numbers"] = {}, {}
            metric = '[data-testid="stMetricValue"]'
            for key in args.molecules.split(","):
                t1 = time.perf_counter()
                page.page.goto(f"{url}/Explore?mol={key}", wait_until="domcontentloaded")
                page.page.wait_for_selector(metric, timeout=60_000)  # the model's numbers are on screen
                rows["explore_numbers"][key] = time.perf_counter() - t1
                page.wait_idle()
                page.wait_for_molecule()
                rows["explore"][key] = time.perf_counter() - t1
            # pick gallery molecules in the sidebar of the loaded page (no page load): the everyday interaction
            rows["pick_numbers"] = {}
            from lsip.gallery import load_gallery

            gallery = load_gallery()
            sidebar = page.page.locator('[data-testid="stSidebar"]')
            for key in args.pick.split(","):
                before = page.page.locator(metric).first.inner_text()
                sidebar.locator('[data-testid="stSelectbox"]').filter(
                    has_text=re.compile("Gallery structure")).click()
                page.page.keyboard.type(gallery[key].title)  # the list is virtualised: filter it, then pick
                option = page.page.get_by_role("option", name=re.compile(f"^{re.escape(gallery[key].title)} ")).first
                option.wait_for()
                t3 = time.perf_counter()  # from the click on the option (typing the filter is not counted)
                option.click()
                page.page.wait_for_function(
                    f"() => document.querySelector('{metric}') && "
                    f"document.querySelector('{metric}').innerText !== {before!r}", timeout=60_000)
                rows["pick_numbers"][key] = time.perf_counter() - t3
                page.wait_idle()
            energy_before = page.page.locator(metric).first.inner_text()
            t2 = time.perf_counter()
            box = page.page.get_by_label("Total charge Q (e)")
            box.fill("1")
            box.press("Enter")
            page.page.wait_for_function(  # the energy tile shows the cation's value
                f"() => document.querySelector('{metric}') && "
                f"document.querySelector('{metric}').innerText !== {energy_before!r}", timeout=60_000)
            rows["charge_rerun_numbers_s"] = time.perf_counter() - t2
            page.wait_idle()
            page.wait_for_molecule()
            rows["charge_rerun_s"] = time.perf_counter() - t2
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"server healthy           {rows['server_healthy_s']:6.2f} s")
    print(f"first page drawn         {rows['first_page_drawn_s']:6.2f} s (from launch)")
    for key, t in rows["explore"].items():
        print(f"Explore {key:<16} {rows['explore_numbers'][key]:6.2f} s to the numbers, {t:6.2f} s to the drawn 3D "
              "view (page load + model + 3D; the harness waits 0.5 s of quiet)")
    for key, t in rows["pick_numbers"].items():
        print(f"sidebar pick {key:<11} {t:6.2f} s to its numbers (no page load)")
    print(f"sidebar charge re-run    {rows['charge_rerun_numbers_s']:6.2f} s to the new numbers, "
          f"{rows['charge_rerun_s']:6.2f} s redrawn")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
