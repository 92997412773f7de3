"""The officers' report from a small hand-made marts file: a section per theme, an SVG per chart, nothing
fetched from the network, suppressed cells written as "suppressed", accents intact."""

import re

import pandas as pd
import pytest

from mel_pipeline.marts.quality import FailedExpectation, QualityReport, SuiteResult
from mel_pipeline.outputs.report import build_report, gap_reason, latest_published, overview
from mel_pipeline.reference.codes import THEMES
from tests.test_quality import write_marts


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(index.html path, its text) for the hand-made marts, with a quality report of one failed suite."""
    folder = tmp_path_factory.mktemp("marts")
    marts = write_marts(folder / "mel.duckdb")
    page = folder / "quality" / "validations" / "load_audit" / "run" / "load_audit.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html></html>")
    failure = FailedExpectation("expect_column_pair_values_to_be_equal", "rows_read = rows_loaded + rows_rejected.",
                                1, ["source=indicator_reports, file=a.csv"])
    quality = QualityReport([SuiteResult("indicator_values", 31, []), SuiteResult("load_audit", 9, [failure])],
                            folder / "quality" / "index.html")
    index = build_report(marts, folder / "report", quality=quality)
    return index, index.read_text(encoding="utf-8")


def section(page: str, theme: str) -> str:
    return re.search(rf'<section id="theme-{theme}">(.*?)</section>', page, re.S).group(1)


def test_the_page_is_written_whole_in_its_folder(built):
    index, _ = built
    assert index.name == "index.html"
    assert [path.name for path in index.parent.iterdir()] == ["index.html"]


def test_one_section_per_theme_in_catalogue_order(built):
    _, page = built
    assert re.findall(r'<section id="theme-(\w+)">', page) == list(THEMES)


def test_every_chart_is_an_inline_svg(built):
    _, page = built
    figures = re.findall(r"<figure>(.*?)</figure>", page, re.S)
    assert figures and all("<svg" in figure for figure in figures)
    enforcement = section(page, "enforcement")
    # status by semester, ENF-03 targets, the ENF-03 sentinel series, two outcome matrices, divergence
    assert enforcement.count("<svg") == 6
    assert section(page, "awareness").count("<svg") == 2  # status by semester, AWR-02 targets


def test_nothing_is_fetched_from_the_network(built):
    _, page = built
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)


def test_the_header_links_data_docs_contract_and_rejected_rows(built):
    _, page = built
    header = re.search(r"<header>(.*?)</header>", page, re.S).group(1)
    assert 'href="../quality/index.html"' in header and 'href="#data-quality"' in header
    assert re.search(r'href="[^"]*/docs/data-contract.md"', header)
    assert 'href="#rejected-rows"' in header and '<section id="rejected-rows">' in page
    assert re.search(r"built \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", header)


def test_suppressed_cells_read_suppressed_never_a_number(built):
    _, page = built
    indicator = re.search(r"<figure><figcaption><h4>AWR-02 .*?</figure>", section(page, "awareness"), re.S).group(0)
    row = re.search(r"<tr><td>2024 H1</td>(.*?)</tr>", indicator, re.S).group(1)
    actual, target, percent, status, reports = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert "suppressed" in actual and "suppressed" in percent and "Suppressed" in status and reports == "2 of 2"
    assert not re.search(r"\d", actual + percent)
    assert target == "100%"
    means = re.search(r"<summary>Group means</summary>(.*?)</details>", section(page, "enforcement"), re.S).group(1)
    assert re.findall(r"<th[^>]*>(.*?)</th>", means)[1:] == ["Worker", "Employer", "Government", "Academia"]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", means)
    assert cells[1:4] == ["2.10", "4.20", "4.00"] and "suppressed" in cells[4]


def test_coverage_is_shown_beside_each_status(built):
    _, page = built
    indicator = re.search(r"<figure><figcaption><h4>CAP-01 .*?</figure>", section(page, "capacity"), re.S).group(0)
    statuses = {semester: (re.sub(r"<[^>]+>", "", status), reports) for semester, status, reports in re.findall(
        r"<tr><td>(\d{4} H\d)</td>(?:<td[^>]*>.*?</td>){3}<td[^>]*>(.*?)</td><td[^>]*>(.*?)</td></tr>", indicator)}
    assert statuses == {"2023 H1": ("Off track", "2 of 2"), "2023 H2": ("Incomplete reports", "1 of 2"),
                        "2024 H1": ("Not reported", "0 of 2")}
    assert "Not judged" in section(page, "cla")


def test_signals_are_listed_with_accented_places(built):
    _, page = built
    assert '<meta charset="utf-8">' in page
    signals = re.search(r"<summary>The signals</summary>(.*?)</details>", section(page, "enforcement"), re.S).group(1)
    assert "San Luis Potosí" in signals and "above the upper threshold 120.0" in signals
    assert "Querétaro" not in signals  # a quiet observation is drawn but not listed


def test_the_outcome_matrix_counts_substantiated_of_all(built):
    _, page = built
    enforcement = section(page, "enforcement")
    assert "2 of 3" in enforcement and "2 substantiated of 3 harvested outcomes" in enforcement


def test_the_quality_section_gives_each_suite_its_verdict_and_data_docs_page(built):
    _, page = built
    quality = re.search(r'<section id="data-quality">(.*?)</section>', page, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", quality, re.S)[1:]
    assert "indicator_values" in rows[0] and "passed" in rows[0]
    assert 'href="../quality/validations/load_audit/run/load_audit.html"' in rows[1]
    assert "failed 1" in rows[1] and "rows_read = rows_loaded + rows_rejected." in rows[1]


def test_at_a_glance_takes_each_indicators_own_latest_published_semester_and_says_which():
    h2_2024, h1_2025 = pd.Timestamp("2024-07-01"), pd.Timestamp("2025-01-01")

    def value(code, start, figure, status, suppressed=False, reported=(1, 1)):
        return {"indicator_code": code, "theme": "awareness", "period_start": start, "value": figure, "status": status,
                "suppressed": suppressed, "periods_reported": reported[0], "periods_expected": reported[1]}

    values = pd.DataFrame([
        value("AWR-01", h2_2024, 80.0, "at_risk"), value("AWR-01", h1_2025, 95.0, "on_track", reported=(3, 4)),
        # AWR-02's 2025 H1 came in without a figure: its latest published semester is 2024 H2.
        value("AWR-02", h2_2024, 50.0, "off_track"), value("AWR-02", h1_2025, None, "not_reported", reported=(0, 4)),
        value("AWR-03", h1_2025, None, "suppressed", suppressed=True, reported=(None, None)),
    ])
    assert latest_published(values)[["indicator_code", "period_start"]].values.tolist() == [
        ["AWR-01", h1_2025], ["AWR-02", h2_2024], ["AWR-03", h1_2025]]
    empty = pd.DataFrame({"theme": [], "signal": [], "substantiated": [], "stories": []})
    page = overview({"values": values, "sentinel": empty, "outcomes": empty, "stories": empty})
    awareness = re.search(r'<tr><td><a href="#theme-awareness">.*?</tr>', page).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", awareness)
    # Latest semesters; on track, at risk, off track, incomplete, not reported, no target, not judged, suppressed;
    # reports received (AWR-01's 3 of 4 and AWR-02's 2024 H2 1 of 1); signals, outcomes, stories.
    assert cells[1:] == ["2025 H1 (2), 2024 H2 (1)", "1", "0", "1", "0", "0", "0", "0", "1", "4 of 5", "0", "0", "0"]


def test_each_missing_point_says_why_on_the_chart_and_in_its_table(built):
    _, page = built
    for theme, code, semester, reason, meaning in [
            ("capacity", "CAP-01", "2024 H1", "no report accepted",
             "reports were due and none was accepted: none was sent, or its rows were rejected "
             "(listed under Data received and rejected)"),
            ("awareness", "AWR-02", "2024 H1", "suppressed for privacy",
             "the figure counts 1 to 10 people, or would let such a count be worked out")]:
        indicator = re.search(rf"<figure><figcaption><h4>{code} .*?</figure>", section(page, theme), re.S).group(0)
        gaps = re.findall(r'<g class="gap"><title>(.*?)</title><text[^>]*>(.*?)</text></g>', indicator)
        assert gaps == [(f"{semester}: {reason}: {meaning}", reason)]
        actual = re.search(rf"<tr><td>{semester}</td><td[^>]*>(.*?)</td>", indicator).group(1)
        assert re.sub(r"<[^>]+>", "", actual) == ("suppressed" if reason.startswith("suppressed") else reason)
    enforcement = re.search(r"<figure><figcaption><h4>ENF-03 .*?</figure>", section(page, "enforcement"), re.S)
    assert '<g class="gap">' not in enforcement.group(0)  # a point in every semester


def test_a_gap_is_suppressed_for_privacy_without_an_accepted_report_or_without_data():
    def cell(value, suppressed=False, expected=None, reported=None):
        return pd.Series({"value": value, "suppressed": suppressed, "periods_expected": expected,
                          "periods_reported": reported})

    assert [gap_reason(row) for row in (
        cell(None, suppressed=True, expected=2, reported=2),  # a figure on too few people
        cell(None, expected=2, reported=0),                   # reports due, none received (or all rejected)
        cell(float("nan"), expected=float("nan")),            # an indicator computed from other sources, no data
        cell(None, expected=2, reported=1),                   # reports came, but no figure could be computed
        cell(0.0, expected=2, reported=0),                    # a figure: no gap
    )] == ["suppressed for privacy", "no report accepted", "no data", "no data", None]
