"""The Prefect flow: a table of contents over the stages in ``pipeline.stages``.

Tasks work on batches (documents, or tens of thousands of sentences), never one sentence.
"""

from __future__ import annotations

import pandas as pd
from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from pipeline import stages
from pipeline.config import Config
from pipeline.model import StatementModel
from pipeline.registry import model_for_run
from pipeline.report import issue_findings
from pipeline.taxonomy import Taxonomy, load_taxonomy


@task(name="ingest", cache_policy=NO_CACHE)
def ingest_task(config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    documents, set_aside = stages.ingest(config)
    get_run_logger().info("read %d document(s), set aside %d file(s)", len(documents), len(set_aside))
    for row in set_aside.itertuples():
        get_run_logger().warning("set aside %s: %s", row.path, row.reason)
    return documents, set_aside


@task(name="segment", cache_policy=NO_CACHE)
def segment_task(documents: pd.DataFrame, config: Config) -> pd.DataFrame:
    sentences = stages.segment(documents, config)
    get_run_logger().info("%d document(s) -> %d sentence rows", len(documents), len(sentences))
    return sentences


@task(name="model", cache_policy=NO_CACHE)
def model_task(config: Config, taxonomy: Taxonomy) -> StatementModel:
    model, note = model_for_run(config.labels_dir, config.model_dir, taxonomy)
    get_run_logger().info("%s; using model %s", note, model.version)
    return model


@task(name="classify", cache_policy=NO_CACHE)
def classify_task(sentences: pd.DataFrame, model: StatementModel, taxonomy: Taxonomy, config: Config) -> pd.DataFrame:
    return stages.classify(sentences, model, taxonomy, config)


@task(name="report", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def report_task(predictions, documents, set_aside, taxonomy, model_version, config: Config) -> list[str]:
    files = stages.report(predictions, documents, set_aside, taxonomy, model_version, config)
    written = stages.write_files(files, config.output_dir)
    findings = issue_findings(predictions, taxonomy)
    create_markdown_artifact(files["summary.md"], key="stance-summary", description="Where the speaker stands")
    create_table_artifact(findings.to_dict(orient="records"), key="stance-by-issue", description="Main speaker's sentences by issue and stance")
    get_run_logger().info("wrote %s", ", ".join(str(p) for p in written))
    return [str(p) for p in written]


@flow(name="stance-report", log_prints=True)
def stance_report(config: Config = Config()) -> dict:
    """Documents in, labelled sentences and reports out."""
    taxonomy = load_taxonomy(config.labels_dir)
    documents, set_aside = ingest_task(config)
    if documents.empty:
        raise RuntimeError(f"no usable document in {config.input_dir}: {len(set_aside)} file(s) set aside")
    segmented = segment_task.map(stages.batches(documents, config.documents_per_batch), unmapped(config))
    sentences = pd.concat([f.result() for f in segmented], ignore_index=True)
    model = model_task(config, taxonomy)
    classified = classify_task.map(
        stages.batches(sentences, config.sentences_per_batch, key="doc_id"), unmapped(model), unmapped(taxonomy), unmapped(config)
    )
    predictions = pd.concat([f.result() for f in classified], ignore_index=True)
    written = report_task(predictions, documents, set_aside, taxonomy, model.version, config)
    return {
        "documents": len(documents), "set_aside": len(set_aside), "sentences": len(predictions),
        "model": model.version, "files": written,
    }
