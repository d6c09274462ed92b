"""Predict for sentences an analyst brings (CSV or JSON Lines with a ``text`` column), and
suggest which sentences of the last run a person should label next."""

from __future__ import annotations

import csv
import io
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
    """The rows of a CSV, JSON Lines or JSON array file, every column as text, indexed by the
    1-based line each row starts on; an error naming file and line otherwise."""
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
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or text.lstrip().startswith(("{", "[")):
        rows = _json_array_rows(path, text) if text.lstrip().startswith("[") else _json_lines_rows(path, text)
        rows = [(line, _json_row(path, line, row)) for line, row in rows]
    else:
        rows = _csv_rows(path, text)
    frame = pd.DataFrame([row for _, row in rows], index=[line for line, _ in rows], dtype=object)
    if "text" not in frame.columns:
        columns = ", ".join(map(str, frame.columns)) or "none"
        raise ContractError(f"{path}: no 'text' column (columns found: {columns})")
    missing = frame.index[frame["text"].isna()].tolist()
    if missing:
        raise ContractError(f"{path}: no 'text' on line(s) {', '.join(map(str, missing[:20]))}{' ...' if len(missing) > 20 else ''}")
    frame = frame.fillna("").astype(str)
    empty = frame.index[frame["text"].str.strip() == ""].tolist()
    if empty:
        raise ContractError(f"{path}: empty text on line(s) {', '.join(map(str, empty[:20]))}{' ...' if len(empty) > 20 else ''}; "
                            "nothing was classified, fill or remove those rows")
    return frame


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    """A CSV file's rows with the line each starts on; a row with more or fewer fields than the
    header (an unquoted comma in the text) is an error: its fields would land in the wrong columns."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header, rows, line = None, [], 1
    try:
        for fields in reader:
            first, line = line, reader.line_num + 1
            if not fields:
                continue
            if header is None:
                header = [name or f"Unnamed: {i}" for i, name in enumerate(fields)]
                twice = sorted({name for name in header if header.count(name) > 1})
                if twice:
                    raise ContractError(f"{path}, line {first}: column(s) {', '.join(twice)} named twice")
                continue
            if len(fields) != len(header):
                raise ContractError(f"{path}, line {first}: {len(fields)} field(s) where the header has {len(header)} "
                                    "(an unquoted comma in the text? quote the text)")
            rows.append((first, dict(zip(header, fields))))
    except csv.Error as err:
        raise ContractError(f"{path}, line {line}: not a readable CSV file ({err}; a quote left open?)") from None
    if header is None:
        raise ContractError(f"{path}: the file is empty")
    return rows


def _json_lines_rows(path: Path, text: str) -> list[tuple[int, object]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append((number, json.loads(line)))
            except json.JSONDecodeError as err:
                raise ContractError(f"{path}, line {number}: not valid JSON ({err.msg})") from None
    return rows


def _json_array_rows(path: Path, text: str) -> list[tuple[int, object]]:
    """The items of a JSON array, each with the line it starts on."""
    decoder, rows = json.JSONDecoder(), []
    position = text.index("[") + 1
    try:
        while True:
            position = len(text) - len(text[position:].lstrip())
            if text.startswith("]", position):
                break
            item, end = decoder.raw_decode(text, position)
            rows.append((text.count("\n", 0, position) + 1, item))
            position = len(text) - len(text[end:].lstrip())
            if text.startswith(",", position):
                position += 1
            elif not text.startswith("]", position):
                raise json.JSONDecodeError("expected ',' or ']'", text, position)
        if text[position + 1:].strip():
            raise json.JSONDecodeError("extra data after the array", text, position + 1)
    except json.JSONDecodeError as err:
        raise ContractError(f"{path}, line {err.lineno}: not valid JSON ({err.msg})") from None
    return rows


def _json_row(path: Path, line: int, row: object) -> dict:
    """A JSON object's values as text; ``text`` and ``context`` must be strings (a list or an
    object would be classified as its Python spelling)."""
    if not isinstance(row, dict):
        raise ContractError(f"{path}, line {line}: each row must be a JSON object")
    for key in ("text", "context"):
        value = row.get(key)
        if value is not None and not isinstance(value, str):
            raise ContractError(f"{path}, line {line}: '{key}' must be a string, not {json.dumps(value)[:60]}")
    return {k: v if isinstance(v, str) or v is None else json.dumps(v, ensure_ascii=False) for k, v in row.items()}


def output_names(columns) -> dict[str, str]:
    """Our columns' names in the output: ``issue``... or, when the analyst's file has a column of
    that name, ``predicted_issue``..., so nothing of theirs is overwritten."""
    taken = set(columns)
    if taken.isdisjoint(OUTPUT_COLUMNS):
        return {c: c for c in OUTPUT_COLUMNS}
    names = {c: f"predicted_{c}" for c in OUTPUT_COLUMNS}
    clash = sorted(taken & set(names.values()))
    if clash:
        raise ContractError(f"the input has columns named both {', '.join(OUTPUT_COLUMNS)} (some of them) and "
                            f"{', '.join(clash)}: rename one set, the predictions need one of those names")
    return names


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
    confidences added (named ``predicted_...`` when the analyst's file has columns of those names)."""
    checked(frame, TextInputSchema, "predict input")
    names = output_names(frame.columns)
    out = frame.copy()
    predicted = model.predict(model_rows(frame, context_sentences)).reindex(frame.index)
    for column in OUTPUT_COLUMNS:
        out[names[column]] = predicted[column]
    return out.reset_index(drop=True)


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
