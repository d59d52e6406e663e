"""A real browser reads the built site: headless Chromium, offline, from a local server.

It loads the home page, the scalar tier page (math), an architecture page when the gallery
exists, and the API reference; checks that the console has no errors, that the search box
finds a page, that MathML formulas and SVG diagrams are laid out with a size, and saves a
screenshot of each page (into ``$NNOTT_SCREENSHOT_DIR``, default ``build/docs-screenshots``).

Skips, naming the reason, where Chromium, its driver or selenium is missing
(Debian: ``apt-get install chromium chromium-driver``; ``pip install selenium``).
"""

from __future__ import annotations

import functools
import http.server
import os
import pathlib
import shutil
import threading
from collections.abc import Iterator

import pytest
from conftest import ROOT

CHROMIUM = os.environ.get("NNOTT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = (
    os.environ.get("NNOTT_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
)
SCREENSHOTS = pathlib.Path(
    os.environ.get("NNOTT_SCREENSHOT_DIR", ROOT / "build" / "docs-screenshots")
)

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(
        "Chromium and chromedriver are needed (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(site_dir: pathlib.Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def visit(browser, url: str, screenshot: str):
    """Load ``url``, save a screenshot, and return the console errors it logged."""
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(url)
    WebDriverWait(browser, 30).until(
        lambda driver: driver.execute_script("return document.readyState") == "complete"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{screenshot}.png"))
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def rendered_size(browser, selector: str) -> tuple[float, float]:
    """Width and height of the first element matching ``selector`` (0, 0 when none)."""
    return tuple(
        browser.execute_script(
            "const e = document.querySelector(arguments[0]);"
            "if (!e) return [0, 0]; const r = e.getBoundingClientRect();"
            "return [r.width, r.height];",
            selector,
        )
    )


def test_home_page_loads_without_errors_and_draws_its_diagram(browser, server) -> None:
    errors = visit(browser, server, "home")
    assert errors == []
    assert "nnott" in browser.title
    width, height = rendered_size(browser, "svg.nnott-diagram")
    assert width > 100 and height > 20


def test_the_search_box_finds_a_page(browser, server) -> None:
    visit(browser, server, "search-before")
    browser.find_element(By.CSS_SELECTOR, "label.md-search__icon, .md-search__input").click()
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    WebDriverWait(browser, 10).until(expected_conditions.element_to_be_clickable(box))
    box.send_keys("use_gpu")
    results = WebDriverWait(browser, 30).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, ".md-search-result__item")
    )
    assert results
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "search.png"))


def test_math_is_laid_out(browser, server) -> None:
    errors = visit(browser, server + "tiers/scalar/", "scalar-tier")
    assert errors == []
    width, height = rendered_size(browser, "div.arithmatex math")
    assert width > 50 and height > 10
    # A fraction laid out by the MathML engine is taller than one line of text.
    fraction = rendered_size(browser, "div.arithmatex mfrac")
    assert fraction[1] > 18


def test_an_architecture_page(browser, server, site_dir) -> None:
    pages = sorted((site_dir / "architectures").glob("*/index.html"))
    if not pages:
        pytest.skip("the architecture gallery is not built (nnott.cnn.architectures is missing)")
    name = pages[0].parent.name
    errors = visit(browser, server + f"architectures/{name}/", f"architecture-{name}")
    assert errors == []
    assert browser.find_elements(By.CSS_SELECTOR, "article h1")


def test_the_api_reference(browser, server) -> None:
    errors = visit(browser, server + "reference/backend/", "api-backend")
    assert errors == []
    assert browser.find_elements(By.ID, "nnott.backend.use_gpu")
