"""The documentation site works in a real browser.

The site is built offline (nbdev's processing + nbconvert: `tools/docs.py --offline`, the route of machines without
Quarto) into a temporary folder, opened from file:// in headless Chromium driven by selenium through Debian's
chromium-driver, and navigated by clicking its sidebar, as a reader would.
"""
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlparse

import pytest
from filelock import FileLock

from conftest import ROOT, run

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
HOW = "`make setup` installs them (Debian packages chromium and chromium-driver; selenium from the dev extra)"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    "The built site's folder; the build must succeed and say which route it took. Built once, shared by xdist workers."
    nbs = ROOT / "nbs"  # notebooks of the build (others may appear while it runs); nbdev skips names starting with _ or .
    notebooks = [p for p in nbs.rglob("*.ipynb") if not any(s[0] in "_." for s in p.relative_to(nbs).parts)]
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"): base = base.parent  # the session's folder, common to its workers
    out = base / "docs-site"
    with FileLock(str(base / "docs-site.lock")):
        if not (out / "index.html").is_file():
            r = run([sys.executable, ROOT / "tools" / "docs.py", "--offline", "--out", out], timeout=600)
            assert r.returncode == 0, r.stdout + r.stderr
            assert "docs: --offline given; built offline with nbdev-proc-nbs + nbconvert" in r.stdout, r.stdout
    return SimpleNamespace(dir=out, notebooks=notebooks)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    "Headless Chromium under selenium; missing pieces fail the test (they are part of the set-up), never skip it."
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing: pytest.fail(f"missing {', '.join(missing)}: {HOW}", pytrace=False)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(f"selenium is not installed in the venv: {HOW}", pytrace=False)
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--window-size=1200,900",
              f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"]:
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _path(url: str) -> Path:
    u = urlparse(url)
    assert u.scheme == "file", url
    return Path(unquote(u.path))


def _sidebar_links(driver) -> list:
    return driver.find_elements("css selector", "nav#sidebar li a")


def test_sidebar_link_opens_api_page_with_rendered_show_doc_and_loaded_plots(site, browser):
    from selenium.webdriver.support.ui import WebDriverWait
    browser.get((site.dir / "index.html").as_uri())
    link = next((a for a in _sidebar_links(browser) if a.text == "learner"), None)
    assert link is not None, [a.text for a in _sidebar_links(browser)]
    link.click()
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith("/learner.html"))
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")
    assert browser.find_element("css selector", "h1.title").text == "learner"
    assert browser.find_element("css selector", "nav#sidebar a.active").text == "learner"

    # show_doc rendered: heading, signature with its parameters and their docments, docstring
    docs = browser.find_elements("css selector", "main .celltag_showdoc")
    learner = next((d for d in docs if d.find_elements("xpath", ".//h3[@id='Learner']")), None)
    assert learner is not None, [d.text[:40] for d in docs]
    sig = learner.find_element("css selector", "pre").text
    for needle in ("def Learner(", "model:", "cfg:", "cbs:", "# callbacks", "device:str='cpu'"): assert needle in sig, sig
    assert "show_doc" not in learner.text and "optimizer steps" in learner.text, learner.text

    # the notebook's saved plots, inline PNG, actually decoded by the browser
    imgs = browser.execute_script(
        "return Array.from(document.querySelectorAll('main img')).map(i => [i.complete, i.naturalWidth, i.src.slice(0, 22)])")
    assert imgs and all(done and width > 0 for done, width, _ in imgs), imgs
    assert {src for *_, src in imgs} == {"data:image/png;base64,"}, imgs

    # front matter and cell options are for Quarto, not for the reader
    text = browser.find_element("css selector", "main").text
    for raw in ("output-file:", "#| echo", "#| output", "#| export", "default_exp"): assert raw not in text


def test_every_sidebar_link_on_the_home_page_opens_an_existing_page(site, browser):
    browser.get((site.dir / "index.html").as_uri())
    groups = [h.text for h in browser.find_elements("css selector", "nav#sidebar h2")]
    for g in ("HOME", "TUTORIALS", "API MODULES", "EXPERIMENTS", "BENCHMARKS"): assert g in [x.upper() for x in groups], groups
    hrefs = [a.get_attribute("href") for a in _sidebar_links(browser)]  # resolved by the browser, as a click would
    pages = [_path(h) for h in hrefs]
    missing = [str(p) for p in pages if not p.is_file()]
    assert not missing, missing
    assert all(p.resolve().is_relative_to(site.dir.resolve()) for p in pages), pages
    assert len(set(pages)) == len(pages) >= len(site.notebooks), (sorted(p.name for p in pages), sorted(p.name for p in site.notebooks))
    assert "benchmarks.html" in {p.name for p in pages} and (site.dir / "index.html") in pages
    assert set(site.dir.rglob("*.html")) == set(pages), "pages the sidebar does not list"



def test_links_inside_pages_stay_inside_the_site_and_resolve(site):
    "nbdev links `module.name` references to the published site; offline they point at the pages built here."
    import re
    for page in site.dir.rglob("*.html"):
        text = page.read_text()
        assert 'href="https://codex-nb.github.io' not in text, page
        for href in re.findall(r'href="([^"#]+)(?:#[^"]*)?"', text):
            if re.match(r"\w+:", href): continue  # a link out of the site (GitHub, nbdev's docs)
            assert (page.parent / unquote(href)).exists(), (page.name, href)
