"""App latency measured with the browser harness of ``tests/browser`` (Debian chromium via playwright).

1. server start -> first rendered page with a drawn 3D molecule (Home);
2. opening Explore for a gallery molecule (URL ``?mol=KEY``) -> its results and 3D view drawn;
3. a widget re-run: changing the total charge in the sidebar -> results redrawn.

Usage: python benchmarks/bench_app.py [--molecules water,lih,benzene] [--out benchmarks/results/app.json]
Prints a table and writes JSON. Machines are shared: compare numbers from one run.
"""

from __future__ import annotations

import argparse
import json
import os
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
            rows["explore"] = {}
            for key in args.molecules.split(","):
                t1 = time.perf_counter()
                page.open(f"Explore?mol={key}")
                page.wait_for_molecule()
                rows["explore"][key] = time.perf_counter() - t1
            t2 = time.perf_counter()
            box = page.page.get_by_label("Total charge Q (e)")
            box.fill("1")
            box.press("Enter")
            page.page.wait_for_timeout(200)
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
        print(f"Explore {key:<16} {t:6.2f} s (page load + model + 3D drawn)")
    print(f"sidebar charge re-run    {rows['charge_rerun_s']:6.2f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
