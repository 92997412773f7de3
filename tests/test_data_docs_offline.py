"""The Data Docs open offline: every stylesheet, script and font is served from the site itself.

The browser test opens the quality suites' Data Docs index in Debian's Chromium with every request
that is not a local file aborted, then checks that Bootstrap's stylesheet and Font Awesome's font
applied and that bootstrap-table listed each suite's validation result. The plain tests read every
built page for a remote script, stylesheet, font or image, and refuse an asset with no local copy.
"""

import re
from pathlib import Path

import pytest

from mel_pipeline.marts.quality import SUITES, serve_assets_locally, validate_marts
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.test_quality import write_marts

# Bootstrap 4's .btn-secondary background (#6c757d): GE's own inline styles give buttons no colour.
BOOTSTRAP_SECONDARY = "rgb(108, 117, 125)"
REMOTE_ASSET = re.compile(r"""<(?:script|img)\b[^>]*\bsrc=["']?https?:|<link\b[^>]*\bhref=["']?https?:"""
                          r"""|url\(\s*["']?https?:|@import\s+["']?(?:url\()?["']?https?:""")


@pytest.fixture(scope="module")
def data_docs(tmp_path_factory) -> Path:
    """The Data Docs of the hand-made marts of test_quality, which pass every suite."""
    folder = tmp_path_factory.mktemp("docs")
    return validate_marts(write_marts(folder / "mel.duckdb"), folder / "quality").docs_index


def test_no_built_page_loads_a_script_stylesheet_font_or_image_from_the_network(data_docs):
    pages = sorted(data_docs.parent.rglob("*.html"))
    assert len(pages) == 1 + 2 * len(SUITES)  # the index, and a suite page and a validation page per table
    remote = {page.relative_to(data_docs.parent).as_posix(): REMOTE_ASSET.findall(page.read_text(encoding="utf-8"))
              for page in pages}
    assert {page: found for page, found in remote.items() if found} == {}
    for page in pages:
        local = re.findall(r"""(?:src|href)="([^"#]+\.(?:css|js|png|ico))\"""", page.read_text(encoding="utf-8"))
        for reference in local:
            assert (page.parent / reference).is_file(), f"{page} refers to {reference}, which is not in the site"


def test_a_page_loading_a_remote_asset_without_a_local_copy_is_refused_by_name(tmp_path):
    page = tmp_path / "site" / "expectations" / "t.html"
    page.parent.mkdir(parents=True)
    page.write_text('<link rel="stylesheet" href="https://cdn.example/new.css">', encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(page))}: Data Docs load https://cdn.example/new.css, "
                                         r"which has no local copy in quality.CDN_ASSETS$"):
        serve_assets_locally(tmp_path / "site")


@pytest.mark.browser
def test_the_index_renders_styled_and_lists_every_validation_result_with_the_network_cut_off(data_docs):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (.ci/run does) to run the browser test")
    from playwright.sync_api import expect, sync_playwright

    aborted = []

    def local_files_only(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.route("**/*", local_files_only)
            page.goto(data_docs.as_uri())
            results = page.locator("#section-1-content-block-2-1-body-table tbody tr")
            expect(results).to_have_count(len(SUITES))
            listed = sorted(link.strip() for link in
                            results.locator(".ge-index-page-table-expectation-suite-link").all_inner_texts())
            clear_filters = page.get_by_role("button", name="Clear Filters").first
            background = clear_filters.evaluate("button => getComputedStyle(button).backgroundColor")
            page.evaluate("document.fonts.ready")
            solid_icons = page.evaluate("document.fonts.check('900 16px \"Font Awesome 6 Free\"')")
            success_icon = page.locator(".ge-success-icon").first.evaluate(
                "icon => getComputedStyle(icon, '::before').fontFamily")
        finally:
            browser.close()
    assert aborted == []
    assert listed == sorted(SUITES)
    assert background == BOOTSTRAP_SECONDARY
    assert solid_icons is True
    assert success_icon == '"Font Awesome 6 Free"'
