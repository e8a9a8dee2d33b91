"""The console in a real browser (Debian's headless Chromium through Selenium), as CI runs it.

1. The exported static site, served by a static server that logs every request, validates sample returns
   (made by `caregate generate`): `#summary` ends with `data-state="done"` and the counts of the CLI's JSON
   report for the same files; and the page asks for nothing but the site's own files (the server's log and
   Chrome's own log of network requests both say so).
2. `caregate serve` serves the same page at `/` (one return validated there too), and the gateway console at
   `/console`: it loads, shows the health figures, and an operator replays a dead letter and sees the audit
   chain verified.

Usage: console_browser.py CAREGATE_BIN SITE_DIR WORK_DIR
(CONSOLE_SCREENSHOT=FILE.png also saves a screenshot of the results page, as the README shows it.)
"""

import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

NOW_DATE = "2026-11-20"
NOW = NOW_DATE + "T12:00:00Z"  # what the page sends for a date picked in `#now`
FAILURES = []


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        FAILURES.append(message)


class LoggingHandler(http.server.SimpleHTTPRequestHandler):
    requested = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        LoggingHandler.requested.append(self.path)
        super().do_GET()

    def do_POST(self):
        LoggingHandler.requested.append("POST " + self.path)
        self.send_error(405)


LoggingHandler.extensions_map[".wasm"] = "application/wasm"
LoggingHandler.extensions_map[".js"] = "text/javascript"


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-default-apps"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def cli_counts(caregate, files, standard=None, params=()):
    out = Path(WORK) / f"cli-{uuid.uuid4().hex}.json"
    args = [caregate, "validate", "--now", NOW, "--format", "json", "--output", str(out)]
    if standard:
        args += ["--standard", standard]
    for name, value in params:
        args += ["--param", f"{name}={value}"]
    run = subprocess.run(args + [str(f) for f in files], capture_output=True, text=True)
    if run.returncode not in (0, 1):
        raise SystemExit(f"caregate validate failed: {run.stderr}")
    report = json.loads(out.read_text())
    return {s: sum(d["counts"][s] for d in report["documents"]) for s in ("error", "query", "warning")}


def page_counts(driver, url, files, standard=None, la_code=None, timeout=600, input_id="file"):
    driver.get(url)
    WebDriverWait(driver, 60).until(
        lambda d: d.find_element(By.ID, "status").text.startswith("Ready")
        or d.find_element(By.ID, "summary").get_attribute("data-state") == "unavailable")
    if driver.find_element(By.ID, "summary").get_attribute("data-state") == "unavailable":
        return None, 0.0, driver.find_element(By.ID, "status").text
    if standard:
        Select(driver.find_element(By.ID, "standard")).select_by_value(standard)
    if la_code:
        driver.find_element(By.ID, "la-code").send_keys(la_code)
    driver.execute_script("document.getElementById('now').value = arguments[0]", NOW_DATE)
    started = time.time()
    driver.find_element(By.ID, input_id).send_keys("\n".join(str(Path(f).resolve()) for f in files))
    summary = driver.find_element(By.ID, "summary")
    WebDriverWait(driver, timeout).until(lambda d: summary.get_attribute("data-state") in ("done", "failed"))
    elapsed = time.time() - started
    state = summary.get_attribute("data-state")
    if state != "done":
        return None, elapsed, summary.text
    counts = {s: int(summary.get_attribute(f"data-{s}s") or -1) for s in ("error", "querie", "warning")}
    counts["query"] = counts.pop("querie")
    return counts, elapsed, summary.text


def network_urls(driver):
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def results_are_paged_and_filtered(driver, base, cin):
    """A large result is drawn a page at a time; the filters narrow it; the rule and child tables lead to it."""
    got, _, _ = page_counts(driver, base, [cin])
    total = got["error"] + got["query"] + got["warning"]
    items = driver.find_elements(By.CSS_SELECTOR, "#findings > li")
    check(len(items) == min(100, total), f"{total} findings are drawn a page of {len(items)} at a time")
    driver.find_element(By.ID, "findings-next").click()
    start = driver.find_element(By.ID, "findings").get_attribute("start")
    check(start == "101", f"the next page starts at finding 101 (start={start})")
    check(bool(driver.find_elements(By.CSS_SELECTOR, "#findings pre.excerpt")), "findings show their lines")
    Select(driver.find_element(By.ID, "filter-severity")).select_by_value("query")
    shown = driver.find_element(By.ID, "findings-count").text
    check(shown.startswith(f"{got['query']} finding(s) shown"), f"the severity filter shows the queries: {shown!r}")
    Select(driver.find_element(By.ID, "filter-severity")).select_by_value("")
    first_rule = driver.find_element(By.CSS_SELECTOR, "#by-rule tbody tr")
    rule = first_rule.find_element(By.CSS_SELECTOR, "button").text
    listed = int(first_rule.find_elements(By.TAG_NAME, "td")[3].text.replace(",", ""))
    first_rule.find_element(By.CSS_SELECTOR, "button").click()
    shown = driver.find_element(By.ID, "findings-count").text
    check(shown.startswith(f"{listed} finding(s) shown"), f"choosing rule {rule} shows its {listed}: {shown!r}")
    child = driver.find_element(By.CSS_SELECTOR, "#by-child tbody tr button").text
    driver.find_element(By.ID, "filter-clear").click()
    driver.find_element(By.ID, "filter-child").send_keys(child)
    only = lambda d: all(child in li.text for li in d.find_elements(By.CSS_SELECTOR, "#findings > li"))
    try:
        WebDriverWait(driver, 10).until(only)
    except TimeoutException:
        pass
    check(only(driver), f"the child filter shows child {child}'s findings only")


def accessibility(driver, base, cin):
    """Labelled controls, keyboard reach, and 200 % zoom (a 1280-pixel window at 200 % is 640 CSS pixels wide)."""
    driver.set_window_size(640, 1000)
    try:
        got, _, _ = page_counts(driver, base, [cin])
        check(got is not None, "the page works in a 640-pixel window (1280 at 200 % zoom)")
        unlabelled = driver.execute_script("""
            return Array.from(document.querySelectorAll('input, select, button'))
              .filter(e => !e.closest('[hidden]'))
              .filter(e => e.tagName === 'BUTTON' ? !(e.textContent.trim() || e.getAttribute('aria-label'))
                                                  : e.labels.length === 0)
              .map(e => e.id || e.outerHTML.slice(0, 60));""")
        check(not unlabelled, f"every control has a label: {unlabelled}")
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        check(overflow <= 0, f"at 200 % zoom nothing runs off the side of the page ({overflow} px)")
        # Keyboard: pressing Tab from the top of the page reaches the file input, the filters and the downloads.
        driver.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
        reached = []
        for _ in range(80):
            ActionChains(driver).send_keys(Keys.TAB).perform()
            reached.append(driver.execute_script("return document.activeElement.id"))
        check({"file", "standard", "filter-severity", "filter-rule", "filter-child", "download-csv"} <= set(reached),
              f"the controls are reachable with Tab: {sorted(set(filter(None, reached)))}")
        if SCREENSHOT:
            driver.set_window_size(1280, 1400)
            page_counts(driver, base, [cin])
            driver.execute_script("document.getElementById('results').scrollIntoView()")
            driver.save_screenshot(SCREENSHOT)
            print(f"screenshot: {SCREENSHOT}")
    finally:
        driver.set_window_size(1280, 1000)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shared_between_workers(caregate, driver, url, big):
    """A census return past the page's sharing size: checked by every worker the browser's cores allow, one
    part of the file each, with the CLI's counts."""
    expected = cli_counts(caregate, [big])
    got, seconds, _ = page_counts(driver, url, [big])
    shares = int(driver.find_element(By.ID, "summary").get_attribute("data-shares") or 0)
    cores = driver.execute_script("return navigator.hardwareConcurrency || 1")
    check(got == expected, f"{url.split(':')[0]}: a return shared by {shares} workers: page {got} == CLI {expected} "
                           f"({seconds:.1f} s)")
    check(shares == max(1, min(3, cores)), f"the return was shared by one worker a core ({shares}, {cores} cores)")


def static_site(caregate, site, driver):
    site_files = {p.name for p in Path(site).iterdir()}
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: LoggingHandler(*a, directory=site, **k))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"

    samples = Path(WORK) / "samples"
    samples.mkdir(parents=True, exist_ok=True)
    cin = samples / "cin-messy.xml"
    subprocess.run([caregate, "generate", "cin-census", "--count", "500", "--seed", "19", "--profile", "messy",
                    "--output", str(cin)], check=True, capture_output=True)
    # Past the size the page shares between its workers (one engine each, a part of the file each).
    big = samples / "cin-messy-2000.xml"
    subprocess.run([caregate, "generate", "cin-census", "--count", "2000", "--seed", "23", "--profile", "messy",
                    "--output", str(big)], check=True, capture_output=True)
    tables = samples / "ssda903"
    subprocess.run([caregate, "generate", "ssda903@2025-26", "--count", "200", "--seed", "19", "--invalid-rate",
                    "0.3", "--output", str(tables)], check=True, capture_output=True)
    table_files = sorted(tables.glob("*.csv"))
    referral = Path("schemas/referral/1.0/examples/invalid/REF-005.xml")
    cases = [
        ("CIN census return, recognised", [cin], None, None),
        ("SSDA903 tables, standard chosen, council code", table_files, "ssda903@2025-26", "E09000027"),
        ("a referral and the census return together", [referral, cin], None, None),
    ]
    for name, files, standard, la_code in cases:
        expected = cli_counts(caregate, files, standard, [("la_code", la_code)] if la_code else [])
        got, seconds, text = page_counts(driver, base, files, standard, la_code)
        check(got == expected, f"static site, {name}: page {got} == CLI {expected} ({seconds:.1f} s)")
    shared_between_workers(caregate, driver, base, big)

    # The tables' folder chosen whole (a README beside them is left out).
    (tables / "README.txt").write_text("not a table\n")
    expected = cli_counts(caregate, table_files, "ssda903@2025-26", [("la_code", "E09000027")])
    got, seconds, _ = page_counts(driver, base, [tables], "ssda903@2025-26", "E09000027", input_id="folder")
    check(got == expected, f"static site, SSDA903 tables as a folder: page {got} == CLI {expected} ({seconds:.1f} s)")
    results_are_paged_and_filtered(driver, base, cin)

    # The same site opened from a file share (file://), where the page can fetch nothing and loads its
    # engine from caregate-offline.js instead.
    expected = cli_counts(caregate, [cin])
    got, seconds, text = page_counts(driver, Path(site).resolve().as_uri() + "/index.html", [cin])
    check(got == expected, f"static site from file://: page {got} == CLI {expected} ({seconds:.1f} s) {text if got is None else ''}")
    shared_between_workers(caregate, driver, Path(site).resolve().as_uri() + "/index.html", big)
    accessibility(driver, base, cin)
    urls = network_urls(driver)
    own = Path(site).resolve().as_uri() + "/"
    foreign = [u for u in urls
               if not (u.startswith(base) or u.startswith(own) or u.startswith("blob:") or u.startswith("data:"))]
    check(not foreign, f"the page asked for nothing outside the site ({len(urls)} requests): {foreign}")
    asked = {p.split("?")[0].lstrip("/") or "index.html" for p in LoggingHandler.requested}
    check(asked <= site_files, f"the server was asked only for the site's files: {sorted(asked)}")
    check(not any(p.startswith("POST") for p in LoggingHandler.requested), "the page sent nothing (no POST)")
    server.shutdown()
    return cin


def gateway(caregate, driver, cin):
    data = Path(WORK) / "gateway-data"
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    dead_port = free_port()  # nothing listens here: every push to it fails
    tokens = {"admin": uuid.uuid4().hex, "201": uuid.uuid4().hex, "POL01": uuid.uuid4().hex}
    sha = lambda t: "sha256:" + hashlib.sha256(t.encode()).hexdigest()
    config = Path(WORK) / "gateway.toml"
    config.write_text(f"""listen = "127.0.0.1:{port}"
admin_token_hash = "{sha(tokens['admin'])}"

[store]
data = "{data}"

[delivery]
max_attempts = 2
base_delay_ms = 20
max_delay_ms = 50
timeout_ms = 500

[[organisations]]
code = "201"
name = "Demo Borough Council children's services"
role = "social-care"

[[organisations]]
code = "POL01"
name = "Demo Police"
role = "police"
delivery = "push"
push_url = "http://127.0.0.1:{dead_port}/inbox"

[[senders]]
organisation = "201"
token_hash = "{sha(tokens['201'])}"
standards = ["referral@1.0"]
recipients = ["POL01"]

[[senders]]
organisation = "POL01"
token_hash = "{sha(tokens['POL01'])}"
standards = ["referral@1.0"]
recipients = ["201"]
""")
    server = subprocess.Popen([caregate, "serve", "--config", str(config)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        server.stdout.readline()
        base = f"http://127.0.0.1:{port}"

        def call(method, path, token, body=None):
            request = urllib.request.Request(base + path, method=method, data=body)
            request.add_header("Authorization", f"Bearer {token}")
            request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status, json.loads(response.read() or b"null")
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read() or b"null")

        envelope = json.loads(Path("schemas/envelope/1.0/examples/valid/full.json").read_text())
        envelope["messageId"] = str(uuid.uuid4())
        envelope["sender"]["organisation"] = "201"
        envelope["recipients"] = [{"organisation": "POL01", "role": "police"}]
        status, body = call("POST", "/v1/messages", tokens["201"], json.dumps(envelope).encode())
        check(status == 202, f"a message to a recipient that cannot be reached is accepted ({status} {body})")
        message = body["id"]
        for _ in range(200):
            status, dead = call("GET", "/v1/admin/dead-letters", tokens["admin"])
            if dead and dead.get("deadLetters"):
                break
            time.sleep(0.1)
        check(bool(dead.get("deadLetters")), "its copy became a dead letter")

        # The validation page at `/` on the gateway, as on the static site.
        expected = cli_counts(caregate, [cin])
        got, seconds, _ = page_counts(driver, base + "/", [cin])
        check(got == expected, f"`caregate serve` at /: page {got} == CLI {expected} ({seconds:.1f} s)")

        driver.get(base + "/console")
        health = driver.find_element(By.ID, "health")
        WebDriverWait(driver, 30).until(lambda d: health.get_attribute("data-state") == "done")
        check("OK" in health.text, f"/console shows the health figures: {health.text!r}")
        driver.find_element(By.ID, "token").send_keys(tokens["admin"])
        driver.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
        WebDriverWait(driver, 30).until(
            lambda d: d.find_element(By.ID, "dead").get_attribute("data-count") not in (None, "", "0"))
        buttons = driver.find_elements(By.CSS_SELECTOR, "#dead button.replay")
        check(any(b.get_attribute("data-id") == message for b in buttons), "the dead letter is listed with Replay")
        next(b for b in buttons if b.get_attribute("data-id") == message).click()
        WebDriverWait(driver, 30).until(lambda d: "Replayed" in d.find_element(By.ID, "dead-status").text
                                        or "Not replayed" in d.find_element(By.ID, "dead-status").text)
        text = driver.find_element(By.ID, "dead-status").text
        check(text.startswith(f"Replayed {message} to POL01"), f"the operator replays it: {text!r}")
        WebDriverWait(driver, 30).until(
            lambda d: d.find_element(By.ID, "audit").get_attribute("data-state") not in (None, "", "idle"))
        audit = driver.find_element(By.ID, "audit")
        check(audit.get_attribute("data-state") == "intact" and audit.text.startswith("Intact: "),
              f"the operator sees the audit chain verified: {audit.text!r}")

        # An organisation signs in and sees its message's recipients.
        driver.get(base + "/console")
        driver.find_element(By.ID, "token").send_keys(tokens["201"])
        driver.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "who").get_attribute("data-role"))
        check(driver.find_element(By.ID, "who").get_attribute("data-role") == "organisation",
              "an organisation's token signs in as the organisation")
        driver.find_element(By.ID, "message-id").send_keys(message)
        driver.find_element(By.CSS_SELECTOR, "#lookup button[type=submit]").click()
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#recipients tbody tr"))
        row = driver.find_element(By.CSS_SELECTOR, "#recipients tbody tr").text
        check(row.startswith("POL01"), f"the message's recipient and state are shown: {row!r}")
    finally:
        server.terminate()
        server.wait(timeout=30)


SCREENSHOT = os.environ.get("CONSOLE_SCREENSHOT")


def main():
    global WORK
    caregate, site, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
    caregate = os.path.abspath(caregate)
    driver = browser()
    try:
        cin = static_site(caregate, site, driver)
        gateway(caregate, driver, cin)
    finally:
        driver.quit()
    if FAILURES:
        print(f"console-check: {len(FAILURES)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("console-check: every check passed")


if __name__ == "__main__":
    main()
