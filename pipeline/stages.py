"""The pipeline's stages as plain functions over plain data, each checked against its contract.

ingest -> segment -> classify -> report. The Prefect flow (``pipeline.flow``) wraps these;
tests call them directly.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline import html_report
from pipeline.classify import classified_sentences
from pipeline.accounting import QUARANTINE_COLUMNS
from pipeline.config import Config
from pipeline.files import CsvTable, atomic_write
from pipeline.ingest import SetAside, read_documents
from pipeline.model import StatementModel
from pipeline.progress import Callback, counted
from pipeline.report import positions_csv, sentences_csv, summary_markdown
from pipeline.schemas import DocumentSchema, PredictionSchema, SentenceSchema, checked
from pipeline.segment import compile_furniture, segment_document
from pipeline.taxonomy import Taxonomy



def ingest(config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Documents of the input folder, and the files set aside with their reasons."""
    documents, set_aside, _ = ingest_with_account(config)
    return documents, set_aside


def ingest_with_account(config: Config, progress: Callback | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """Documents, files set aside, and an account of every input file and its outcome.
    ``progress(n)`` is told of each input file read."""
    documents, set_aside, inputs = read_documents(config.input_dir, config.furniture, config.max_file_bytes, config.max_line_chars,
                                                  config.metadata_file, config.name_pattern, progress=progress)
    table = pd.DataFrame([vars(s) for s in set_aside], columns=QUARANTINE_COLUMNS)
    return checked(documents, DocumentSchema, "ingest output"), table, inputs


def segment(documents: pd.DataFrame, config: Config, progress: Callback | None = None) -> pd.DataFrame:
    """Sentence rows of the documents, with offsets, paragraph, speaker and furniture flag.
    ``progress(n)`` is told of each document segmented."""
    checked(documents, DocumentSchema, "segment input")
    furniture = compile_furniture(config.furniture)
    rows: list[dict] = []
    for doc in counted(documents.itertuples(index=False), progress):
        rows.extend(segment_document(doc.doc_id, doc.text, doc.speaker or config.main_speaker, doc.source, furniture, config.language))
    sentences = pd.DataFrame(rows, columns=list(SentenceSchema.to_schema().columns))
    sentences = sentences.astype({"sentence_id": int, "start": int, "end": int, "paragraph": int, "is_furniture": bool})
    return checked(sentences, SentenceSchema, "segment output")


#: sentences classified at a time within a batch, so progress moves every few seconds even with
#: sentence embeddings (about 150 a second on two cores); never splits a document
CLASSIFY_CHUNK = 1000


def classify(sentences: pd.DataFrame, model: StatementModel, taxonomy: Taxonomy, config: Config,
             progress: Callback | None = None) -> pd.DataFrame:
    """Issue and stance with confidences for every sentence. ``progress(n)`` is told of the
    sentence rows classified, a document's worth at a time."""
    checked(sentences, SentenceSchema, "classify input")
    parts = []
    for chunk in batches(sentences, CLASSIFY_CHUNK, key="doc_id"):
        parts.append(classified_sentences(chunk, model, taxonomy, config.context_sentences))
        if progress:
            progress(len(chunk))
    predictions = pd.concat(parts) if parts else classified_sentences(sentences, model, taxonomy, config.context_sentences)
    return checked(predictions, PredictionSchema, "classify output", taxonomy)


def report(
    predictions: pd.DataFrame, documents: pd.DataFrame, set_aside: pd.DataFrame,
    taxonomy: Taxonomy, model_version: str, config: Config,
) -> dict[str, "str | CsvTable"]:
    """The report files' contents by file name (text, or a table streamed to its file)."""
    checked(predictions, PredictionSchema, "report input", taxonomy)
    # the reports filter and sort the sentences many ways, and with Arrow strings each filtered
    # copy copies the strings too: the texts become Python objects (only references are copied)
    # and the columns that repeat a few values categories (a byte a row). On the whole UN corpus
    # the reports' own peak went 580 MB -> 370 MB with the categories, and was 750 MB higher
    # before the objects
    short = ["doc_id", "speaker", "role", "furniture_reason", "issue", "stance", "target"]
    predictions = predictions.astype({"text": object, **{c: "category" for c in short if c in predictions.columns}})
    return {
        "summary.md": summary_markdown(predictions, documents, taxonomy, model_version, config.top_claims, config.low_confidence,
                                       set_aside, config.max_documents_shown),
        "sentences.csv": sentences_csv(predictions),
        "positions.csv": positions_csv(predictions, documents, taxonomy),
        "report.html": html_report.render(predictions, documents, set_aside, taxonomy, model_version, config.low_confidence,
                                          config.max_table_rows, config.max_documents_shown),
    }


def write_files(files: dict[str, "str | CsvTable"], output_dir: Path) -> list[Path]:
    """Write each report aside and rename it into place, so no reader sees half a report."""
    written = []
    for name, content in files.items():
        atomic_write(Path(output_dir) / name, content)
        written.append(Path(output_dir) / name)
    return written


def batches(frame: pd.DataFrame, size: int, key: str | None = None) -> list[pd.DataFrame]:
    """Consecutive slices of ``frame`` of about ``size`` rows, never splitting a ``key`` group."""
    if len(frame) == 0:
        return []
    if key is None:
        return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]
    out, start = [], 0
    bounds = frame[key].ne(frame[key].shift()).to_numpy().nonzero()[0].tolist() + [len(frame)]
    for b in bounds[1:]:
        if b - start >= size or b == len(frame):
            out.append(frame.iloc[start:b])
            start = b
    return out


__all__ = ["ingest", "segment", "classify", "report", "write_files", "batches", "SetAside"]
