"""``report.html``: one self-contained page (no network at view time) that answers "where does
the speaker stand on each issue, how sure are we, and show me the sentences".

Charts are inline SVG drawn here; the only script filters the sentence table. Every piece of
document text goes through ``html.escape``: a document holding ``<script>`` shows the characters.
"""

from __future__ import annotations

import html
import json
from itertools import groupby
from operator import itemgetter

import pandas as pd

from pipeline.report import finding_parts, issue_findings, main_claims, speaker_list
from pipeline.taxonomy import Taxonomy

COLOURS = {"support": "#1b7837", "oppose": "#b2182b", "neutral": "#9e9e9e"}


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def _stance_colour(stance: str) -> str:
    return COLOURS.get(stance, "#5e81ac")


def issue_bars_svg(findings: pd.DataFrame, taxonomy: Taxonomy) -> str:
    """Per issue, a bar split by the share of the main speaker's sentences in each stance."""
    width, row, label_w, bar_w = 980, 34, 210, 400
    stances = taxonomy.stance_ids
    parts = [f'<svg class="chart" id="issue-chart" role="img" aria-label="Stance by issue" width="{width}" height="{row * len(findings) + 30}" viewBox="0 0 {width} {row * len(findings) + 30}">']
    for i, (_, f) in enumerate(findings.iterrows()):
        y = 10 + i * row
        total = sum(int(f[s]) for s in stances)
        parts.append(f'<text x="0" y="{y + 17}" class="axis">{esc(f["name"])}</text>')
        x = label_w
        for s in stances:
            n = int(f[s])
            w = bar_w * n / total if total else 0
            if w:
                share = 100 * n / total
                parts.append(f'<rect class="bar bar-{esc(s)}" data-issue="{esc(f["issue"])}" data-stance="{esc(s)}" data-count="{n}" '
                             f'x="{x:.1f}" y="{y}" width="{w:.1f}" height="22" fill="{_stance_colour(s)}"><title>{esc(f["name"])}: {n} {esc(s)} ({share:.0f}%)</title></rect>')
                if w > 34:
                    parts.append(f'<text x="{x + w / 2:.1f}" y="{y + 15}" class="inbar">{share:.0f}%</text>')
            x += w
        if not total:
            parts.append(f'<text x="{label_w}" y="{y + 16}" class="axis muted">no sentences</text>')
        counts = " · ".join(f"{int(f[s])} {s}" for s in stances)
        parts.append(f'<text x="{label_w + bar_w + 8}" y="{y + 16}" class="axis small">{esc(counts)} · {int(f["documents"])} doc(s)</text>')
    parts.append("</svg>")
    return "".join(parts)


def timeline_svg(predictions: pd.DataFrame, documents: pd.DataFrame, taxonomy: Taxonomy, max_bins: int = 60) -> str:
    """Claims of the main speaker per document, in date order (or file order when undated):
    support above the line, oppose below. Many documents are grouped into at most ``max_bins``."""
    docs = documents.assign(order=range(len(documents))).sort_values(["date", "order"], key=lambda c: c.replace("", "9999") if c.name == "date" else c)
    own = predictions[(predictions["role"] == "main")]
    counts = own.groupby(["doc_id", "stance"]).size().unstack(fill_value=0)
    ids = list(docs["doc_id"])
    size = max(1, -(-len(ids) // max_bins))
    bins = [ids[i : i + size] for i in range(0, len(ids), size)]
    height, mid, bar = 220, 110, max(6, min(40, 680 // max(1, len(bins)) - 4))
    top = max([1] + [int(counts.reindex(b).get(s, pd.Series(dtype=int)).sum()) for b in bins for s in ("support", "oppose")])
    width = 60 + len(bins) * (bar + 4)
    parts = [f'<svg class="chart" id="timeline-chart" role="img" aria-label="Stance by document over time" width="{width}" height="{height + 60}" viewBox="0 0 {width} {height + 60}">',
             f'<line x1="40" x2="{width}" y1="{mid}" y2="{mid}" stroke="#444"/>',
             f'<text x="0" y="20" class="axis small">support</text><text x="0" y="{height - 6}" class="axis small">oppose</text>']
    dates = dict(zip(docs["doc_id"], docs["date"]))
    for i, b in enumerate(bins):
        x = 44 + i * (bar + 4)
        sup = int(counts.reindex(b)["support"].sum()) if "support" in counts else 0
        opp = int(counts.reindex(b)["oppose"].sum()) if "oppose" in counts else 0
        label = (dates[b[0]] or f"#{ids.index(b[0]) + 1}") if len(b) == 1 else f"#{ids.index(b[0]) + 1}–{ids.index(b[-1]) + 1}"
        names = ", ".join(b[:3]) + (" …" if len(b) > 3 else "")
        hs, ho = (mid - 10) * sup / top, (mid - 10) * opp / top
        parts.append(f'<rect class="tl tl-support" data-count="{sup}" x="{x}" y="{mid - hs:.1f}" width="{bar}" height="{hs:.1f}" fill="{COLOURS["support"]}"><title>{esc(names)} ({esc(label)}): {sup} support</title></rect>')
        parts.append(f'<rect class="tl tl-oppose" data-count="{opp}" x="{x}" y="{mid}" width="{bar}" height="{ho:.1f}" fill="{COLOURS["oppose"]}"><title>{esc(names)} ({esc(label)}): {opp} oppose</title></rect>')
        parts.append(f'<text class="axis small" transform="translate({x + bar / 2:.1f},{height + 4}) rotate(60)">{esc(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def document_issue_table(predictions: pd.DataFrame, documents: pd.DataFrame, taxonomy: Taxonomy, limit: int) -> str:
    own = predictions[(predictions["role"] == "main") & predictions["stance"].isin(taxonomy.claim_stances)]
    counts = own.groupby(["doc_id", "issue", "stance"]).size()
    issues = taxonomy.topical_issues
    rows = ['<table id="doc-issue" class="grid"><thead><tr><th>document</th><th>date</th>' + "".join(f"<th>{esc(i.name)}</th>" for i in issues) + "</tr></thead><tbody>"]
    for n, doc in enumerate(documents.head(limit).itertuples()):
        cells = []
        for issue in issues:
            s = int(counts.get((doc.doc_id, issue.id, "support"), 0))
            o = int(counts.get((doc.doc_id, issue.id, "oppose"), 0))
            lean = "lean-support" if s > o else "lean-oppose" if o > s else "lean-none"
            cells.append(f'<td class="{lean}" title="{s} support, {o} oppose">{"" if s + o == 0 else f"+{s} / −{o}"}</td>')
        rows.append(f'<tr><td><a href="#doc-{n}">{esc(doc.doc_id)}</a></td><td>{esc(doc.date or "–")}</td>{"".join(cells)}</tr>')
    rows.append("</tbody></table>")
    if len(documents) > limit:
        rows.append(f'<p class="muted">First {limit} of {len(documents)} documents; every document is counted in the charts.</p>')
    return "".join(rows)


def sentence_rows(predictions: pd.DataFrame, taxonomy: Taxonomy, limit: int) -> tuple[pd.DataFrame, str]:
    """The rows the table shows: all of them, or, past ``limit``, every claim of the main speaker
    strongest first and then the rest in document order, up to ``limit``."""
    content = predictions[~predictions["is_furniture"]]
    if len(content) <= limit:
        return content, ""
    claims = main_claims(content, taxonomy).head(limit)
    rest = content.drop(claims.index).head(max(0, limit - len(claims)))
    shown = pd.concat([claims, rest]).sort_values(["doc_id", "sentence_id"])
    return shown, f"Showing {len(shown):,} of {len(content):,} sentences: the main speaker's strongest claims first, then the rest in order. sentences.csv holds them all."


def render(
    predictions: pd.DataFrame, documents: pd.DataFrame, set_aside: pd.DataFrame, taxonomy: Taxonomy,
    model_version: str, low_confidence: float, max_table_rows: int = 5000, max_documents_shown: int = 200,
) -> str:
    documents = documents.sort_values("doc_id").reset_index(drop=True)
    doc_index = {d: i for i, d in enumerate(documents["doc_id"])}
    findings = issue_findings(predictions, taxonomy)
    claims = main_claims(predictions, taxonomy)
    content = predictions[~predictions["is_furniture"]]
    issue_names = {i.id: i.name for i in taxonomy.issues}

    glance = []
    for _, f in findings.iterrows():
        lead, quotes = finding_parts(f, claims)
        quote_html = "".join(f'<blockquote class="q-{esc(st)}">{esc(st)}: “{esc(text)}”</blockquote>' for st, text in quotes)
        glance.append(f'<li class="finding" data-issue="{esc(f["issue"])}"><strong>{esc(f["name"])}</strong>: {esc(lead)}{quote_html}</li>')

    shown, note = sentence_rows(predictions, taxonomy, max_table_rows)
    options = {
        "issue": taxonomy.issue_ids, "stance": taxonomy.stance_ids,
        "speaker": sorted(set(shown["speaker"])), "doc": list(documents["doc_id"]),
    }
    selects = "".join(
        f'<label>{name} <select id="f-{name}" data-field="{name}"><option value="">all</option>'
        + "".join(f'<option value="{esc(v)}">{esc(issue_names.get(v, v) if name == "issue" else v)}</option>' for v in values)
        + "</select></label>"
        for name, values in options.items()
    )
    body = []
    for r in shown.itertuples():
        low = min(r.issue_confidence, r.stance_confidence) < low_confidence
        anchor = f"s-{doc_index[r.doc_id]}-{r.sentence_id}"
        body.append(
            f'<tr class="{"low" if low else ""}" data-issue="{esc(r.issue)}" data-stance="{esc(r.stance)}" data-speaker="{esc(r.speaker)}" data-doc="{esc(r.doc_id)}">'
            f'<td>{esc(r.doc_id)}</td><td>{r.sentence_id}</td><td>{esc(r.speaker)}</td><td>{esc(issue_names.get(r.issue, r.issue))}</td>'
            f'<td class="st-{esc(r.stance)}">{esc(r.stance)}</td><td>{r.issue_confidence:.2f} / {r.stance_confidence:.2f}{" <span class=warn>⚠ low</span>" if low else ""}</td>'
            f'<td class="text"><a href="#{anchor}">{esc(r.text)}</a></td></tr>'
        )

    docs_html = []
    shown_docs = documents.head(max_documents_shown)
    in_shown = predictions[predictions["doc_id"].isin(set(shown_docs["doc_id"]))].sort_values(["doc_id", "sentence_id"])
    records = {doc: list(rows) for doc, rows in groupby(in_shown.to_dict("records"), key=itemgetter("doc_id"))}
    for n, doc in enumerate(shown_docs.itertuples()):
        paragraphs = []
        for _, para in groupby(records.get(doc.doc_id, []), key=itemgetter("paragraph")):
            spans = []
            for r in para:
                anchor = f"s-{n}-{r['sentence_id']}"
                if r["is_furniture"]:
                    spans.append(f'<span id="{anchor}" class="sent furniture" title="page furniture: {esc(r["furniture_reason"])}">{esc(r["text"])}</span>')
                    continue
                tag = "" if r["issue"] == taxonomy.furniture_issue else f'<sup class="tag">{esc(r["issue"])}</sup>'
                badge = {"question": '<span class="badge">Q</span>', "narration": '<span class="badge">narration</span>'}.get(r["role"], "")
                spans.append(f'<span id="{anchor}" class="sent st-{esc(r["stance"])} role-{esc(r["role"])}" '
                             f'title="{esc(r["speaker"])} · {esc(r["issue"])} · {esc(r["stance"])} ({r["stance_confidence"]:.2f})">{badge}{esc(r["text"])}</span>{tag}')
            paragraphs.append("<p>" + " ".join(spans) + "</p>")
        docs_html.append(f'<section class="doc" id="doc-{n}"><h3>{esc(doc.doc_id)}</h3><p class="meta">{esc(doc.title)} — {esc(doc.date or "date not stated")}'
                         f'{" — " + esc(doc.source) if doc.source else ""}</p>{"".join(paragraphs)}</section>')
    if len(documents) > max_documents_shown:
        docs_html.append(f'<p class="muted">The first {max_documents_shown} of {len(documents)} documents are shown in full; sentences.csv holds every sentence.</p>')

    aside = ""
    if set_aside is not None and len(set_aside):
        aside = "<h2>Files set aside</h2><ul>" + "".join(f"<li><code>{esc(q.path)}</code>: {esc(q.reason)}</li>" for q in set_aside.itertuples()) + "</ul>"
    speakers = sorted(set(predictions.loc[predictions["role"] == "main", "speaker"]))
    data = json.dumps({"rows": len(body), "sentences": int(len(content))}).replace("<", "\\u003c")
    return TEMPLATE.format(
        css=CSS, script=SCRIPT, data=data,
        header=esc(f"{len(documents)} document(s), {len(content):,} sentences; main speaker(s): {speaker_list(speakers)}; model {model_version}"),
        glance="".join(glance), issue_chart=issue_bars_svg(findings, taxonomy),
        timeline=timeline_svg(predictions, documents, taxonomy), doc_table=document_issue_table(predictions, documents, taxonomy, max_documents_shown),
        selects=selects, note=esc(note), rows="".join(body), total=len(body), documents="".join(docs_html), aside=aside,
        low=f"{low_confidence:.2f}",
        legend="".join(f'<span class="key" style="background:{c}"></span>{s} ' for s, c in COLOURS.items()),
    )


CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;color:#222}
h1{margin:.2em 0}h2{margin-top:1.6em;border-bottom:1px solid #ddd}.muted{color:#777}.small{font-size:12px}
.chart text.axis{font-size:13px;fill:#222}.chart text.small{font-size:11px}.chart text.inbar{font-size:11px;fill:#fff;text-anchor:middle}
.key{display:inline-block;width:12px;height:12px;margin:0 4px 0 10px;vertical-align:middle}
ul.findings{padding-left:1.2em}blockquote{margin:.2em 0 .2em 1em;font-size:13px;color:#444}
blockquote.q-support{border-left:3px solid #1b7837;padding-left:6px}blockquote.q-oppose{border-left:3px solid #b2182b;padding-left:6px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top}
td.lean-support{background:#e3f1e6}td.lean-oppose{background:#f8e1e1}
.st-support{color:#1b7837;font-weight:600}.st-oppose{color:#b2182b;font-weight:600}.st-neutral{color:#666}
tr.low{background:#fff6d6}.warn{color:#a05a00;font-weight:600}
#filters label{margin-right:10px}#filters input{width:220px}
.doc p{margin:.4em 0}.sent{padding:1px 2px;border-radius:3px}
.sent.st-support{background:#d9efdd;color:inherit;font-weight:normal}.sent.st-oppose{background:#f6d5d5;color:inherit;font-weight:normal}
.sent.st-neutral{background:transparent;color:inherit;font-weight:normal}
.sent.role-question{font-style:italic;color:#3b5b92;background:#eef2fa}.sent.role-narration{color:#666;border-left:3px solid #bbb;padding-left:4px}
.sent.furniture{color:#aaa;font-size:12px}.sent:target{outline:2px solid #f0a500}
.tag{font-size:10px;color:#555;margin-left:1px}.badge{font-size:10px;background:#3b5b92;color:#fff;border-radius:3px;padding:0 3px;margin-right:3px;font-style:normal}
.table-wrap{max-height:70vh;overflow:auto;border:1px solid #eee}
"""

SCRIPT = """
(function(){
  var rows = Array.prototype.slice.call(document.querySelectorAll('#sentences tbody tr'));
  var selects = Array.prototype.slice.call(document.querySelectorAll('#filters select'));
  var search = document.getElementById('f-text');
  var shown = document.getElementById('shown');
  function apply(){
    var q = search.value.trim().toLowerCase(), n = 0;
    rows.forEach(function(tr){
      var ok = selects.every(function(s){ return !s.value || tr.dataset[s.dataset.field] === s.value; });
      if (ok && q) ok = tr.lastElementChild.textContent.toLowerCase().indexOf(q) !== -1;
      tr.hidden = !ok; if (ok) n++;
    });
    shown.textContent = String(n);
  }
  selects.forEach(function(s){ s.addEventListener('change', apply); });
  search.addEventListener('input', apply);
  apply();
})();
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Where the speaker stands</title><style>{css}</style></head>
<body>
<h1>Where the speaker stands</h1>
<p class="muted">{header}</p>
<section id="glance"><h2>At a glance</h2>
<p class="small">Share of the main speaker's sentences on each issue that support, oppose or take no stance (questions and narration left out). {legend}</p>
{issue_chart}
<ul class="findings">{glance}</ul></section>
<section id="over-time"><h2>Stance by document over time</h2>
<p class="small">Claims of the main speaker per document, by date (or file order where a document states none): support above the line, oppose below.</p>
{timeline}
<h3>Documents × issues</h3><p class="small">Supporting / opposing claims of the main speaker.</p>{doc_table}</section>
<section id="all-sentences"><h2>All sentences</h2>
<p class="small">{note} Rows marked ⚠ have an issue or stance confidence below {low}. Click a sentence to see it in its document.</p>
<div id="filters">{selects}<label>text <input id="f-text" type="search" placeholder="search the sentences"></label>
<span class="muted"><span id="shown">{total}</span> of {total} rows</span></div>
<div class="table-wrap"><table id="sentences"><thead><tr><th>document</th><th>#</th><th>speaker</th><th>issue</th><th>stance</th><th>confidence (issue / stance)</th><th>sentence</th></tr></thead>
<tbody>{rows}</tbody></table></div></section>
<section id="documents"><h2>Documents</h2>
<p class="small">Sentences coloured by stance (green support, red oppose), tagged by issue; <span class="sent role-question">questions</span> and <span class="sent role-narration">narration</span> are set apart from the speaker's own words; page furniture is grey.</p>
{documents}</section>
{aside}
<script type="application/json" id="report-data">{data}</script>
<script>{script}</script>
</body></html>
"""
