"""Screenshots of the app for the README and docs/ (docs/img/app-*.png), taken with the browser-test harness.

A water PBE0/def2-SVP reference is computed first into a temporary cache, so the Density and Charge-transfer
pages show DFT beside the model (they load cached references without a click). Run from the repository root::

    .venv/bin/python scripts/docs_screenshots.py [--out docs/img]

Needs Debian's chromium (``/usr/bin/chromium``), like the browser tests.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from conftest import CHROMIUM, CHROMIUM_ARGS, AppPage, _wait_healthy, free_port  # noqa: E402

#: (file name, URL path, minimum drawn pixels of the 3D view or 0 for pages without one)
SHOTS: tuple[tuple[str, str, int], ...] = (
    ("app-explore", "Explore?mol=water&q=0", 2000),
    ("app-charge-transfer", "Charge_transfer?mol=nacl&q=0", 2000),
    ("app-energy", "Energy?mol=formaldehyde&q=0", 2000),
    ("app-density", "Density?mol=water&q=0", 2000),
    ("app-scan", "Scan?mol=lif&q=0", 2000),
    ("app-library", "Latent_library?mol=water&q=0", 0),
    ("app-diagnostics", "Diagnostics?mol=water&q=0", 0),
    ("app-evaluate", "Evaluate?mol=water&q=0", 0),
    ("app-optimize", "Optimize?mol=water&q=0", 0),
    ("app-present", "Present?mol=water&q=0", 2000),
)
#: ``--tour``: every page for a small molecule, an ion and the 648-atom cluster (issue 14's "must show").
TOUR_MOLECULES: tuple[str, ...] = ("water", "ammonium", "water_216")
TOUR_PAGES: tuple[str, ...] = ("Home", "Explore", "Charge_transfer", "Energy", "Density", "Scan", "Latent_library",
                               "Diagnostics", "Evaluate", "Optimize", "Present")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"))
    ap.add_argument("--tour", action="store_true",
                    help="every page for water, ammonium and water_216 (tour-<page>-<molecule>.png) instead of the "
                         "docs set")
    args = ap.parse_args()
    shots = SHOTS if not args.tour else tuple(
        (f"tour-{page.lower()}-{mol}", f"{page}?mol={mol}", 0) for mol in TOUR_MOLECULES for page in TOUR_PAGES)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, LSIP_CACHE_DIR=cache, OMP_WAIT_POLICY="PASSIVE")
        subprocess.run([sys.executable, "-m", "lsip.cli", "reference", str(ROOT / "assets/gallery/water.xyz")],
                       check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats",
               "false", "--server.fileWatcherType", "none"]
        log = Path(cache) / "server.log"
        with log.open("w") as fh:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_healthy(url, proc, log)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
                for name, path, min_drawn in shots:
                    page = AppPage(browser.new_page(viewport={"width": 1400, "height": 1000}), url)
                    page.open(path, timeout_s=180)
                    if min_drawn:
                        page.wait_for_molecule(min_drawn=min_drawn, timeout_s=60)
                    page.page.wait_for_timeout(800)
                    target = out / f"{name}.png"
                    page.page.screenshot(path=str(target), full_page=args.tour)
                    print(f"wrote {target} ({target.stat().st_size / 1024:.0f} KB)")
                    page.page.close()
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
