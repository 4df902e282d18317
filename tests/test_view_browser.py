"""`harness view` in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium): the served
page (a real `harness view` process) and the exported file, with no console errors, the leaderboard showing
the run, a click on a problem showing its samples, budget markers on a truncated sample, the repetition loop,
an entropy-analysed run's coloured tokens, a forced answer drawn at its cut, and hostile model text shown as text, never run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from harness.cli import main
from tests import view_runs
from tests.proc_tree import wait_until

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
WAIT = 180  # seconds: the backstop of every wait below, each of which ends as soon as its condition holds

if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip(
        "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def built(tmp_path_factory, data_dir):  # noqa: ARG001 (data_dir sets HARNESS_DATA_DIR)
    return view_runs.constructed_results(tmp_path_factory.mktemp("view"))


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def served(built):
    """A real `harness view` process on a free port; the test waits on its socket, never on a sleep."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "view", str(built["results"]), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    url = f"http://127.0.0.1:{port}/"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    # Waits on the page answering (or the process ending); WAIT is only the backstop.
    assert wait_until(lambda: answers() or proc.poll() is not None, WAIT), "harness view did not come up"
    assert proc.poll() is None, proc.communicate()
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def exported(built):
    out = built["results"].parent / "report.html"
    assert main(["view", str(built["results"]), "--export", str(out)]) == 0
    return out.as_uri()


def console_errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def wait_for(driver, css: str, count: int = 1):
    WebDriverWait(driver, WAIT).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, css)) >= count)
    return driver.find_elements(By.CSS_SELECTOR, css)


def open_page(driver, url: str, fragment: str = "") -> None:
    driver.get(url + fragment)
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script("return document.readyState") == "complete")


@pytest.fixture(params=["served", "exported"])
def page_url(request):
    return request.getfixturevalue(request.param)


def test_leaderboard_problem_samples_and_budget_markers(browser, page_url, built):
    run_a, run_b = built["run_a"], built["run_b"]
    browser.get_log("browser")  # start from an empty log
    open_page(browser, page_url)
    rows = wait_for(browser, "#leaderboard tr.lb-row", 4)  # 2 runs x 2 budgets
    assert {r.get_attribute("data-run") for r in rows} == {run_a, run_b}
    assert "tiny-a" in browser.find_element(By.ID, "leaderboard").text
    next(r for r in rows if r.get_attribute("data-run") == run_a).click()
    wait_for(browser, "a.problem-link")[0].click()  # 2024-I-1
    samples = wait_for(browser, "#samples tr.sample-row", 3)
    assert [s.get_attribute("data-idx") for s in samples] == ["0", "1", "2"]
    assert "loop" in samples[0].text and "truncated" in samples[0].text

    samples[1].click()  # hostile HTML, correct at 600 tokens, truncated at 16
    chain = wait_for(browser, "#chain")[0]
    cuts = chain.find_elements(By.CSS_SELECTOR, ".cut")
    assert [c.get_attribute("data-budget") for c in cuts] == [str(view_runs.CUT_BUDGET)]
    # the forced answer at that cut: drawn after its marker, apart from the sample's own text
    (forced,) = chain.find_elements(By.CSS_SELECTOR, ".forced-tail")
    assert forced.get_attribute("data-budget") == str(view_runs.CUT_BUDGET)
    assert forced.get_attribute("textContent") == view_runs.FORCED_TAIL
    own = chain.get_attribute("textContent").replace(cuts[0].get_attribute("textContent"), "")
    assert view_runs.HOSTILE in own.replace(view_runs.FORCED_TAIL, "")  # shown as text ...
    assert browser.execute_script("return window.__pwned === undefined")  # ... and never run
    table = browser.find_element(By.ID, "budgets").text
    assert "truncated" in table and "correct" in table
    assert browser.find_element(By.CSS_SELECTOR, "#budgets .forced-verdict .b-correct").text == "correct"

    assert len(browser.find_elements(By.CSS_SELECTOR, ".entropy-chain .tok")) == 121  # every response token
    assert console_errors(browser) == []


def test_loop_think_and_unextracted_answer_flags(browser, page_url, built):
    run_a = built["run_a"]
    browser.get_log("browser")
    open_page(browser, page_url, f"#/sample/{run_a}/aime24/2024-I-1/0")
    wait_for(browser, "#chain .loop-start")
    assert "repetition loop" in browser.find_element(By.ID, "main").text
    tokens = browser.find_elements(By.CSS_SELECTOR, ".entropy-chain .tok")  # the entropy-analysed run, coloured
    assert len(tokens) == view_runs.GEN_BUDGET
    assert all("background" in t.get_attribute("style") for t in tokens[:50])
    top = browser.find_elements(By.CSS_SELECTOR, ".entropy-chain .tok.top")
    assert 0 < len(top) < len(tokens)  # this chain holds most of the run's top-20 % tokens
    assert browser.find_elements(By.CSS_SELECTOR, ".entropy-chain .cut[data-budget='16']")
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.forking tr")) > 2
    open_page(browser, page_url, f"#/sample/{run_a}/aime24/2024-I-2/0")
    wait_for(browser, "#chain details.think")
    assert "think not closed" in browser.find_element(By.ID, "budgets").text
    open_page(browser, page_url, f"#/sample/{run_a}/aime24/2024-I-2/1")
    wait_for(browser, "#chain")
    assert "answer-like text, not extracted" in browser.find_element(By.ID, "budgets").text
    assert console_errors(browser) == []


def test_heatmap_curve_compare_entropy(browser, page_url, built):
    browser.get_log("browser")
    open_page(browser, page_url, "#/heatmap")
    cells = wait_for(browser, "#heatmap td.cell", 4)
    assert sorted(c.text for c in cells) == ["1/3", "2/3", "3/3", "3/3"]  # run A: 2 of 3 and 1 of 3 at 600 tokens
    cells[0].click()
    wait_for(browser, "#samples tr.sample-row", 3)
    open_page(browser, page_url, "#/curve")
    wait_for(browser, "svg.curve polyline", 2)
    open_page(browser, page_url, "#/compare?a=tiny-a&b=tiny-b")
    assert "tiny-b better" in wait_for(browser, "#compare tr", 3)[1].text
    open_page(browser, page_url, "#/entropy")
    wait_for(browser, "table.forking tr", 2)
    img = wait_for(browser, "#main img")[0]
    WebDriverWait(browser, WAIT).until(lambda d: d.execute_script("return arguments[0].complete", img))
    assert browser.execute_script("return arguments[0].naturalWidth", img) > 0  # the histogram loaded
    assert console_errors(browser) == []


def test_export_needs_no_network_and_states_its_caps(browser, exported):
    open_page(browser, exported)
    wait_for(browser, "#leaderboard tr.lb-row")
    caps = browser.find_element(By.ID, "caps")
    assert caps.is_displayed() and "at most 4 sample(s) per problem" in caps.text
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(u.startswith(("data:", "file:")) for u in urls), urls
