"""The HTML report opened in a real headless Chromium: leaderboard rows and charts render."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest  # results_data: tests/report is on sys.path (rootdir-less test import)
from results_data import MODELS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def report(cli_report: tuple[Path, str]) -> Path:
    """The page `eokit report RESULTS` wrote for a real DuckDB store of a realistic grid."""
    return cli_report[0]


@pytest.mark.browser
@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="chromium + chromium-driver not installed")
def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1300,2400"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        driver.set_page_load_timeout(60)
        driver.get(report.as_uri())
        assert "eokit benchmark report" in driver.title
        rows = driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr.lb-row")
        # 3 backbones x (knn5, linear, decoder) + 2 baselines x linear
        assert len(rows) == 3 * 3 + 2
        models = {r.get_attribute("data-model") for r in rows}
        assert models == set(MODELS)
        first = rows[0].find_elements(By.TAG_NAME, "td")
        assert first[1].text == "resnet50_ssl4eo" and "[" in first[4].text and "]" in first[4].text
        assert rows[0].is_displayed() and rows[0].size["height"] > 0
        # the model without oscd has no Overall score for its decoder entry, and the page says why
        notes = driver.find_element(By.ID, "notes").text
        assert "vit_small_dino" in notes and "oscd" in notes
        charts = driver.find_elements(By.CSS_SELECTOR, "img.chart")
        ids = {c.get_attribute("id") for c in charts}
        assert {"chart-capability", "chart-efficiency", "chart-fractions", "chart-robustness-eurosat_ms"} <= ids
        for c in charts:
            loaded = driver.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0 && arguments[0].naturalHeight > 0",
                c)
            assert loaded, f"chart {c.get_attribute('id')} did not render"
            assert c.size["width"] > 200 and c.size["height"] > 100
        # per-dataset tables: one per dataset, every entry listed
        tables = driver.find_elements(By.CSS_SELECTOR, "table.dataset")
        assert {t.get_attribute("data-dataset") for t in tables} == {
            "eurosat_rgb", "eurosat_ms", "bigearthnet_s2", "m_cashew_plant", "oscd", "tiny_rgb"}
        assert "not ranked" in driver.find_element(By.CSS_SELECTOR, '.notranked[data-dataset="tiny_rgb"]').text
        pairs = driver.find_elements(By.CSS_SELECTOR, "#pairwise tbody tr")
        assert len(pairs) >= 10 and pairs[0].is_displayed()
        rob = driver.find_element(By.CSS_SELECTOR, "table.robustness").text
        assert "clouds" in rob and "mean" in rob
        # offline: nothing but the file itself and inline data: images was requested
        resources = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)")
        assert all(r.startswith("data:") or r.startswith("file:") for r in resources), resources
        shot = Path(os.environ.get("EOKIT_REPORT_SCREENSHOT", tmp_path / "report.png"))
        driver.set_window_size(1300, 2400)
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        driver.quit()
