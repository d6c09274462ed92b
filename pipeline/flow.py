"""The Prefect flow: a table of contents over the stages in ``pipeline.stages``.

Tasks work on batches (documents, or tens of thousands of sentences), never one sentence.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from pipeline import outputs, progress, runtime, stages
from pipeline.accounting import RunRecord, file_sha256, quarantine_csv, run_fingerprint, unchanged_outputs
from pipeline.ingest import input_entries, unusable_files, METADATA_FILE
from pipeline.labels import labels_hash
from pipeline.config import Config, check_folders
from pipeline.files import folder_lock
from pipeline.model import StatementModel
from pipeline.registry import load_version, needs_training, train_if_needed
from pipeline.report import issue_findings
from pipeline.taxonomy import Taxonomy, load_taxonomy


class NoUsableDocuments(RuntimeError):
    """Every input was set aside."""


@task(name="ingest", cache_policy=NO_CACHE)
def ingest_task(config: Config) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    documents, set_aside, inputs = stages.ingest_with_account(config, progress=progress.current().callback("ingest", "files"))
    logger = get_run_logger()
    logger.info("read %d document(s), set aside %d file(s)", len(documents), len(set_aside))
    for row in set_aside.itertuples():
        logger.warning("set aside %s: %s", row.path, row.reason)
    return documents, set_aside, inputs


@task(name="segment", cache_policy=NO_CACHE)
def segment_task(documents: pd.DataFrame, config: Config) -> pd.DataFrame:
    sentences = stages.segment(documents, config, progress=progress.current().callback("segment", "documents"))
    get_run_logger().info("%d document(s) -> %d sentence rows", len(documents), len(sentences))
    return sentences


@task(name="model", cache_policy=NO_CACHE)
def model_task(config: Config, version: str) -> StatementModel:
    """The model the report flow was given: read, never trained here."""
    model = load_version(config.models_folder, version)
    get_run_logger().info("using model %s", model.version)
    return model


@flow(name="train-model", log_prints=True)
def train_model(config: Config = Config()) -> str:
    """The training step: trains a model when the labels (or the model's design) changed since
    the last one, and returns the current model's version. With ``retrain``, the only writer of
    the models folder."""
    taxonomy = load_taxonomy(config.labels_dir)
    version, note = train_if_needed(config.labels_dir, config.models_folder, taxonomy, config.sentence_embeddings,
                                    config.model_params(), progress=progress.current().callback("training", "steps"))
    progress.current().finish("training")
    get_run_logger().info("%s; current model %s", note, version)
    return version


@task(name="classify", cache_policy=NO_CACHE)
def classify_task(sentences: pd.DataFrame, model: StatementModel, taxonomy: Taxonomy, config: Config) -> pd.DataFrame:
    return stages.classify(sentences, model, taxonomy, config, progress=progress.current().callback("classify", "sentences"))


@task(name="report", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def report_task(predictions, documents, set_aside, taxonomy, model_version, config: Config, folder: str) -> list[str]:
    """Write the reports into ``folder``, the new set being written aside (``pipeline.outputs``)."""
    files = stages.report(predictions, documents, set_aside, taxonomy, model_version, config)
    files["quarantine.csv"] = quarantine_csv(set_aside)
    written = stages.write_files(files, Path(folder))
    create_markdown_artifact(files["summary.md"], key="stance-summary", description="Where the speaker stands")
    create_table_artifact(issue_findings(predictions, taxonomy).to_dict(orient="records"), key="stance-by-issue",
                          description="Main speaker's sentences by issue and stance")
    get_run_logger().info("wrote %s", ", ".join(p.name for p in written))
    return [p.name for p in written]


def task_runner(config: Config):
    """Where the tasks run: a Dask cluster (local with ``workers`` processes, or at
    ``dask_address``) through prefect-dask, else Prefect's default thread pool."""
    if config.dask_address or config.workers:
        from prefect_dask import DaskTaskRunner

        if config.dask_address:
            return DaskTaskRunner(address=config.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": config.workers, "threads_per_worker": 1, "processes": True,
                                              "dashboard_address": None})
    return None


def run_flow(config: Config, model_version: str | None = None) -> dict:
    """What ``run`` does: the training step (unless a model version is given), then the report
    flow with the version it produced, on the task runner the configuration asks for."""
    check_folders(config)  # before Prefect starts: a refusal costs nothing
    check_input_folder(config.input_dir)
    check_has_files(config.input_dir, config.metadata_file)  # before training, which can take minutes
    if model_version is None:
        check_has_documents_to_train_for(config)
    version = model_version or train_model(config)
    runner = task_runner(config)
    return (stance_report.with_options(task_runner=runner) if runner else stance_report)(config, version)


# The stages are CPU-bound Python: threads would only contend for the interpreter lock and hold
# more batches in memory at once. One at a time here; real parallelism is --workers (processes).
@flow(name="stance-report", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=1))
def stance_report(config: Config, model_version: str) -> dict:
    """Documents in, labelled sentences and reports out; ``run.json`` accounts for everything.
    The reports change as one set (``pipeline.outputs``); a failed run leaves the last good set
    as it was and says why in ``run-failed.json``."""
    check_folders(config)
    with folder_lock(config.output_dir, "run"):
        outputs.prepare(config.output_dir)
        record = RunRecord(config.input_dir, config.output_dir)
        record.data["settings"] = config.settings()
        try:
            with record.stage("up-to-date check"):
                fingerprint, previous = up_to_date_task(config, model_version)
            record.data["fingerprint"] = fingerprint
            if previous:
                return _reuse(config, record, previous)
            return _run(config, record, model_version, fingerprint)
        except BaseException as err:
            # a signal may reach here as another error (Prefect's crash handling): it is the interrupt
            status = "interrupted" if runtime.interruption(err) else "failed"
            outputs.record_failure(config.output_dir, record.json(status, str(err) or type(err).__name__))
            raise


def fingerprint_of(config: Config, model_version: str) -> str:
    """The fingerprint of a run of ``config`` with that model: inputs, labels, model, settings, code."""
    check_input_folder(config.input_dir)
    candidates, skipped = input_entries(config.input_dir, config.metadata_file)
    files = [*candidates, *(path for path, _ in skipped), Path(config.input_dir) / METADATA_FILE]
    if config.metadata_file:
        files.append(Path(config.metadata_file))  # metadata kept outside the folder is an input too
    hash_ = labels_hash(config.labels_dir)
    settings = {k: v for k, v in vars(config).items() if k not in ("workers", "dask_address")}
    return run_fingerprint(files, hash_, model_version, settings)


def check_input_folder(folder: Path) -> None:
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--input {folder} is a file, not a folder: give the folder that holds the documents")
    if not folder.is_dir():
        raise FileNotFoundError(f"input folder {folder} does not exist")


def check_has_files(folder: Path, metadata_file: Path | None = None) -> None:
    """Refuse a folder that holds no file to read at all (an empty one, or hidden files only)."""
    if not input_entries(folder, metadata_file)[0]:
        raise NoUsableDocuments(f"no documents in {folder}: the folder holds no files to read "
                                "(hidden files and folders are not read); the last good reports are kept")


def check_has_documents_to_train_for(config: Config) -> None:
    """When a run would train a model first (for minutes), refuse a folder none of whose files
    reads as a document (binary files, empty files...) before it does. With a model ready, the
    run itself sets them aside and says so."""
    try:
        training = needs_training(config.labels_dir, config.models_folder, config.sentence_embeddings, config.model_params())
    except Exception:  # unreadable labels: the training step says what is wrong with them
        return
    if training:
        check_has_documents(config)


def check_has_documents(config: Config) -> None:
    """Refuse a folder none of whose files reads as a document (binary files, empty files...)."""
    reasons = unusable_files(config.input_dir, config.max_file_bytes, config.max_line_chars, config.metadata_file)
    if reasons is not None:
        shown = "; ".join(f"{Path(path).name}: {reason}" for path, reason in reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
        raise NoUsableDocuments(f"no usable document in {config.input_dir}: all {len(reasons)} file(s) would be set aside "
                                f"({shown}); no model was trained and the last good reports are kept")


@task(name="up-to-date check", cache_policy=NO_CACHE)
def up_to_date_task(config: Config, model_version: str) -> tuple[str, dict | None]:
    """The run's fingerprint, and the previous run's record if nothing it depends on changed."""
    fingerprint = fingerprint_of(config, model_version)
    return fingerprint, unchanged_outputs(config.output_dir, fingerprint)


def _reuse(config: Config, record: RunRecord, previous: dict) -> dict:
    get_run_logger().info("nothing changed since the run of %s: its reports are up to date", previous.get("finished"))
    for key in ("inputs", "counts", "model", "outputs"):
        record.data[key] = previous.get(key)
    record.data["reused_run_of"] = previous.get("finished")
    new = outputs.NewSet(config.output_dir)
    new.keep_from_current(previous["outputs"])
    new.write("run.json", record.json("completed"))
    new.commit()
    counts = previous["counts"]
    return {"documents": counts["ingest"]["documents_out"], "set_aside": counts["ingest"]["set_aside"],
            "sentences": counts["classify"]["rows_out"], "model": previous["model"]["version"],
            "files": [str(new.path(name)) for name in previous["outputs"]] + [str(new.path("run.json"))],
            "durations": dict(record.data["durations_seconds"]), "reused": True}


def _completed(futures, show: progress.Reporter, stage: str, sizes: list[int], remote: bool) -> list:
    """The futures' results in order; on a cluster (no progress from inside the tasks) each
    finished batch moves the stage on."""
    results = []
    for future, size in zip(futures, sizes):
        results.append(future.result())
        if remote:
            show.callback(stage)(size)
    return results


def _run(config: Config, record: RunRecord, model_version: str, fingerprint: str) -> dict:
    show, remote = progress.current(), task_runner(config) is not None
    taxonomy = load_taxonomy(config.labels_dir)
    # the model first: unpacking it (skops) takes some 350 MB more for a moment, which on a
    # large corpus would otherwise come on top of its sentences
    with record.stage("model"):
        model = model_task(config, model_version)
    record.data["model"] = {"version": model.version, "labels_hash": model.labels_hash}
    with record.stage("ingest"):
        show.start("ingest", len(input_entries(config.input_dir, config.metadata_file)[0]), "files")
        documents, set_aside, inputs = ingest_task(config)
        show.finish("ingest")
    record.data["inputs"] = inputs
    record.count("ingest", files_in=len([i for i in inputs if i["outcome"] != "note"]), documents_out=len(documents), set_aside=len(set_aside))
    if documents.empty:
        record.data["set_aside"] = set_aside.reindex(columns=["path", "reason"]).to_dict(orient="records")
        raise NoUsableDocuments(f"no usable document in {config.input_dir}: all {len(set_aside)} file(s) set aside "
                                f"(reasons in {config.output_dir / outputs.FAILED}; the last good reports are kept)")
    with record.stage("segment"):
        show.start("segment", len(documents), "documents")
        parts = stages.batches(documents, config.documents_per_batch)
        segmented = segment_task.map(parts, unmapped(config))
        sentences = pd.concat(_completed(segmented, show, "segment", [len(p) for p in parts], remote), ignore_index=True)
        del segmented, parts  # the futures hold their results: one copy of the sentences is enough
        show.finish("segment")
    record.count("segment", documents_in=len(documents), rows_out=len(sentences), sentences=int((~sentences["is_furniture"]).sum()),
                 furniture=int(sentences["is_furniture"].sum()), documents_with_rows=sentences["doc_id"].nunique())
    documents = documents.drop(columns=["text"])  # the reports need the documents' metadata only: free the texts
    with record.stage("classify"):
        show.start("classify", len(sentences), "sentences")
        parts = stages.batches(sentences, config.sentences_per_batch, key="doc_id")
        classified = classify_task.map(parts, unmapped(model), unmapped(taxonomy), unmapped(config))
        predictions = pd.concat(_completed(classified, show, "classify", [len(p) for p in parts], remote), ignore_index=True)
        del classified, parts
        show.finish("classify")
    record.count("classify", rows_in=len(sentences), rows_out=len(predictions))
    del sentences
    with record.stage("report"):
        new = outputs.NewSet(config.output_dir)
        written = report_task(predictions, documents, set_aside, taxonomy, model.version, config, str(new.folder))
    record.count("report", sentence_rows_written=len(predictions), documents_reported=predictions["doc_id"].nunique(), set_aside_listed=len(set_aside))
    record.data["outputs"] = {name: file_sha256(new.folder / name) for name in written}
    record.data["fingerprint"] = fingerprint
    new.write("run.json", record.json("completed"))
    new.commit()  # the one step at which the new set replaces the old
    return {
        "documents": len(documents), "set_aside": len(set_aside), "sentences": len(predictions),
        "model": model.version, "files": [str(new.path(name)) for name in [*written, "run.json"]],
        "durations": dict(record.data["durations_seconds"]),
    }
