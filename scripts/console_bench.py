"""Benchmarks of the console (not tests): a return validated in headless Chromium against the CLI on the same
machine, in the same run; the first result for a 2,000-child return; the site's size.

Usage: console_bench.py CAREGATE_BIN SITE_DIR WORK_DIR [RUNS]
The CLI is the baseline: `caregate validate --format json --output FILE` on the same file (the browser gives
the same report). The browser's time runs from the file given to `input#file` to `#summary` at
`data-state="done"` (the packs are compiled when the page loads, before a file is chosen; that load is
timed apart), with the longest worker's time in the engine and how many workers shared the return. Each
figure is the best of RUNS (default 3).
"""

import gzip
import subprocess
import sys
import time
from pathlib import Path

import console_browser as cb
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def cli_seconds(caregate, path, runs):
    best = None
    for _ in range(runs):
        started = time.perf_counter()
        run = subprocess.run([caregate, "validate", "--now", cb.NOW, "--format", "json", "--output",
                              str(Path(cb.WORK) / "bench-cli.json"), str(path)], capture_output=True)
        elapsed = time.perf_counter() - started
        if run.returncode not in (0, 1):
            raise SystemExit(run.stderr.decode())
        best = elapsed if best is None else min(best, elapsed)
    return best


def browser_seconds(driver, base, path, runs):
    """The best run's time, its engine's (the longest worker's) and how many workers shared it; the best page
    load."""
    best, ready, engine, shares = None, None, None, None
    for _ in range(runs):
        started = time.perf_counter()
        driver.get(base)
        WebDriverWait(driver, 60).until(lambda d: d.find_element(By.ID, "status").text.startswith("Ready"))
        load = time.perf_counter() - started
        ready = load if ready is None else min(ready, load)
        driver.execute_script("document.getElementById('now').value = arguments[0]", cb.NOW_DATE)
        started = time.perf_counter()
        driver.find_element(By.ID, "file").send_keys(str(Path(path).resolve()))
        summary = driver.find_element(By.ID, "summary")
        WebDriverWait(driver, 900, poll_frequency=0.02).until(
            lambda d: summary.get_attribute("data-state") in ("done", "failed"))
        elapsed = time.perf_counter() - started
        if summary.get_attribute("data-state") != "done":
            raise SystemExit("the page failed: " + summary.text)
        if best is None or elapsed < best:
            best = elapsed
            engine = int(summary.get_attribute("data-engine-ms") or 0) / 1000
            shares = int(summary.get_attribute("data-shares") or 0)
    return best, ready, engine, shares


def main():
    caregate, site, cb.WORK = sys.argv[1], sys.argv[2], sys.argv[3]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    work = Path(cb.WORK)
    work.mkdir(parents=True, exist_ok=True)
    big = work / "cin-10000.xml"
    first = work / "cin-2000-messy.xml"
    messy = work / "cin-10000-messy.xml"
    subprocess.run([caregate, "generate", "cin-census", "--count", "10000", "--seed", "10", "--output", str(big)],
                   check=True, capture_output=True)
    subprocess.run([caregate, "generate", "cin-census", "--count", "10000", "--seed", "10", "--profile", "messy",
                    "--output", str(messy)], check=True, capture_output=True)
    subprocess.run([caregate, "generate", "cin-census", "--count", "2000", "--seed", "5", "--profile", "messy",
                    "--output", str(first)], check=True, capture_output=True)

    import http.server, threading
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: cb.LoggingHandler(*a, directory=site, **k))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    driver = cb.browser()
    try:
        rows = []
        returns = (("CIN census, 10,000 children (clean)", big), ("CIN census, 10,000 children (messy)", messy),
                   ("CIN census, 2,000 children (messy)", first))
        for name, path in returns:
            cli = cli_seconds(caregate, path, runs)
            page, ready, engine, shares = browser_seconds(driver, base, path, runs)
            rows.append((name, path.stat().st_size, cli, page, ready, engine, shares))
    finally:
        driver.quit()
        server.shutdown()
    files = [p for p in Path(site).iterdir() if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    packed = sum(len(gzip.compress(p.read_bytes(), 9)) for p in files)
    print(f"best of {runs}; CLI: {caregate}")
    print("| return | bytes | CLI (s) | browser (s) | browser / CLI | workers | engine (s) | page ready (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, size, cli, page, ready, engine, shares in rows:
        print(f"| {name} | {size:,} | {cli:.2f} | {page:.2f} | {page / cli:.1f}x | {shares} | {engine:.2f} | "
              f"{ready:.2f} |")
    print(f"site: {len(files)} files, {total:,} bytes ({total / 1e6:.1f} MB); gzip -9 {packed:,} bytes "
          f"({packed / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
