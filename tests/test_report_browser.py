"""The validation report (validation/report/report.html) opened in a real headless browser:
every figure loads and has pixels, the page logs no error, and a screenshot of it is not
blank.

The browser is the distribution's Chromium (Debian package ``chromium``), driven through
Playwright's Python client (``playwright``, a dev dependency) without Playwright's own
browser download. `.ci/run` installs Chromium and sets PELED_REQUIRE_BROWSER=1, so in CI a
missing browser fails this test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

REPORT = Path(__file__).resolve().parents[1] / "validation" / "report" / "report.html"
# the flags a headless Chromium needs in a sandboxed machine with no network: no
# sandbox (root), no GPU, and none of the background connections a closed network refuses
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    """The Chromium executable, or a skip (a failure where the browser is required)."""
    required = os.environ.get("PELED_REQUIRE_BROWSER") == "1"
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    missing = []
    if path is None:
        missing.append("Chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -e '.[dev]')")
    if missing:
        msg = f"needs {' and '.join(missing)}"
        if required:
            pytest.fail(msg + " (PELED_REQUIRE_BROWSER=1)")
        pytest.skip(msg)
    return path


def _render(page_path: Path, shot: Path) -> dict:
    """Open ``page_path`` in headless Chromium: its console errors, failed requests,
    images (alt, loaded, natural size), title, and a 1280x1000 screenshot at ``shot``."""
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    out: dict = {"errors": [], "failed": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on(
                "console", lambda m: out["errors"].append(m.text) if m.type == "error" else None
            )
            page.on("pageerror", lambda e: out["errors"].append(str(e)))
            page.on("requestfailed", lambda r: out["failed"].append(r.url[:120]))
            page.goto(page_path.as_uri(), wait_until="load")
            out["images"] = page.evaluate(
                "Array.from(document.images).map(i => "
                "({alt: i.alt, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight}))"
            )
            out["title"] = page.title()
            page.screenshot(path=str(shot), full_page=False)
        finally:
            browser.close()
    return out


def _broken(images: list[dict]) -> list[str]:
    return [i["alt"] for i in images if not (i["complete"] and i["w"] > 100 and i["h"] > 100)]


def test_validation_report_renders_in_headless_chromium(tmp_path):
    from matplotlib import image as mpimg

    assert REPORT.is_file(), REPORT
    shot = tmp_path / "report.png"
    out = _render(REPORT, shot)
    assert not out["errors"], out["errors"]
    assert not out["failed"], out["failed"]
    assert out["title"]
    # every figure of the report: the parity plots, roll-off, zones and scenario plots
    assert len(out["images"]) >= 8, out["images"]
    assert not _broken(out["images"]), _broken(out["images"])
    # the screenshot shows a page, not a blank or single-colour one
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[:2] == (1000, 1280)
    not_background = np.any(np.abs(pixels - pixels[0, 0]) > 0.1, axis=-1)
    assert not_background.mean() > 0.01, not_background.mean()
    assert len(np.unique(pixels.reshape(-1, 3).round(2), axis=0)) > 20


def test_the_browser_check_sees_a_missing_figure_and_a_script_error(tmp_path):
    """The same checks on a page with a figure that does not exist and a script that
    fails: both are caught, so the report test can fail."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><head><title>broken</title></head><body>"
        '<img alt="missing figure" src="figures/missing.png">'
        "<script>undefinedFunction();</script></body></html>"
    )
    out = _render(page, tmp_path / "broken.png")
    assert _broken(out["images"]) == ["missing figure"]
    assert any("undefinedFunction" in e for e in out["errors"]), out["errors"]
