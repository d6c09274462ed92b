"""Report: ``summary.md`` (where the main speaker stands, issue by issue, with evidence) and
``sentences.csv`` (every sentence). Both are byte-identical for the same inputs and model."""

from __future__ import annotations

import html
import re

import pandas as pd

from pipeline.files import csv_text
from pipeline.taxonomy import Taxonomy

SENTENCE_COLUMNS = [
    "doc_id", "sentence_id", "start", "end", "paragraph", "speaker", "role", "is_furniture",
    "furniture_reason", "issue", "issue_confidence", "stance", "stance_confidence", "text",
]


def sentences_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``sentences.csv``, in document order."""
    return predictions.sort_values(["doc_id", "sentence_id"])[SENTENCE_COLUMNS].reset_index(drop=True)


def sentences_csv(predictions: pd.DataFrame) -> str:
    return csv_text(sentences_table(predictions), float_format="%.4f")


def main_claims(predictions: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """The main speakers' own sentences that take a position (support or oppose), strongest first."""
    own = predictions[(predictions["role"] == "main") & predictions["stance"].isin(taxonomy.claim_stances)]
    strength = own["issue_confidence"] * own["stance_confidence"]
    return own.assign(strength=strength).sort_values(["strength", "doc_id", "sentence_id"], ascending=[False, True, True])


def issue_findings(predictions: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """Per topical issue: the main speakers' sentences by stance, and in how many documents."""
    own = predictions[predictions["role"] == "main"]
    rows = []
    for issue in taxonomy.topical_issues:
        on_issue = own[own["issue"] == issue.id]
        row = {"issue": issue.id, "name": issue.name, "sentences": len(on_issue), "documents": on_issue["doc_id"].nunique()}
        for stance in taxonomy.stance_ids:
            row[stance] = int((on_issue["stance"] == stance).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def speaker_list(speakers: list[str], limit: int = 8, escape=lambda s: s) -> str:
    """Names for a heading: the first few, then how many more."""
    shown = ", ".join(map(escape, speakers[:limit])) or "none found"
    return shown + (f" and {len(speakers) - limit} more" if len(speakers) > limit else "")


def markdown_text(text: str) -> str:
    """Document or metadata text as literal markdown: on one line, HTML special characters as
    entities and markdown's as backslash escapes, so ``<script>`` or ``**`` shows as written
    (the summary is also rendered as a Prefect artifact)."""
    text = html.escape(" ".join(str(text).split()), quote=False)
    text = re.sub(r"([\\`*_\[\]{}|~#!])", r"\\\1", text)
    text = re.sub(r"^(\d+)([.)])", r"\1\\\2", text)  # "1." or "-" opening a line would start a list
    return re.sub(r"^([-+])", r"\\\1", text)


def markdown_code(text: str) -> str:
    """A file name as inline code, fenced by more backticks than it holds."""
    text = " ".join(str(text).split())
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _quote(text: str, limit: int = 300) -> str:
    text = text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return markdown_text(text)


def finding_parts(row: pd.Series, claims: pd.DataFrame) -> tuple[str, list[tuple[str, str]]]:
    """One plain sentence on where the speaker stands on an issue, and the strongest claim
    each way as (stance, text)."""
    support, oppose = int(row.get("support", 0)), int(row.get("oppose", 0))
    if support + oppose == 0:
        return "no claims by the main speaker.", []
    lean = "mostly opposes" if oppose > support else "mostly supports" if support > oppose else "is divided"
    docs = int(row["documents"])
    lead = f"the speaker {lean} ({support} supporting, {oppose} opposing claims in {docs} document{'s' if docs != 1 else ''})."
    quotes = []
    for stance in ("oppose", "support"):
        top = claims[(claims["issue"] == row["issue"]) & (claims["stance"] == stance)].head(1)
        if len(top):
            quotes.append((stance, top.iloc[0]["text"]))
    return lead, quotes


def finding_sentence(row: pd.Series, claims: pd.DataFrame, taxonomy: Taxonomy) -> str:
    """The finding as one markdown line."""
    lead, quotes = finding_parts(row, claims)
    verbs = {"oppose": "Opposes", "support": "Supports"}
    return " ".join([f"**{row['name']}**: {lead}", *(f"{verbs[s]}: “{_quote(t, 160)}”" for s, t in quotes)])


def summary_markdown(
    predictions: pd.DataFrame, documents: pd.DataFrame, taxonomy: Taxonomy, model_version: str,
    top_claims: int, low_confidence: float, set_aside: pd.DataFrame | None = None, max_documents: int = 200,
) -> str:
    findings = issue_findings(predictions, taxonomy)
    claims = main_claims(predictions, taxonomy)
    content = predictions[~predictions["is_furniture"]]
    lines = ["# Where the speaker stands", ""]
    speakers = sorted(set(predictions.loc[predictions["role"] == "main", "speaker"]))
    lines.append(
        f"{len(documents)} document(s), {len(content)} sentences ({len(predictions) - len(content)} furniture lines set apart); "
        f"main speaker(s): {speaker_list(speakers, escape=markdown_text)}; model `{model_version}`."
    )
    lines.append("")
    for _, row in findings.iterrows():
        lines.append(f"- {finding_sentence(row, claims, taxonomy)}")
    lines += ["", "## Stance by issue", "", "Sentences of the main speaker(s) only; questions and narration are left out.", ""]
    header = ["issue", *taxonomy.stance_ids, "sentences", "documents"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in findings.iterrows():
        lines.append("| " + " | ".join(str(row[c]) if c != "issue" else row["name"] for c in header) + " |")
    for issue in taxonomy.topical_issues:
        top = claims[claims["issue"] == issue.id].head(top_claims)
        lines += ["", f"### {issue.name}", "", f"_{issue.description}_", ""]
        if top.empty:
            lines.append("No claims by the main speaker on this issue.")
            continue
        lines.append("Strongest claims:")
        lines.append("")
        for _, c in top.iterrows():
            flag = " ⚠ low confidence" if min(c["issue_confidence"], c["stance_confidence"]) < low_confidence else ""
            lines.append(
                f"1. **{c['stance']}** — “{_quote(c['text'])}” "
                f"({markdown_code(c['doc_id'])}, sentence {c['sentence_id']}; confidence issue {c['issue_confidence']:.2f}, stance {c['stance_confidence']:.2f}{flag})"
            )
    lines += ["", "## Documents", ""]
    content_count = content.groupby("doc_id").size()
    main_rows = predictions[predictions["role"] == "main"]
    main_count = main_rows.groupby("doc_id").size()
    cells = main_rows.groupby(["doc_id", "issue", "stance"]).size()
    shown = documents.sort_values("doc_id").head(max_documents)
    if len(documents) > len(shown):
        lines += [f"The first {len(shown)} of {len(documents)} documents; `sentences.csv` and `report.html` cover them all.", ""]
    for _, doc in shown.iterrows():
        doc_id = doc["doc_id"]
        lines += [f"### {markdown_code(doc_id)}", "", f"{_quote(doc['title'])}  ", f"Date: {doc['date'] or 'not stated'}. "
                  f"Sentences: {int(content_count.get(doc_id, 0))}, of which the main speaker's: {int(main_count.get(doc_id, 0))}.", ""]
        lines += ["| issue | " + " | ".join(taxonomy.stance_ids) + " |", "|---|" + "---|" * len(taxonomy.stance_ids)]
        for issue in taxonomy.issues:
            counts = [int(cells.get((doc_id, issue.id, s), 0)) for s in taxonomy.stance_ids]
            if sum(counts):
                lines.append(f"| {issue.name} | " + " | ".join(map(str, counts)) + " |")
        lines.append("")
    if set_aside is not None and len(set_aside):
        lines += ["## Files set aside", "", "| file | reason |", "|---|---|"]
        for _, q in set_aside.iterrows():
            lines.append(f"| {markdown_code(q['path'])} | {markdown_text(q['reason'])} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
