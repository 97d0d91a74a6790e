"""The status page in a real headless Chromium (Debian's, driven by its chromedriver), served by the console
script polling the fake Connect: no console errors, no CSP violations, nothing from Connect runs, the
filter and the folded traces work, and the page follows Connect without reloading."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.fake_connect import FakeConnect, Fault, task
from tests.server_process import CONSOLE_SCRIPT, ServerProcess
from tests.waiting import wait_until

TRACE = (
    "org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask due to unrecoverable exception.\n"
    "\tat org.apache.kafka.connect.runtime.WorkerSinkTask.deliverMessages(WorkerSinkTask.java:636)\n"
    "Caused by: org.apache.kafka.common.errors.SerializationException: Unrecognized token 'hello'\n"
    "\t... 13 more"
)
# Each would set window.pwned if the page ever let it run.
HOSTILE_NAMES = (
    "<script>window.pwned = 'name'</script>",
    '"><img src=x onerror="window.pwned = \'attribute\'">',
    "'><svg onload=window.pwned='svg'>",
)
HOSTILE_TRACE = (
    "java.lang.Exception: <img src=x onerror=\"window.pwned='trace'\">\n</pre><script>window.pwned=1</script>"
)
# Recorded from before the page's own code runs; a script added this way is not subject to the page's CSP.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline'));
});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Debian's headless Chromium through Debian's chromedriver; nothing is downloaded."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail("chromium and chromedriver are missing: `make browser-deps` installs the Debian packages")
    options = Options()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=DriverService(executable_path=driver))
    chrome.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS})
    yield chrome
    chrome.quit()


@pytest.fixture
def page(browser: WebDriver) -> Iterator[WebDriver]:
    """The browser with an empty console; left on a blank page, so no refresh outlives the test's server."""
    browser.get_log("browser")
    yield browser
    browser.get("about:blank")
    browser.get_log("browser")


@pytest.fixture(scope="module")
def fake_and_server() -> Iterator[tuple[FakeConnect, ServerProcess]]:
    """One fake and one console script for the module (a gunicorn stop waits out the browser's keep-alive
    connections): the script polls every 0.2 s, so the page refreshes every second; it restarts a FAILED
    connector once, then not for 10 minutes (the page shows the decision)."""
    fake = FakeConnect().start()
    command = [CONSOLE_SCRIPT, "--host", "127.0.0.1", "--port", "{port}", "--poll-interval", "0.2"]
    command += ["--auto-restart", "true", "--restart-backoff", "600"]
    with ServerProcess(command, env={"HEALTHCHECK_CONNECT_URL": fake.url}) as process:
        yield fake, process
    fake.stop()


@pytest.fixture
def connect(fake_and_server: tuple[FakeConnect, ServerProcess]) -> FakeConnect:
    """The module's fake, emptied and without faults."""
    fake = fake_and_server[0]
    fake.clear()
    fake.fault = None
    return fake


@pytest.fixture
def server(fake_and_server: tuple[FakeConnect, ServerProcess]) -> ServerProcess:
    """The module's console script."""
    return fake_and_server[1]


def open_status(page: WebDriver, server: ServerProcess, connect: FakeConnect, state: str) -> None:
    """Open the page once the server has polled what the fake holds now (not a previous test's connectors)."""
    fake = requests.get(connect.url + "/connectors", timeout=2).json()
    wait_until(
        lambda: sorted(c["name"] for c in server.get("/connectors").json().get("connectors", [])) == sorted(fake),
        what="the server to poll the fake's connectors",
    )
    page.get(server.url + "/status")
    wait_until(lambda: snapshot_state(page) == state, what=f"the page to show {state}")


def snapshot_state(page: WebDriver) -> str | None:
    return page.execute_script("var s = document.getElementById('snapshot'); return s && s.dataset.state;")


def checked_at(page: WebDriver) -> str | None:
    return page.execute_script("var s = document.getElementById('snapshot'); return s && s.dataset.checkedAt;")


def wait_for_refresh(page: WebDriver) -> None:
    before = checked_at(page)
    wait_until(lambda: checked_at(page) not in (None, before), what="the page to refresh itself")


def problems(page: WebDriver) -> list[str]:
    """Console errors and warnings, and CSP violations, since the last call."""
    logged = [f"{e['level']}: {e['message']}" for e in page.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    return logged + page.execute_script("return window.cspViolations || [];")


def visible_names(page: WebDriver) -> list[str]:
    """The names the filter leaves shown, read in one go (a refresh may swap the page between two reads)."""
    return page.execute_script(
        "return Array.from(document.querySelectorAll('tbody.connector'))"
        ".filter(function (row) { return row.offsetParent !== null; })"
        ".map(function (row) { return row.querySelector('.name').textContent; });"
    )


def test_the_page_loads_and_refreshes_without_errors(connect: FakeConnect, server, page) -> None:
    connect.set_connector("orders-sink", tasks=[task(0), task(1)])
    connect.set_connector("payments-source", type="source")
    open_status(page, server, connect, "healthy")
    wait_for_refresh(page)
    assert problems(page) == []
    assert page.title == "HEALTHY · Kafka Connect health"
    assert page.find_element(By.CSS_SELECTOR, ".headline").text == "PASS Healthy"
    assert visible_names(page) == ["orders-sink", "payments-source"]
    badges = [b.text for b in page.find_elements(By.CSS_SELECTOR, "tbody.connector .badge")]
    assert badges == ["RUNNING", "0 RUNNING", "1 RUNNING", "RUNNING", "0 RUNNING"]
    links = [a.get_attribute("href") for a in page.find_elements(By.CSS_SELECTOR, "nav a")]
    assert links == [server.url + path for path in ("/", "/connectors", "/metrics")]


def test_the_violation_check_sees_what_the_policy_blocks(connect: FakeConnect, server, page) -> None:
    """The check above is worth something: an inline script the page did not ship is blocked and reported."""
    open_status(page, server, connect, "healthy")
    page.execute_script(
        "var s = document.createElement('script'); s.textContent = 'window.ran = 1'; document.body.appendChild(s);"
    )
    assert page.execute_script("return window.ran;") is None
    found = problems(page)
    assert any("script-src" in problem for problem in found), found


def test_nothing_from_connect_runs(connect: FakeConnect, server, page) -> None:
    for name in HOSTILE_NAMES:
        connect.set_connector(name, tasks=[task(0, "FAILED", worker_id=name, trace=HOSTILE_TRACE)])
    open_status(page, server, connect, "failing")
    for summary in page.find_elements(By.CSS_SELECTOR, "details summary"):
        summary.click()
    wait_for_refresh(page)  # the refresh parses fetched HTML too
    assert page.execute_script("return window.pwned;") is None
    assert problems(page) == []  # escaped, nothing even tried to run (which the policy would have reported)
    assert page.find_elements(By.CSS_SELECTOR, "main img, main script, main svg [onload]") == []
    assert sorted(visible_names(page)) == sorted(HOSTILE_NAMES)
    traces = [e.get_property("textContent") for e in page.find_elements(By.CSS_SELECTOR, "details pre")]
    assert traces == [HOSTILE_TRACE] * 3


def test_the_filter_narrows_the_list_and_survives_refreshes(connect: FakeConnect, server, page) -> None:
    connect.set_connector("orders-sink")
    connect.set_connector("orders-source", type="source")
    connect.set_connector("payments-sink", tasks=[task(0, "FAILED", trace=TRACE)])
    open_status(page, server, connect, "failing")
    assert visible_names(page) == ["payments-sink", "orders-sink", "orders-source"]  # failing first
    box = page.find_element(By.ID, "filter")
    box.send_keys("orders")
    assert visible_names(page) == ["orders-sink", "orders-source"]
    box.send_keys(" source")
    assert visible_names(page) == ["orders-source"]
    wait_for_refresh(page)
    assert visible_names(page) == ["orders-source"] and box.get_attribute("value") == "orders source"
    box.clear()
    box.send_keys("serializationexception")  # the cause line is searchable too
    assert visible_names(page) == ["payments-sink"]
    box.clear()
    box.send_keys("no-such-connector")
    assert visible_names(page) == [] and page.find_element(By.ID, "no-match").is_displayed()
    page.get(server.url + "/status#filter=orders-sink")  # a link can carry the filter
    wait_until(lambda: visible_names(page) == ["orders-sink"], what="the filter from the address")
    assert problems(page) == []


def test_a_failing_connectors_trace_unfolds_and_stays_open(connect: FakeConnect, server, page) -> None:
    connect.set_connector("payments-sink", tasks=[task(0), task(1, "FAILED", trace=TRACE)])
    open_status(page, server, connect, "failing")
    cause = page.find_element(By.CSS_SELECTOR, ".cause").text
    assert cause == "org.apache.kafka.common.errors.SerializationException: Unrecognized token 'hello'"
    trace = page.find_element(By.CSS_SELECTOR, "details pre")
    assert not trace.is_displayed()
    page.find_element(By.CSS_SELECTOR, "details summary").click()
    assert trace.is_displayed() and trace.get_property("textContent") == TRACE
    wait_for_refresh(page)
    reopened = page.find_element(By.CSS_SELECTOR, "details pre")  # a new element: main was swapped
    assert reopened.is_displayed() and reopened.get_property("textContent") == TRACE
    wait_until(lambda: re.match(r"1 attempt; next \d{4}-\d\d-\d\d ", restart_cell(page)), what="the restart")
    assert problems(page) == []


def restart_cell(page: WebDriver) -> str:
    """The first connector's Auto-restart cell, as a person reads it."""
    return page.execute_script(
        "var cell = document.querySelector('tbody.connector tr td:nth-child(5)'); return cell ? cell.innerText : '';"
    )


def test_the_refresh_follows_connect_without_reloading(connect: FakeConnect, server, page) -> None:
    connect.set_connector("orders-sink")
    open_status(page, server, connect, "healthy")
    page.execute_script("window.sameDocument = true;")
    connect.set_connector("orders-sink", tasks=[task(0, "FAILED", trace=TRACE)])
    wait_until(lambda: snapshot_state(page) == "failing", what="the failure to show")
    assert page.title == "UNHEALTHY (1 failing) · Kafka Connect health"
    with connect.faulty(Fault(status=500)):
        wait_until(lambda: snapshot_state(page) == "poll-error", what="the poll error to show")
        assert "Connect unreachable" in page.find_element(By.CSS_SELECTOR, ".headline").text
    connect.set_connector("orders-sink")
    wait_until(lambda: snapshot_state(page) == "healthy", what="the recovery to show")
    assert page.execute_script("return window.sameDocument;") is True
    timeline = page.find_element(By.CSS_SELECTOR, ".timeline svg").get_attribute("aria-label")
    assert "with failures" in timeline and "0 that could not read Connect" not in timeline
    assert problems(page) == []


def test_a_thousand_connectors_stay_usable(connect: FakeConnect, server, page) -> None:
    for i in range(1000):
        failed = i % 50 == 0
        connect.set_connector(f"connector-{i:04d}", tasks=[task(0, "FAILED" if failed else "RUNNING", trace=TRACE)])
    open_status(page, server, connect, "failing")
    assert len(server.get("/status").content) < 1_000_000
    assert len(page.find_elements(By.CSS_SELECTOR, "tbody.connector")) == 1000
    page.find_element(By.ID, "filter").send_keys("connector-0999")
    assert visible_names(page) == ["connector-0999"]
    assert problems(page) == []


def test_screenshots_of_the_healthy_and_failing_page(connect: FakeConnect, server, page, tmp_path: Path) -> None:
    """Pictures for people (`make screenshots` writes them to docs/); here, proof the page draws."""
    target = Path(os.environ.get("STATUS_PAGE_SCREENSHOTS", tmp_path))
    connect.set_connector("orders-sink", tasks=[task(0), task(1), task(2)])
    connect.set_connector("inventory-source", type="source", tasks=[task(0), task(1)])
    connect.set_connector("audit-sink", state="PAUSED", tasks=[task(0, "PAUSED")])
    open_status(page, server, connect, "healthy")
    shoot(page, target / "status-page-healthy.png")
    connect.set_connector("payments-sink", tasks=[task(0), task(1, "FAILED", trace=TRACE)])
    wait_until(lambda: snapshot_state(page) == "failing", what="the failure to show")
    page.find_element(By.CSS_SELECTOR, "details summary").click()
    shoot(page, target / "status-page-failing.png")
    assert problems(page) == []


def shoot(page: WebDriver, path: Path) -> None:
    height: Any = page.execute_script("return document.documentElement.scrollHeight;")
    metrics = {"width": 1280, "height": min(int(height), 1600), "deviceScaleFactor": 1, "mobile": False}
    page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)  # the whole page, not the window
    try:
        assert page.save_screenshot(str(path))
    finally:
        page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
