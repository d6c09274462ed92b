"""Predict for sentences an analyst brings (CSV or JSON Lines with a ``text`` column), and
suggest which sentences of the last run a person should label next."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.context import sentence_contexts
from pipeline.model import StatementModel
from pipeline.schemas import ContractError, TextInputSchema, checked
from pipeline.taxonomy import Taxonomy

OUTPUT_COLUMNS = ["issue", "stance", "target", "issue_confidence", "stance_confidence", "target_confidence"]


def read_sentences(path: Path) -> pd.DataFrame:
    """The rows of a CSV or JSON Lines file, every column as text; a clear error otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ContractError(f"{path}: no such file")
    data = path.read_bytes()
    if not data.strip():
        raise ContractError(f"{path}: the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ContractError(f"{path}: not UTF-8 text (undecodable byte at position {err.start}); save it as UTF-8") from None
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or text.lstrip().startswith("{"):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ContractError(f"{path}, line {number}: not valid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise ContractError(f"{path}, line {number}: each line must be a JSON object")
            rows.append({k: "" if v is None else str(v) for k, v in row.items()})
        frame = pd.DataFrame(rows)
        frame.insert(0, "_line", [n for n, line in enumerate(text.splitlines(), start=1) if line.strip()])
    else:
        from io import StringIO

        try:
            frame = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)
        except pd.errors.ParserError as err:
            raise ContractError(f"{path}: not a readable CSV file ({err})") from None
        frame.insert(0, "_line", range(2, len(frame) + 2))
    if "text" not in frame.columns:
        columns = ", ".join(c for c in frame.columns if c != "_line") or "none"
        raise ContractError(f"{path}: no 'text' column (columns found: {columns})")
    empty = frame.loc[frame["text"].str.strip() == "", "_line"].tolist()
    if empty:
        raise ContractError(f"{path}: empty text on line(s) {', '.join(map(str, empty[:20]))}{' ...' if len(empty) > 20 else ''}; "
                            "nothing was classified, fill or remove those rows")
    return frame


def model_rows(frame: pd.DataFrame, context_sentences: int = 2) -> pd.DataFrame:
    """What the model reads for the analyst's rows. With a ``doc_id`` column, rows of one
    document (in file order) are read as a run reads a document: each with the sentences before
    it as its context (unless a ``context`` column gives one) and its neighbours as its passage.
    Without it, each row stands alone with its optional ``context``."""
    rows = pd.DataFrame({"text": frame["text"].astype(str)}, index=frame.index)
    if "context" in frame.columns:
        rows["context"] = frame["context"].fillna("").astype(str)
    if "doc_id" not in frame.columns:
        return rows.assign(context=rows.get("context", ""))
    rows["doc_id"] = frame["doc_id"].fillna("").astype(str)
    # documents together, each in file order: a stable sort by the document's first row
    first = rows.groupby("doc_id", sort=False).cumcount()
    order = rows.assign(_doc=rows["doc_id"].map({d: i for i, d in enumerate(dict.fromkeys(rows["doc_id"]))}), _n=first)
    rows = rows.loc[order.sort_values(["_doc", "_n"], kind="stable").index]
    if "context" not in frame.columns:
        as_sentences = rows.assign(role="main", is_furniture=False)
        rows["context"] = sentence_contexts(as_sentences, context_sentences)
    return rows


def predicted_table(frame: pd.DataFrame, model: StatementModel, context_sentences: int = 2) -> pd.DataFrame:
    """The analyst's rows, unchanged and in their order, with issue, stance, target and
    confidences added."""
    checked(frame, TextInputSchema, "predict input")
    out = frame.drop(columns=["_line"], errors="ignore").copy()
    predicted = model.predict(model_rows(frame, context_sentences)).reindex(frame.index)
    for column in OUTPUT_COLUMNS:
        out[column] = predicted[column]
    return out


SUGGESTION_COLUMNS = ["file", "start", "end", "text", "context", "issue", "stance", "target",
                      "issue_confidence", "stance_confidence", "margin"]


def suggestions(sentences: pd.DataFrame, model: StatementModel, taxonomy: Taxonomy, labelled: pd.DataFrame,
                n: int, context_sentences: int = 2) -> pd.DataFrame:
    """The ``n`` sentences the model is least sure of (smallest margin between its two best
    classes, for issue or stance), spread over documents and predicted issues, not yet labelled;
    label-ready, the model's guess filled in for review."""
    rows = sentences.sort_values(["doc_id", "sentence_id"]).reset_index(drop=True)
    rows["context"] = sentence_contexts(rows, context_sentences)
    rows = rows[~rows["is_furniture"]]
    known = set(zip(labelled["file"], labelled["text"])) if len(labelled) else set()
    rows = rows[[(d, t) not in known for d, t in zip(rows["doc_id"], rows["text"])]]
    if rows.empty:
        return pd.DataFrame(columns=SUGGESTION_COLUMNS)
    proba = model.probabilities(rows)
    margins = []
    for target in ("issue", "stance"):
        best_two = np.sort(proba[target].to_numpy(), axis=1)[:, -2:]
        margins.append(best_two[:, 1] - best_two[:, 0])
    guessed = model.predict(rows)
    rows = rows.assign(**{c: guessed[c] for c in guessed.columns}, margin=np.round(np.minimum(*margins), 4))
    rows = rows.sort_values(["margin", "doc_id", "sentence_id"])
    # round robin over (document, predicted issue), least sure first, so no one group fills the list
    groups = [g for _, g in rows.groupby(["doc_id", "issue"], sort=False)]
    groups.sort(key=lambda g: g["margin"].iloc[0])
    picked, depth = [], 0
    while len(picked) < n and any(depth < len(g) for g in groups):
        for g in groups:
            if depth < len(g) and len(picked) < n:
                picked.append(g.iloc[depth])
        depth += 1
    out = pd.DataFrame(picked).rename(columns={"doc_id": "file"})
    return out[SUGGESTION_COLUMNS].reset_index(drop=True)
