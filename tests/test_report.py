"""The reports an analyst reads: summary.md on a code host, report.html in a real browser."""

import os
import shutil

import pandas as pd
import pytest

from conftest import SEED_FILES
from pipeline.config import Config
from pipeline.stages import classify, ingest, report, segment, write_files

HOSTILE = (
    "Statement with markup\n\n"
    "Sergey Lavrov: <script>window.__pwned = 1;</script> We are deeply concerned about NATO expansion. "
    "<img src=x onerror=\"window.__pwned = 2\"> The deployment of US missile defence in Europe is dangerous.\n"
)


@pytest.fixture(scope="module")
def seed_reports(tmp_path_factory, trained_model, taxonomy):
    folder = tmp_path_factory.mktemp("docs")
    for path in SEED_FILES:
        shutil.copy(path, folder)
    (folder / "zz_markup.txt").write_text(HOSTILE, encoding="utf-8")
    config = Config(input_dir=folder, output_dir=tmp_path_factory.mktemp("out"))
    documents, set_aside = ingest(config)
    predictions = classify(segment(documents, config), trained_model, taxonomy, config)
    write_files(report(predictions, documents, set_aside, taxonomy, trained_model.version, config), config.output_dir)
    return config.output_dir, predictions


def test_summary_leads_with_the_findings_before_any_table(seed_reports, taxonomy):
    out, _ = seed_reports
    summary = (out / "summary.md").read_text()
    first_table = summary.index("\n|")
    for issue in taxonomy.topical_issues:
        assert summary.index(f"**{issue.name}**:") < first_table
    assert "mostly" in summary[:first_table]


def test_document_text_is_escaped_in_the_html(seed_reports):
    out, _ = seed_reports
    page = (out / "report.html").read_text()
    assert "&lt;script&gt;window." in page and "1;&lt;/script&gt;" in page
    assert "<script>window" not in page and "<img src=x" not in page
    assert page.count("<script") == 2  # the page's own: its data and its filter
    assert "http://" not in page and "https://" not in page  # self-contained


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


def test_report_renders_and_filters_in_a_real_browser(seed_reports, taxonomy, tmp_path):
    from playwright.sync_api import sync_playwright

    out, predictions = seed_reports
    content = predictions[~predictions["is_furniture"]]
    own = predictions[predictions["role"] == "main"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((out / "report.html").as_uri())
        page.wait_for_selector("#issue-chart")

        # the chart shows, per issue and stance, the main speaker's counts
        for issue in taxonomy.topical_issues:
            for stance in taxonomy.stance_ids:
                expected = int(((own["issue"] == issue.id) & (own["stance"] == stance)).sum())
                bar = page.locator(f'#issue-chart rect[data-issue="{issue.id}"][data-stance="{stance}"]')
                assert (int(bar.get_attribute("data-count")) if bar.count() else 0) == expected
        assert page.locator("#timeline-chart rect.tl-support").count() == 6
        assert page.locator("#doc-issue tbody tr").count() == 6

        # the table holds every sentence; filters and search narrow it
        rows = page.locator("#sentences tbody tr")
        assert rows.count() == len(content)
        assert page.inner_text("#shown") == str(len(content))
        page.select_option("#f-issue", "iran")
        assert page.locator("#sentences tbody tr:not([hidden])").count() == int((content["issue"] == "iran").sum()) > 0
        page.select_option("#f-stance", "oppose")
        expected = int(((content["issue"] == "iran") & (content["stance"] == "oppose")).sum())
        assert page.locator("#sentences tbody tr:not([hidden])").count() == expected
        assert page.inner_text("#shown") == str(expected)
        page.select_option("#f-issue", "")
        page.select_option("#f-stance", "")
        page.select_option("#f-speaker", "questioner")
        assert page.locator("#sentences tbody tr:not([hidden])").count() == int((content["speaker"] == "questioner").sum())
        page.select_option("#f-speaker", "")
        page.fill("#f-text", "raider takeover")
        assert page.locator("#sentences tbody tr:not([hidden])").count() == 1

        # low-confidence rows are marked; a row links to its place in the document
        low = content[content[["issue_confidence", "stance_confidence"]].min(axis=1) < Config().low_confidence]
        assert page.locator("#sentences tbody tr.low").count() == len(low)
        page.fill("#f-text", "")
        link = rows.first.locator("a")
        target = link.get_attribute("href")
        link.click()
        assert page.evaluate("location.hash") == target and page.locator(target).is_visible()

        # the hostile document is shown as text and ran nothing
        assert page.evaluate("window.__pwned") is None
        shown = page.inner_text("#documents")
        assert "<script>window." in shown and "</script>" in shown and '<img src=x onerror="window.' in shown
        assert page.locator("#documents section.doc .role-question").count() == int((predictions["role"] == "question").sum())

        shot = tmp_path / "report.png"
        page.goto((out / "report.html").as_uri())
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
    assert shot.stat().st_size > 20_000
    assert errors == []
    if os.environ.get("REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["REPORT_SCREENSHOT"])
