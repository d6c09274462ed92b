"""``report.html``: one self-contained page (no network at view time) that answers "where does
the speaker stand on each issue, toward what, how sure are we, and show me the sentences"; with
several main speakers, it compares them by issue, by target and by year.

The page is rendered from ``templates/report.html.j2`` with Jinja2's autoescaping: document text
is escaped wherever it goes, so a document holding ``<script>`` shows the characters. This module
computes what the page shows (chart geometry, the rows of its tables); stance words and colours
come from the taxonomy.
"""

from __future__ import annotations

from itertools import groupby
from operator import itemgetter

import pandas as pd

from pipeline.report import (
    claim_targets, con_stance, environment, findings_list, issue_findings, issue_positions, main_claims,
    main_speakers, pro_stance, speaker_comparison, speaker_list,
)
from pipeline.taxonomy import Taxonomy


def issue_bars(findings: pd.DataFrame, taxonomy: Taxonomy) -> dict:
    """Per issue, a bar split by the share of the main speaker's sentences in each stance."""
    row, label_w, bar_w = 34, 210, 400
    bars = []
    for i, (_, f) in enumerate(findings.iterrows()):
        y = 10 + i * row
        total = sum(int(f[s.id]) for s in taxonomy.stances)
        x, segments = label_w, []
        for s in taxonomy.stances:
            n = int(f[s.id])
            w = bar_w * n / total if total else 0
            if w:
                segments.append({"stance": s, "n": n, "x": x, "w": w, "share": 100 * n / total})
            x += w
        bars.append({"issue": f["issue"], "name": f["name"], "y": y, "total": total, "segments": segments,
                     "counts": " · ".join(f"{int(f[s.id])} {s.id}" for s in taxonomy.stances), "documents": int(f["documents"])})
    return {"width": 980, "height": row * len(findings) + 30, "label_w": label_w, "bar_w": bar_w, "bars": bars}


def timeline(predictions: pd.DataFrame, documents: pd.DataFrame, taxonomy: Taxonomy, max_bins: int = 60) -> dict:
    """Claims of the main speaker per document, in date order (or file order when undated):
    for above the line, against below. Many documents are grouped into at most ``max_bins``."""
    pro, con = pro_stance(taxonomy), con_stance(taxonomy)
    docs = documents.assign(order=range(len(documents))).sort_values(["date", "order"], key=lambda c: c.replace("", "9999") if c.name == "date" else c)
    own = predictions[(predictions["role"] == "main")]
    counts = own.groupby(["doc_id", "stance"]).size().unstack(fill_value=0)
    ids = list(docs["doc_id"])
    position = {d: n for n, d in enumerate(ids)}
    size = max(1, -(-len(ids) // max_bins))
    bins = [ids[i : i + size] for i in range(0, len(ids), size)]
    height, mid, bar = 220, 110, max(6, min(40, 680 // max(1, len(bins)) - 4))

    def total(b, stance):
        return int(counts.reindex(b)[stance].sum()) if stance in counts else 0

    sums = [(total(b, pro.id), total(b, con.id)) for b in bins]
    top = max([1] + [v for pair in sums for v in pair])
    dates = dict(zip(docs["doc_id"], docs["date"]))
    out = []
    for i, (b, (sup, opp)) in enumerate(zip(bins, sums)):
        label = (dates[b[0]] or f"#{position[b[0]] + 1}") if len(b) == 1 else f"#{position[b[0]] + 1}–{position[b[-1]] + 1}"
        out.append({"x": 44 + i * (bar + 4), "pro": sup, "con": opp, "hs": (mid - 10) * sup / top, "ho": (mid - 10) * opp / top,
                    "label": label, "names": ", ".join(b[:3]) + (" …" if len(b) > 3 else "")})
    return {"width": 60 + len(bins) * (bar + 4), "height": height, "mid": mid, "bar": bar, "bins": out}


def document_issue_rows(predictions: pd.DataFrame, documents: pd.DataFrame, taxonomy: Taxonomy, limit: int) -> list[dict]:
    pro, con = pro_stance(taxonomy), con_stance(taxonomy)
    own = predictions[(predictions["role"] == "main") & predictions["stance"].isin(taxonomy.claim_stances)]
    counts = own.groupby(["doc_id", "issue", "stance"]).size()
    rows = []
    for n, doc in enumerate(documents.head(limit).itertuples()):
        cells = []
        for issue in taxonomy.topical_issues:
            s, o = int(counts.get((doc.doc_id, issue.id, pro.id), 0)), int(counts.get((doc.doc_id, issue.id, con.id), 0))
            cells.append({"pro": s, "con": o, "lean": "pro" if s > o else "con" if o > s else "none"})
        rows.append({"n": n, "doc_id": doc.doc_id, "date": doc.date, "cells": cells})
    return rows


def sentence_rows(predictions: pd.DataFrame, taxonomy: Taxonomy, limit: int) -> tuple[pd.DataFrame, str]:
    """The rows the table shows: all of them, or, past ``limit``, first the strongest claim of
    every main speaker on every issue and target (so every cell of the speaker tables has
    evidence in the page), then the other claims strongest first, then the rest in document
    order, up to ``limit``."""
    content = predictions[~predictions["is_furniture"]]
    if len(content) <= limit:
        return content, ""
    claims = main_claims(content, taxonomy)
    claims = claims.assign(_target=claim_targets(claims, taxonomy))
    first = claims.groupby(["speaker", "issue", "_target"], sort=False).head(1)
    chosen = pd.concat([first, claims.drop(first.index)]).head(limit).drop(columns=["_target", "strength"])
    rest = content.drop(chosen.index).head(max(0, limit - len(chosen)))
    shown = pd.concat([chosen, rest]).sort_values(["doc_id", "sentence_id"])
    return shown, (f"Showing {len(shown):,} of {len(content):,} sentences: the strongest claim of each speaker on each issue and target, "
                   "then the other claims strongest first, then the rest in order. sentences.csv holds them all.")


def document_views(predictions: pd.DataFrame, documents: pd.DataFrame, taxonomy: Taxonomy, limit: int) -> list[dict]:
    shown_docs = documents.head(limit)
    in_shown = predictions[predictions["doc_id"].isin(set(shown_docs["doc_id"]))].sort_values(["doc_id", "sentence_id"])
    records = {doc: list(rows) for doc, rows in groupby(in_shown.to_dict("records"), key=itemgetter("doc_id"))}
    views = []
    for n, doc in enumerate(shown_docs.itertuples()):
        paragraphs = [list(para) for _, para in groupby(records.get(doc.doc_id, []), key=itemgetter("paragraph"))]
        views.append({"n": n, "doc": doc, "paragraphs": paragraphs})
    return views


def render(
    predictions: pd.DataFrame, documents: pd.DataFrame, set_aside: pd.DataFrame, taxonomy: Taxonomy,
    model_version: str, low_confidence: float, max_table_rows: int = 5000, max_documents_shown: int = 200,
) -> str:
    documents = documents.sort_values("doc_id").reset_index(drop=True)
    doc_index = {d: i for i, d in enumerate(documents["doc_id"])}
    findings = issue_findings(predictions, taxonomy)
    claims = main_claims(predictions, taxonomy)
    content = predictions[~predictions["is_furniture"]]
    speakers = main_speakers(predictions, taxonomy)
    positions = issue_positions(predictions, taxonomy, claims)
    shown, note = sentence_rows(predictions, taxonomy, max_table_rows)
    target_names = {}
    for issue in taxonomy.issues:
        for t in taxonomy.target_ids(issue.id):
            target_names.setdefault(t, taxonomy.target_name(issue.id, t))
    issue_names = {i.id: i.name for i in taxonomy.issues}
    filters = [
        ("issue", [(i, issue_names[i]) for i in taxonomy.issue_ids]),
        ("stance", [(s, s) for s in taxonomy.stance_ids]),
        ("target", list(target_names.items())),
        ("speaker", [(s, s) for s in sorted(set(shown["speaker"]))]),
        ("doc", [(d, d) for d in documents["doc_id"]]),
    ]
    rows = _rows(shown, taxonomy, doc_index, low_confidence)
    return environment(True).get_template("report.html.j2").render(
        taxonomy=taxonomy, stances=taxonomy.stances, pro=pro_stance(taxonomy), con=con_stance(taxonomy), issue_names=issue_names,
        header=f"{len(documents)} document(s), {len(content):,} sentences; main speaker(s): {speaker_list(speakers)}; model {model_version}",
        findings=findings_list(predictions, taxonomy, claims, positions, len(speakers)), positions=positions,
        chart=issue_bars(findings, taxonomy), timeline=timeline(predictions, documents, taxonomy),
        doc_rows=document_issue_rows(predictions, documents, taxonomy, max_documents_shown), documents=documents,
        max_documents_shown=max_documents_shown,
        comparison=speaker_comparison(predictions, documents, taxonomy) if len(speakers) > 1 else None,
        filters=filters, note=note, rows=rows, low=f"{low_confidence:.2f}",
        doc_views=document_views(predictions, documents, taxonomy, max_documents_shown),
        set_aside=set_aside if set_aside is not None else pd.DataFrame(columns=["path", "reason"]),
    )


def _rows(shown: pd.DataFrame, taxonomy: Taxonomy, doc_index: dict[str, int], low_confidence: float) -> list[dict]:
    targets = claim_targets(shown, taxonomy)
    return [{"r": r, "target": t, "anchor": f"s-{doc_index[r.doc_id]}-{r.sentence_id}",
             "low": min(r.issue_confidence, r.stance_confidence) < low_confidence}
            for r, t in zip(shown.itertuples(), targets)]
