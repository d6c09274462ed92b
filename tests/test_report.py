"""The reports an analyst reads: summary.md on a code host, report.html in a real browser."""

import json
import os
import re
import shutil
from html.parser import HTMLParser
from io import StringIO

import pandas as pd
import pytest

from conftest import LABELS, SEED_FILES
from pipeline.config import Config
from pipeline.files import restored_frame
from pipeline.stages import classify, ingest, report, segment, write_files
from pipeline.taxonomy import load_taxonomy

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


def test_with_the_trained_model_the_dprk_finding_names_targets_each_way(seed_reports, taxonomy):
    out, predictions = seed_reports
    line = _finding((out / "summary.md").read_text(), "North Korea")
    opposed, supported = re.search(r"Opposes (.*?); supports (.*?)\.", line).groups()
    assert "sanctions and pressure (" in opposed, line
    assert "talks and diplomacy (" in supported or "steps toward a settlement (" in supported, line
    table = restored_frame(pd.read_csv(out / "positions.csv", keep_default_na=False))
    main = predictions[(predictions["role"] == "main") & (predictions["issue"] == "dprk") & (predictions["target"] == "sanctions_pressure")]
    row = table[(table["issue"] == "dprk") & (table["target"] == "sanctions_pressure")]
    assert int(row["oppose"].sum()) == int((main["stance"] == "oppose").sum()) > 0


def test_document_text_is_escaped_in_the_html(seed_reports):
    out, _ = seed_reports
    page = (out / "report.html").read_text()
    assert "&lt;script&gt;window." in page and "1;&lt;/script&gt;" in page
    assert "<script>window" not in page and "<img src=x" not in page
    assert page.count("<script") == 1  # the page's own: its filters and speaker tables
    assert "application/json" not in page  # no data block that nothing reads
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


# --- positions, stance words from the taxonomy, speakers compared ----------------------------
# These read predictions built from the seeds' hand labels (labels/seeds.csv, with targets), so
# they check the report logic on real text whatever a small trained model gets right.

def labelled_predictions(folder, labels_file=LABELS / "seeds.csv", rename: dict[str, str] | None = None):
    """The seeds segmented, each sentence carrying its hand label; questions and narration
    neutral, as the classify stage makes them."""
    config = Config(input_dir=folder)
    documents, set_aside = ingest(config)
    sentences = segment(documents, config)
    labels = pd.read_csv(labels_file, keep_default_na=False)[["file", "start", "issue", "stance", "target"]]
    rows = sentences.merge(labels, left_on=["doc_id", "start"], right_on=["file", "start"], how="left").drop(columns="file")
    assert rows.loc[~rows["is_furniture"], "issue"].notna().all()  # every sentence has its label
    rows = rows.fillna({"issue": "other", "stance": "neutral", "target": ""})
    not_own = rows["role"].isin(["question", "narration"]) | rows["is_furniture"]
    rows.loc[not_own, "stance"] = "neutral"
    rows.loc[not_own, "target"] = ""
    rows.loc[rows["is_furniture"], "issue"] = "other"
    if rename:
        rows["stance"] = rows["stance"].replace(rename)
    # confidences that differ, so "strongest" means something
    rows["issue_confidence"] = 0.6 + 0.4 * ((rows["sentence_id"] * 7) % 10) / 10
    rows["stance_confidence"] = 0.55 + 0.45 * ((rows["sentence_id"] * 3) % 10) / 10
    rows["target_confidence"] = (rows["target"] != "") * (0.5 + 0.5 * ((rows["sentence_id"] * 9) % 10) / 10)
    return rows, documents, set_aside


def _run_report(predictions, documents, set_aside, taxonomy, out, **config):
    config = Config(output_dir=out, **config)
    files = report(predictions, documents, set_aside, taxonomy, "test-model", config)
    write_files(files, out)
    return files


@pytest.fixture(scope="module")
def labelled_reports(tmp_path_factory, taxonomy):
    predictions, documents, set_aside = labelled_predictions(LABELS.parent / "seeds")
    out = tmp_path_factory.mktemp("labelled")
    files = _run_report(predictions, documents, set_aside, taxonomy, out)
    return out, files, predictions, documents


def _finding(summary: str, issue_name: str) -> str:
    return next(line for line in summary.splitlines() if line.startswith(f"- **{issue_name}**:"))


def test_the_dprk_finding_names_what_is_opposed_and_what_is_supported(labelled_reports, taxonomy):
    out, files, predictions, _ = labelled_reports
    dprk = taxonomy.issue("dprk")
    names = {t.id: t.name.lower() for t in dprk.targets}
    line = _finding(files["summary.md"], dprk.name)
    opposed = re.search(r"Opposes (.*?); supports (.*?)\.", line)
    assert opposed, line
    own = predictions[(predictions["role"] == "main") & (predictions["issue"] == "dprk")]
    n = lambda stance, target: int(((own["stance"] == stance) & (own["target"] == target)).sum())
    assert f"{names['sanctions_pressure']} ({n('oppose', 'sanctions_pressure')})" in opposed.group(1)
    assert f"{names['talks']} ({n('support', 'talks')})" in opposed.group(2)
    assert names["talks"] not in opposed.group(1) and names["sanctions_pressure"] not in opposed.group(2)
    # the same positions in the page, and a positions table per issue
    page = files["report.html"]
    assert f"Opposes {names['sanctions_pressure']} ({n('oppose', 'sanctions_pressure')})" in page
    table = re.search(r'<table class="positions" id="positions-dprk".*?</table>', page, re.S).group(0)
    row = re.search(r'<tr data-target="talks" data-pro="(\d+)" data-con="(\d+)">', table)
    assert (int(row.group(1)), int(row.group(2))) == (n("support", "talks"), n("oppose", "talks"))
    assert "strongest" in table and "000_1aa5b79f95ad6851.txt" in table


def test_the_summary_has_a_positions_table_per_issue_with_the_strongest_claims(labelled_reports, taxonomy):
    """A target's quote is the claim surest of its issue, its stance and that target."""
    _, files, predictions, _ = labelled_reports
    summary = files["summary.md"]
    section = summary[summary.index("### North Korea"):summary.index("### Iran")]
    row = next(line for line in section.splitlines() if line.startswith("| Sanctions and pressure |"))
    claims = predictions[(predictions["role"] == "main") & (predictions["issue"] == "dprk") & (predictions["target"] == "sanctions_pressure")]
    strongest = claims[claims["stance"] == "oppose"].assign(s=lambda f: f["issue_confidence"] * f["stance_confidence"] * f["target_confidence"]) \
        .sort_values(["s", "doc_id", "sentence_id"], ascending=[False, True, True]).iloc[0]
    assert row.startswith(f"| Sanctions and pressure | {(claims['stance'] == 'support').sum()} | {(claims['stance'] == 'oppose').sum()} |")
    assert strongest["text"][:40] in row and f"`{strongest['doc_id']}`, sentence {strongest['sentence_id']}" in row


def test_positions_csv_has_the_columns_and_a_row_per_speaker_issue_and_target(labelled_reports, taxonomy):
    out, files, predictions, documents = labelled_reports
    assert "positions.csv" in files
    table = restored_frame(pd.read_csv(out / "positions.csv", keep_default_na=False))
    assert list(table.columns) == ["speaker", "issue", "target", *taxonomy.stance_ids, "documents", "first_date", "last_date"]
    own = predictions[(predictions["role"] == "main") & predictions["issue"].isin([i.id for i in taxonomy.topical_issues])]
    for stance in taxonomy.stance_ids:  # every sentence of the main speaker is counted once
        assert table[stance].sum() == (own["stance"] == stance).sum()
    row = table[(table["issue"] == "dprk") & (table["target"] == "sanctions_pressure")].iloc[0]
    on = own[(own["issue"] == "dprk") & (own["target"] == "sanctions_pressure")]
    dates = sorted(d for d in documents.set_index("doc_id").loc[sorted(set(on["doc_id"])), "date"] if d)
    assert row["speaker"] == "Sergey Lavrov" and row["oppose"] == (on["stance"] == "oppose").sum() > 0
    assert row["documents"] == on["doc_id"].nunique() and (row["first_date"], row["last_date"]) == (dates[0], dates[-1])
    assert set(table["target"]) <= {t for i in taxonomy.issue_ids for t in taxonomy.target_ids(i)} | {""}


def test_renaming_a_stance_in_the_taxonomy_renames_it_in_the_reports(tmp_path, taxonomy):
    data = json.loads((LABELS / "taxonomy.json").read_text())
    for s in data["stances"]:
        if s["id"] == "oppose":
            s.update(id="against", verb="rejects", adjective="rejecting", colour="#123456")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "taxonomy.json").write_text(json.dumps(data))
    renamed = load_taxonomy(tmp_path / "labels")
    predictions, documents, set_aside = labelled_predictions(LABELS.parent / "seeds", rename={"oppose": "against"})
    files = _run_report(predictions, documents, set_aside, renamed, tmp_path / "out")
    own = predictions[(predictions["role"] == "main") & (predictions["issue"] == "dprk")]
    sup, against = int((own["stance"] == "support").sum()), int((own["stance"] == "against").sum())
    line = _finding(files["summary.md"], "North Korea")
    assert against > sup and f"the speaker mostly rejects ({sup} supporting, {against} rejecting claims" in line
    assert "Rejects sanctions and pressure (" in line and "oppos" not in line
    assert "| issue | support | against | neutral |" in files["summary.md"]
    page = files["report.html"]
    assert f'data-issue="dprk" data-stance="against" data-count="{against}"' in page and "#123456" in page
    # outside the quoted sentences, no word of the old name is left
    own_words = re.sub(r"<blockquote.*?</blockquote>|<td class=\"q\">.*?</td>", "", page.split('<section id="all-sentences"')[0], flags=re.S)
    assert "oppos" not in own_words.lower() and "rejecting" in own_words and 'class="tl tl-against"' in own_words
    assert "positions.csv" in files and files["positions.csv"].splitlines()[0].split(",")[3:6] == ["support", "against", "neutral"]


# several speakers over several years

SPEAKERS = [  # (speaker, seed document, date): copies of the seeds under three speakers and four years
    ("China", 0, "2015-09-28"), ("China", 4, "2016-09-21"), ("China", 1, "2016-09-22"),
    ("France", 4, "2015-09-28"), ("France", 2, ""),
    ("=HYPERLINK(\"http://x\")", 3, "2017-09-19"),
]


def multi_speaker(documents, predictions):
    docs, rows = [], []
    ids = sorted(documents["doc_id"])
    for n, (speaker, seed, date) in enumerate(SPEAKERS):
        source = ids[seed]
        doc_id = f"{n:02d}_{date[:4] or 'undated'}_{source}"
        doc = documents[documents["doc_id"] == source].assign(doc_id=doc_id, date=date, year=date[:4], speaker=speaker)
        part = predictions[predictions["doc_id"] == source].assign(doc_id=doc_id)
        part.loc[part["role"] == "main", "speaker"] = speaker
        docs.append(doc)
        rows.append(part)
    return pd.concat(rows, ignore_index=True), pd.concat(docs, ignore_index=True)


class _Cells(HTMLParser):
    """The evidence links (a.ev) of the page, with the table they sit in."""

    def __init__(self):
        super().__init__()
        self.table, self.cells, self.year, self.speaker = None, [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.table = a.get("id")
        if tag == "tr":
            self.year, self.speaker = a.get("data-year"), a.get("data-speaker")
        if tag == "a" and "ev" in (a.get("class") or "").split():
            self.cells.append({"table": self.table, "year": self.year, "speaker": self.speaker, "target": "",
                               **{k[5:]: v for k, v in a.items() if k.startswith("data-")}})


@pytest.fixture(scope="module")
def multi_reports(tmp_path_factory, taxonomy):
    predictions, documents, set_aside = labelled_predictions(LABELS.parent / "seeds")
    predictions, documents = multi_speaker(documents, predictions)
    out = tmp_path_factory.mktemp("multi")
    files = _run_report(predictions, documents, set_aside, taxonomy, out)
    return out, files, predictions, documents


def _expected(predictions, documents, keys):
    own = predictions[(predictions["role"] == "main") & ~predictions["is_furniture"]]
    own = own[own["stance"].isin(["support", "oppose"])].copy()
    own["year"] = own["doc_id"].map({d: (str(v)[:4] or "undated") for d, v in zip(documents["doc_id"], documents["date"])})
    own.loc[own["target"] == "", "target"] = "other"
    grouped = own.groupby(keys)["stance"]
    return {k: (int((g == "support").sum()), int((g == "oppose").sum())) for k, g in grouped}


def test_several_speakers_are_compared_by_issue_target_and_year(multi_reports, taxonomy):
    _, files, predictions, documents = multi_reports
    parser = _Cells()
    parser.feed(files["report.html"])
    got = {}
    for c in parser.cells:
        got.setdefault(c["table"], {})[(c["speaker"], c["issue"], c["target"], c["year"])] = (int(c["count"]), int(c["net"]))
    by_issue = _expected(predictions, documents, ["speaker", "issue"])
    assert got["speaker-issue"] == {(s, i, "", None): (p + o, p - o) for (s, i), (p, o) in by_issue.items() if i != "other"}
    by_target = _expected(predictions, documents, ["speaker", "issue", "target"])
    assert got["by-target-dprk"] == {(s, i, t, None): (p + o, p - o) for (s, i, t), (p, o) in by_target.items() if i == "dprk"}
    by_year = _expected(predictions, documents, ["speaker", "year", "issue"])
    year_table = files["report.html"].split('id="speaker-year"')[1].split("</table>")[0]
    issues = [i.id for i in taxonomy.topical_issues]
    got_years = {}
    for speaker, year, cells in re.findall(r'<tr data-speaker="([^"]*)" data-rank="\d+" data-year="([^"]*)">(.*?)</tr>', year_table):
        texts = re.findall(r"<td[^>]*>([^<]*)</td>", cells)[2:]
        got_years.update({(speaker.replace("&#34;", '"'), year, i): t for i, t in zip(issues, texts) if t})
    sign = lambda p, o: f"{'+' if p > o else '−' if p < o else '±'}{abs(p - o)} (+{p}/−{o})"
    assert got_years == {(s, y, i): sign(p, o) for (s, y, i), (p, o) in by_year.items() if i != "other"}
    assert {y for (_, y, _) in got_years} == {"2015", "2016", "2017", "undated"}
    # speakers are rows, most claims first
    claims = {s: sum(p + o for (sp, _), (p, o) in by_issue.items() if sp == s) for s, _, _ in SPEAKERS}
    order = re.findall(r'<tr data-speaker="([^"]*)" data-rank="(\d+)"><td>', files["report.html"].split('id="speaker-issue"')[1].split("</table>")[0])
    assert [s for s, _ in order] == [s.replace('"', "&#34;") for s in sorted(claims, key=lambda s: (-claims[s], s))]

    summary = files["summary.md"]
    assert "## Speakers compared" in summary and "## Stance by year" in summary and "### North Korea: speakers by target" in summary
    p, o = by_issue[("China", "dprk")]
    row = next(line for line in summary.splitlines() if line.startswith("| China | "))
    assert f" {'+' if p > o else '−' if p < o else '±'}{abs(p - o)} (+{p}/−{o}) |" in row
    assert "claims of 3 main speakers, mostly" in _finding(summary, "North Korea")
    assert "claims of 1 main speaker, mostly" in _finding(summary, "Iran")  # only one speaks of Iran


def test_positions_csv_has_a_row_per_speaker_and_neutralises_formula_cells(multi_reports, taxonomy):
    out, files, predictions, documents = multi_reports
    raw = pd.read_csv(out / "positions.csv", keep_default_na=False)
    assert raw["speaker"].str.startswith("=").sum() == 0 and raw["speaker"].str.startswith("'=HYPERLINK").any()
    table = restored_frame(raw)
    expected = _expected(predictions, documents, ["speaker", "issue", "target"])
    got = {(r.speaker, r.issue, r.target): (r.support, r.oppose) for r in table.itertuples() if r.target}
    assert got == {k: v for k, v in expected.items() if k[1] != "other"}
    china = table[(table["speaker"] == "China") & (table["issue"] == "dprk")]
    assert china["first_date"].min() == "2015-09-28" and china["last_date"].max() == "2016-09-22"
    france = table[(table["speaker"] == "France")]
    assert (france[france["documents"] == 1]["first_date"].isin(["2015-09-28", ""])).all()


def many_speakers(predictions, documents, n=210):
    """``n`` speakers, each one short document (a few claims of the seeds)."""
    source = sorted(documents["doc_id"])[0]
    base = predictions[(predictions["doc_id"] == source) & (predictions["role"] == "main") & ~predictions["is_furniture"]].head(40)
    rows, docs = [], []
    for k in range(n):
        doc_id = f"SP{k:03d}_{2000 + k % 20}.txt"
        part = base.iloc[: 5 + k % 30].assign(doc_id=doc_id)
        part.loc[part["role"] == "main", "speaker"] = f"speaker {k:03d}"
        rows.append(part)
        docs.append(documents[documents["doc_id"] == source].assign(doc_id=doc_id, date=f"{2000 + k % 20}-09-20", speaker=f"speaker {k:03d}"))
    return pd.concat(rows, ignore_index=True), pd.concat(docs, ignore_index=True)


@pytest.fixture(scope="module")
def crowd_reports(tmp_path_factory, taxonomy):
    predictions, documents, set_aside = labelled_predictions(LABELS.parent / "seeds")
    predictions, documents = many_speakers(predictions, documents)
    out = tmp_path_factory.mktemp("crowd")
    files = _run_report(predictions, documents, set_aside, taxonomy, out, max_table_rows=1500, max_documents_shown=20)
    return out, files, predictions


def test_two_hundred_speakers_are_rows_and_every_cell_has_evidence_in_the_page(crowd_reports, taxonomy):
    _, files, predictions = crowd_reports
    page = files["report.html"]
    table = page.split('id="speaker-issue"')[1].split("</table>")[0]
    assert table.count("<th>") == 3 + len(taxonomy.topical_issues)  # speakers are rows, never columns
    assert table.count("<tr data-speaker=") == predictions.loc[predictions["role"] == "main", "speaker"].nunique() == 210
    parser = _Cells()
    parser.feed(page)
    shown = set(re.findall(r'<tr class="[^"]*" data-issue="([^"]*)" data-stance="[^"]*" data-target="([^"]*)" data-speaker="([^"]*)"', page))
    assert len(re.findall(r'<tr class="[^"]*" data-issue=', page)) <= 1500
    for c in parser.cells:
        if c["table"] == "speaker-issue":
            assert any(i == c["issue"] and s == c["speaker"] for i, _, s in shown), c
        elif c["table"].startswith("by-target"):
            assert (c["issue"], c["target"], c["speaker"]) in shown, c


def test_speaker_tables_page_filter_and_link_to_their_evidence_in_a_real_browser(multi_reports, crowd_reports, taxonomy):
    from playwright.sync_api import sync_playwright

    out, _, predictions, documents = multi_reports
    content = predictions[~predictions["is_furniture"]]
    by_issue = _expected(predictions, documents, ["speaker", "issue"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto((out / "report.html").as_uri())
        table = page.locator("#speaker-issue tbody tr:not([hidden])")
        assert table.count() == len({s for s, _, _ in SPEAKERS})
        assert page.locator("#speaker-issue thead th").count() == 3 + len(taxonomy.topical_issues)

        # a speaker x issue cell shows that speaker's sentences on that issue
        cell = page.locator('#speaker-issue tr[data-speaker="China"] a.ev[data-issue="dprk"]')
        p_, o_ = by_issue[("China", "dprk")]
        assert cell.inner_text() == f"{'+' if p_ > o_ else '−' if p_ < o_ else '±'}{abs(p_ - o_)} (+{p_}/−{o_})"
        cell.click()
        visible = page.locator("#sentences tbody tr:not([hidden])")
        assert visible.count() == int(((content["speaker"] == "China") & (content["issue"] == "dprk")).sum()) > 0
        assert page.input_value("#f-speaker") == "China" and page.input_value("#f-issue") == "dprk"
        assert page.evaluate("document.getElementById('all-sentences').getBoundingClientRect().top") < 100  # scrolled there
        # a by-target cell (the analyst picks the issue) narrows to claims on that target
        assert page.locator("#by-target-iran").is_hidden() and page.locator("#by-target-dprk").is_visible()
        page.select_option("#target-issue", "iran")
        assert page.locator("#by-target-iran").is_visible() and page.locator("#by-target-dprk").is_hidden()
        page.select_option("#target-issue", "dprk")
        link = page.locator('#by-target-dprk tr[data-speaker="France"] a.ev[data-target="sanctions_pressure"]')
        count = int(link.get_attribute("data-count"))
        link.click()
        assert visible.count() == count == int(((content["speaker"] == "France") & (content["issue"] == "dprk") & (content["target"] == "sanctions_pressure")).sum()) > 0
        visible.first.locator("a").click()  # and on to the sentence in its document
        assert page.locator(page.evaluate("location.hash")).is_visible()
        assert page.locator("#speaker-year tbody tr").count() == len({(s, d[:4] or "undated") for s, _, d in SPEAKERS})

        # 210 speakers: 25 a page, most claims first, filterable by name
        crowd, _, _ = crowd_reports
        page.goto((crowd / "report.html").as_uri())
        rows = page.locator("#speaker-issue tbody tr:not([hidden])")
        assert rows.count() == 25 and "of 9 (210 speakers)" in page.inner_text("#speaker-page")
        claims = [int(c) for c in page.locator("#speaker-issue tbody tr td:nth-child(2)").all_inner_texts()]
        assert claims == sorted(claims, reverse=True)
        first_page = rows.first.get_attribute("data-speaker")
        page.click("#speaker-next")
        assert rows.count() == 25 and rows.first.get_attribute("data-speaker") != first_page
        assert page.locator("#by-target-dprk tbody tr:not([hidden])").count() == 25
        page.fill("#speaker-filter", "speaker 007")
        assert rows.count() == 1 and rows.first.get_attribute("data-speaker") == "speaker 007"
        assert page.locator("#speaker-year tbody tr:not([hidden])").count() == 1
        browser.close()
    assert errors == []
