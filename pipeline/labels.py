"""Hand labels: loaded through Hugging Face ``datasets``, checked against the label schema.

Training labels are the CSV files directly in ``labels/``; ``labels/dev/`` holds a development
set of other speeches, kept apart from training. Each row: file, start, end, text, context,
issue, stance, and (for claims, optionally) target.
"""

from __future__ import annotations

import csv
import hashlib
import tempfile
from pathlib import Path

import pandas as pd

from pipeline.files import restored
from pipeline.schemas import ContractError, LabelSchema, checked
from pipeline.taxonomy import TAXONOMY_FILE, Taxonomy

DEV_DIR = "dev"
REQUIRED = ("file", "text", "issue", "stance")


def label_files(labels_dir: Path, split: str = "train") -> list[Path]:
    folder = Path(labels_dir) / DEV_DIR if split == "dev" else Path(labels_dir)
    return sorted(folder.glob("*.csv"))


def labels_hash(labels_dir: Path) -> str:
    """Content hash of the training labels and the taxonomy: the model's cache key."""
    digest = hashlib.sha256()
    for path in [Path(labels_dir) / TAXONOMY_FILE, *label_files(labels_dir)]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def read_label_file(path: Path) -> pd.DataFrame:
    """One label file as a DataFrame, read with ``datasets``, with the file and line of each row."""
    import datasets

    datasets.disable_progress_bars()
    if path.stat().st_size == 0:
        raise ContractError(f"{path}: the label file is empty")
    with tempfile.TemporaryDirectory() as cache:
        try:
            dataset = datasets.Dataset.from_csv(str(path), keep_in_memory=True, na_filter=False, cache_dir=cache)
        except Exception as err:  # datasets wraps pandas' parser errors in several types
            raise ContractError(f"{path}: not a readable CSV file ({err})") from None
    frame = dataset.to_pandas()
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ContractError(f"{path}: missing column(s) {', '.join(missing)} (needs {', '.join(REQUIRED)})")
    for optional in ("context", "target"):
        if optional not in frame.columns:
            frame[optional] = ""
    lines = _record_lines(path)
    frame.insert(0, "line", lines if len(lines) == len(frame) else range(2, len(frame) + 2))
    frame.insert(0, "path", str(path))
    for column in ("file", "text", "context", "issue", "stance", "target"):
        # a reviewed suggestions.csv: undo the apostrophe that kept a spreadsheet from running the cell
        frame[column] = restored(frame[column].astype(str)).str.strip()
    for column in ("start", "end"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame


def _record_lines(path: Path) -> list[int]:
    """The line each data row of a CSV file starts on: a quoted field may hold line breaks."""
    lines, line = [], 1
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        try:
            for fields in reader:
                if fields:
                    lines.append(line)
                line = reader.line_num + 1
        except csv.Error:
            return []
    return lines[1:]


def load_labels(labels_dir: Path, taxonomy: Taxonomy, split: str = "train") -> pd.DataFrame:
    """All labels of a split, validated: unknown issue or stance, missing columns, empty
    sentences and one sentence labelled two ways are errors naming file and line."""
    files = label_files(labels_dir, split)
    if not files:
        if split == "dev":
            return pd.DataFrame(columns=["path", "line", *REQUIRED, "context", "target"])
        raise ContractError(f"{labels_dir}: no label files (*.csv)")
    frames = [read_label_file(path) for path in files]
    labels = pd.concat(frames, ignore_index=True)
    problems = []
    for path, frame in zip(files, frames):
        try:
            checked(frame, LabelSchema, f"labels in {path}", taxonomy)
        except ContractError as err:
            problems.append(str(err))
    conflicts = _conflicting(labels)
    if conflicts:
        problems.append("the same sentence is labelled two different ways:\n" + conflicts)
    if problems:
        raise ContractError("\n".join(problems))
    return labels.drop_duplicates(subset=["text", "context", "issue", "stance", "target"]).reset_index(drop=True)


def _conflicting(labels: pd.DataFrame) -> str:
    # the same sentence in the same place: a fragment such as "Charter." may recur elsewhere in a
    # document and read differently there
    keyed = labels.assign(key=labels["file"] + "\x00" + labels["text"] + "\x00" + labels["context"])
    groups = keyed.groupby("key")[["issue", "stance"]].nunique()
    bad = groups[(groups["issue"] > 1) | (groups["stance"] > 1)].index
    lines = []
    for key in bad[:20]:
        rows = keyed[keyed["key"] == key]
        where = "; ".join(f"{r.path}, line {r.line}: {r.issue}/{r.stance}" for r in rows.itertuples())
        lines.append(f"  {rows.iloc[0]['text'][:80]!r}: {where}")
    return "\n".join(lines)
