"""Report: what the main speakers say, issue by issue and target by target, with evidence.

The numbers live here (findings, positions, the speaker comparisons); ``summary.md`` and
``report.html`` are rendered from the Jinja2 templates in ``pipeline/templates``. Stance words
and colours come from the taxonomy. Every output is byte-identical for the same inputs and model.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path

import jinja2
import pandas as pd

from pipeline.files import CsvTable, csv_text
from pipeline.taxonomy import Stance, Taxonomy

TEMPLATES = Path(__file__).parent / "templates"

SENTENCE_COLUMNS = [
    "doc_id", "sentence_id", "start", "end", "paragraph", "speaker", "role", "is_furniture",
    "furniture_reason", "issue", "issue_confidence", "stance", "stance_confidence", "target", "target_confidence", "text",
]
#: the year of a document without a date
UNDATED = "undated"
#: rows of the speaker tables in summary.md (report.html and positions.csv hold them all)
SUMMARY_SPEAKERS = 50
SUMMARY_SPEAKERS_DETAIL = 20
#: targets a finding names each way
FINDING_TARGETS = 3


def sentences_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``sentences.csv``, in document order."""
    return predictions.sort_values(["doc_id", "sentence_id"])[SENTENCE_COLUMNS].reset_index(drop=True)


def sentences_csv(predictions: pd.DataFrame) -> CsvTable:
    """``sentences.csv``, written to its file a chunk at a time (``CsvTable``)."""
    return CsvTable(sentences_table(predictions), float_format="%.4f")


# --- stance words -------------------------------------------------------------------------

def _neutral_stance() -> Stance:
    return Stance("", "", "takes no stance on", "", 0)


def pro_stance(taxonomy: Taxonomy) -> Stance:
    """The stance that counts for (direction +1)."""
    return taxonomy.stance_with_direction(1) or _neutral_stance()


def con_stance(taxonomy: Taxonomy) -> Stance:
    """The stance that counts against (direction -1)."""
    return taxonomy.stance_with_direction(-1) or _neutral_stance()


def directions(taxonomy: Taxonomy) -> dict[str, int]:
    return {s.id: s.direction for s in taxonomy.stances}


# --- the rows reports count ---------------------------------------------------------------

def own_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    """The main speakers' own sentences."""
    return predictions[(predictions["role"] == "main") & ~predictions["is_furniture"]]


def main_claims(predictions: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """The main speakers' own sentences that take a position, strongest first."""
    own = predictions[(predictions["role"] == "main") & predictions["stance"].isin(taxonomy.claim_stances)]
    strength = own["issue_confidence"] * own["stance_confidence"]
    return own.assign(strength=strength).sort_values(["strength", "doc_id", "sentence_id"], ascending=[False, True, True])


def claim_targets(rows: pd.DataFrame, taxonomy: Taxonomy) -> pd.Series:
    """The target each row counts under: its own, ``other`` for a claim without one, "" for a
    sentence that is not a claim."""
    target = rows["target"].fillna("").astype(str) if "target" in rows else pd.Series("", index=rows.index)
    is_claim = rows["stance"].isin(taxonomy.claim_stances)
    return target.where(~is_claim | (target != ""), taxonomy.other_target).where(is_claim, "")


def main_speakers(predictions: pd.DataFrame, taxonomy: Taxonomy) -> list[str]:
    """The main speakers, most claims first (then by name)."""
    own = own_rows(predictions)
    claims = own[own["stance"].isin(taxonomy.claim_stances)].groupby("speaker").size()
    everyone = pd.Series(0, index=sorted(set(own["speaker"]))).add(claims, fill_value=0)
    return sorted(everyone.index, key=lambda s: (-int(everyone[s]), s))


def _dates(documents: pd.DataFrame) -> dict[str, str]:
    """Each document's date, or its year where only the year is known (from a file name, say)."""
    years = documents["year"].fillna("") if "year" in documents.columns else pd.Series("", index=documents.index)
    return {d: (str(date) or str(year)) for d, date, year in zip(documents["doc_id"], documents["date"].fillna(""), years)}


def _years(documents: pd.DataFrame) -> dict[str, str]:
    return {d: (date[:4] if date else UNDATED) for d, date in _dates(documents).items()}


def _year_order(year: str) -> str:
    return "~" if year == UNDATED else year


def issue_findings(predictions: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """Per topical issue: the main speakers' sentences by stance, and in how many documents."""
    # the three columns it counts only: a filtered copy of every column is hundreds of MB on a large corpus
    own = predictions.loc[predictions["role"] == "main", ["doc_id", "issue", "stance"]]
    rows = []
    for issue in taxonomy.topical_issues:
        on_issue = own[own["issue"] == issue.id]
        row = {"issue": issue.id, "name": issue.name, "sentences": len(on_issue), "documents": on_issue["doc_id"].nunique()}
        for stance in taxonomy.stance_ids:
            row[stance] = int((on_issue["stance"] == stance).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(frame: pd.DataFrame, taxonomy: Taxonomy) -> dict:
    """Counts by stance, claims and net stance (the sum of the stances' directions)."""
    return _cell_of_counts({k: int(v) for k, v in frame["stance"].value_counts().items()}, taxonomy)


def _cell_of_counts(counts: dict[str, int], taxonomy: Taxonomy) -> dict:
    cell = {s: int(counts.get(s, 0)) for s in taxonomy.stance_ids}
    cell["pro"], cell["con"] = cell.get(pro_stance(taxonomy).id, 0), cell.get(con_stance(taxonomy).id, 0)
    cell["claims"] = sum(cell[s] for s in taxonomy.claim_stances)
    cell["net"] = sum(cell[s.id] * s.direction for s in taxonomy.stances)
    return cell


def _cells(frame: pd.DataFrame, keys: list[str], taxonomy: Taxonomy) -> dict[tuple, dict]:
    """``_cell`` for every group of ``keys`` at once (one groupby, however many groups)."""
    counts: dict[tuple, dict[str, int]] = {}
    for key, n in frame.groupby([*keys, "stance"]).size().items():
        counts.setdefault(tuple(key[:-1]), {})[key[-1]] = int(n)
    return {key: _cell_of_counts(c, taxonomy) for key, c in counts.items()}


# --- positions ----------------------------------------------------------------------------

def _ordered_targets(taxonomy: Taxonomy, issue_id: str) -> list[str]:
    return taxonomy.target_ids(issue_id) or [taxonomy.other_target]


def positions_frame(predictions: pd.DataFrame, documents: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """``positions.csv``: per main speaker, issue and target, sentences by stance, documents,
    first and last date. Sentences that take no stance have no target (target "")."""
    own = own_rows(predictions)
    topical = [i.id for i in taxonomy.topical_issues]
    own = own[own["issue"].isin(topical)].assign(target=lambda f: claim_targets(f, taxonomy))
    own = own.assign(date=own["doc_id"].astype(str).map(_dates(documents)).fillna(""))
    keys = ["speaker", "issue", "target"]
    columns = [*keys, *taxonomy.stance_ids, "documents", "first_date", "last_date"]
    if own.empty:
        return pd.DataFrame(columns=columns)
    counts = own.groupby([*keys, "stance"]).size().unstack(fill_value=0).reindex(columns=taxonomy.stance_ids, fill_value=0)
    dated = own[own["date"] != ""].groupby(keys)["date"]
    frame = counts.join(own.groupby(keys)["doc_id"].nunique().rename("documents")) \
        .join(dated.min().rename("first_date")).join(dated.max().rename("last_date")).reset_index()
    frame[["first_date", "last_date"]] = frame[["first_date", "last_date"]].fillna("")
    issue_rank = {i: n for n, i in enumerate(topical)}
    target_rank = {(i, t): n for i in topical for n, t in enumerate([*_ordered_targets(taxonomy, i), ""])}
    order = sorted(range(len(frame)), key=lambda n: (frame["speaker"].iat[n], issue_rank[frame["issue"].iat[n]],
                                                     target_rank.get((frame["issue"].iat[n], frame["target"].iat[n]), 999), frame["target"].iat[n]))
    frame = frame.iloc[order][columns].astype({s: int for s in [*taxonomy.stance_ids, "documents"]})
    return frame.reset_index(drop=True)


def positions_csv(predictions: pd.DataFrame, documents: pd.DataFrame, taxonomy: Taxonomy) -> str:
    return csv_text(positions_frame(predictions, documents, taxonomy))


def _claim_quote(row) -> dict:
    return {"text": row["text"], "doc_id": row["doc_id"], "sentence_id": int(row["sentence_id"]), "stance": row["stance"],
            "stance_confidence": float(row["stance_confidence"]), "target_confidence": float(row.get("target_confidence", 0.0))}


def issue_positions(predictions: pd.DataFrame, taxonomy: Taxonomy, claims: pd.DataFrame | None = None) -> dict[str, list[dict]]:
    """Per topical issue, one row per target the main speakers' claims take: counts each way and
    the strongest claim each way, in the taxonomy's order of targets."""
    claims = main_claims(predictions, taxonomy) if claims is None else claims
    claims = claims.assign(target=claim_targets(claims, taxonomy))
    pro, con = pro_stance(taxonomy), con_stance(taxonomy)
    out = {}
    for issue in taxonomy.topical_issues:
        on_issue = claims[claims["issue"] == issue.id]
        rows = []
        for target in _ordered_targets(taxonomy, issue.id):
            group = on_issue[on_issue["target"] == target]
            if group.empty:
                continue
            row = {"target": target, "name": taxonomy.target_name(issue.id, target), **_cell(group, taxonomy)}
            # the quote for a target: sure of its issue and stance, and sure it is about this target
            sure = group["strength"] * (group["target_confidence"].astype(float) if "target_confidence" in group else 1.0)
            ranked = group.assign(_sure=sure).sort_values(["_sure", "doc_id", "sentence_id"], ascending=[False, True, True], kind="stable")
            for key, stance in (("top_pro", pro), ("top_con", con)):
                top = ranked[ranked["stance"] == stance.id].head(1)
                row[key] = _claim_quote(top.iloc[0]) if len(top) else None
            rows.append(row)
        out[issue.id] = rows
    return out


def _lower_first(name: str) -> str:
    return name[0].lower() + name[1:] if len(name) > 1 and name[1].islower() else name


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def positions_phrase(rows: list[dict], taxonomy: Taxonomy) -> str:
    """"opposes sanctions and pressure (9) and military pressure (6); supports talks and
    diplomacy (8)": the named targets with most claims each way."""
    parts = []
    for stance, key in ((con_stance(taxonomy), "con"), (pro_stance(taxonomy), "pro")):
        named = [r for r in rows if r["target"] != taxonomy.other_target and r[key]]
        named = sorted(named, key=lambda r: -r[key])[:FINDING_TARGETS]  # stable: ties keep the taxonomy's order
        if named:
            parts.append(f"{stance.verb} " + _and_list([f"{_lower_first(r['name'])} ({r[key]})" for r in named]))
    return "; ".join(parts)


def finding(row: pd.Series, claims: pd.DataFrame, positions: list[dict], taxonomy: Taxonomy, speakers: int = 1) -> dict:
    """Where the main speaker(s) stand on one issue: a lead, the positions by target, and the
    strongest claim each way."""
    pro, con = pro_stance(taxonomy), con_stance(taxonomy)
    n_pro, n_con = int(row.get(pro.id, 0)), int(row.get(con.id, 0))
    if n_pro + n_con == 0:
        return {"issue": row["issue"], "name": row["name"], "lead": "no claims by the main speaker.", "positions": "", "quotes": []}
    docs = int(row["documents"])
    counts = f"({n_pro} {pro.adjective}, {n_con} {con.adjective} claims in {docs} document{'s' if docs != 1 else ''})"
    if speakers > 1:
        lean = f"mostly {con.adjective}" if n_con > n_pro else f"mostly {pro.adjective}" if n_pro > n_con else "divided"
        speaking = claims.loc[claims["issue"] == row["issue"], "speaker"].nunique()
        lead = f"claims of {speaking} main speaker{'s' if speaking != 1 else ''}, {lean} {counts}."
    else:
        lean = f"mostly {con.verb}" if n_con > n_pro else f"mostly {pro.verb}" if n_pro > n_con else "is divided"
        lead = f"the speaker {lean} {counts}."
    quotes = []
    for stance in (con, pro):
        top = claims[(claims["issue"] == row["issue"]) & (claims["stance"] == stance.id)].head(1)
        if len(top):
            quotes.append({"stance": stance.id, "verb": stance.verb, "text": top.iloc[0]["text"]})
    return {"issue": row["issue"], "name": row["name"], "lead": lead, "positions": positions_phrase(positions, taxonomy), "quotes": quotes}


def findings_list(predictions: pd.DataFrame, taxonomy: Taxonomy, claims: pd.DataFrame, positions: dict[str, list[dict]], speakers: int) -> list[dict]:
    return [finding(row, claims, positions[row["issue"]], taxonomy, speakers) for _, row in issue_findings(predictions, taxonomy).iterrows()]


# --- speakers compared ----------------------------------------------------------------------

def speaker_comparison(predictions: pd.DataFrame, documents: pd.DataFrame, taxonomy: Taxonomy) -> dict:
    """For runs with several main speakers: speakers (most claims first) by issue, by target
    within each issue, and by year (of the document's date) and issue, as net stance and counts."""
    own = own_rows(predictions)
    claims = own[own["stance"].isin(taxonomy.claim_stances)]
    claims = claims.assign(target=claim_targets(claims, taxonomy), year=claims["doc_id"].astype(str).map(_years(documents)).fillna(UNDATED))
    speakers = main_speakers(predictions, taxonomy)
    issues = taxonomy.topical_issues
    docs = own.groupby("speaker")["doc_id"].nunique()
    totals = claims.groupby("speaker").size()
    empty = _cell_of_counts({}, taxonomy)
    by_issue = _cells(claims, ["speaker", "issue"], taxonomy)
    by_target = _cells(claims, ["speaker", "issue", "target"], taxonomy)
    by_year = _cells(claims, ["speaker", "year", "issue"], taxonomy)
    on_issue = claims.groupby(["speaker", "issue"]).size()
    years_of = claims.groupby("speaker")["year"].unique()
    in_year = claims.groupby(["speaker", "year"]).size()
    rows, targets, years = [], {i.id: [] for i in issues}, []
    for rank, speaker in enumerate(speakers):
        rows.append({"rank": rank, "speaker": speaker, "claims": int(totals.get(speaker, 0)), "documents": int(docs.get(speaker, 0)),
                     "cells": {i.id: by_issue.get((speaker, i.id), empty) for i in issues}})
        for issue in issues:
            targets[issue.id].append({"rank": rank, "speaker": speaker, "claims": int(on_issue.get((speaker, issue.id), 0)),
                                      "cells": {t: by_target.get((speaker, issue.id, t), empty) for t in _ordered_targets(taxonomy, issue.id)}})
        for year in sorted(years_of.get(speaker, []), key=_year_order):
            years.append({"rank": rank, "speaker": speaker, "year": year, "claims": int(in_year[(speaker, year)]),
                          "cells": {i.id: by_year.get((speaker, year, i.id), empty) for i in issues}})
    target_columns = {i.id: [(t, taxonomy.target_name(i.id, t)) for t in _ordered_targets(taxonomy, i.id)] for i in issues}
    return {"speakers": rows, "targets": targets, "target_columns": target_columns, "years": years}


# --- markdown -----------------------------------------------------------------------------

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


def shorten(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def net_text(cell: dict) -> str:
    """Net stance with its counts: "−3 (+2/−5)"; empty without claims."""
    if not cell["claims"]:
        return ""
    net = cell["net"]
    return f"{'+' if net > 0 else '−' if net < 0 else '±'}{abs(net)} (+{cell['pro']}/−{cell['con']})"


@lru_cache(maxsize=None)
def environment(html_output: bool) -> jinja2.Environment:
    """Templates of the package: autoescaped for HTML; for markdown, text is escaped by the
    ``md`` and ``code`` filters."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=html_output,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters.update(md=markdown_text, code=markdown_code, shorten=shorten, net=net_text, lower_first=_lower_first)
    return env


def summary_markdown(
    predictions: pd.DataFrame, documents: pd.DataFrame, taxonomy: Taxonomy, model_version: str,
    top_claims: int, low_confidence: float, set_aside: pd.DataFrame | None = None, max_documents: int = 200,
) -> str:
    findings = issue_findings(predictions, taxonomy)
    claims = main_claims(predictions, taxonomy)
    content = predictions[~predictions["is_furniture"]]
    speakers = main_speakers(predictions, taxonomy)
    positions = issue_positions(predictions, taxonomy, claims)
    content_count = content.groupby("doc_id").size()
    main_rows = predictions[predictions["role"] == "main"]
    main_count = main_rows.groupby("doc_id").size()
    cells = main_rows.groupby(["doc_id", "issue", "stance"]).size()
    shown = documents.sort_values("doc_id").head(max_documents)
    doc_tables = []
    for doc in shown.itertuples():
        rows = []
        for issue in taxonomy.issues:
            counts = [int(cells.get((doc.doc_id, issue.id, s), 0)) for s in taxonomy.stance_ids]
            if sum(counts):
                rows.append((issue.name, counts))
        doc_tables.append({"doc": doc, "content": int(content_count.get(doc.doc_id, 0)), "main": int(main_count.get(doc.doc_id, 0)), "rows": rows})
    top = {i.id: [
        {"row": c, "low": min(c["issue_confidence"], c["stance_confidence"]) < low_confidence}
        for _, c in claims[claims["issue"] == i.id].head(top_claims).iterrows()] for i in taxonomy.topical_issues}
    return environment(False).get_template("summary.md.j2").render(
        taxonomy=taxonomy, model_version=model_version, documents=documents, content=content,
        furniture_lines=len(predictions) - len(content), speakers=speakers, speaker_names=speaker_list(speakers, escape=markdown_text),
        findings=findings_list(predictions, taxonomy, claims, positions, len(speakers)), table=findings, positions=positions, top=top,
        comparison=speaker_comparison(predictions, documents, taxonomy) if len(speakers) > 1 else None,
        summary_speakers=SUMMARY_SPEAKERS, detail_speakers=SUMMARY_SPEAKERS_DETAIL,
        doc_tables=doc_tables, max_documents=max_documents, set_aside=set_aside if set_aside is not None else pd.DataFrame(columns=["path", "reason"]),
        pro=pro_stance(taxonomy), con=con_stance(taxonomy),
    ).rstrip() + "\n"
