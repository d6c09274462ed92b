"""Command line: ``python -m pipeline run | retrain | predict | suggest``.

Every option's default is in its help. ``--config FILE`` (TOML) sets any field of
:class:`pipeline.config.Config`; flags given on the command line override it. A failure prints
one line, ``error: ...`` (``--debug`` adds the traceback); Prefect's own logs go to
``<output>/run.log`` unless ``--verbose``.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading
from pathlib import Path

# Nothing is fetched at run time: no model hub, no telemetry.
for _name, _value in (("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_OFFLINE", "1"), ("PREFECT_SERVER_ANALYTICS_ENABLED", "false")):
    os.environ.setdefault(_name, _value)

from pipeline import __version__  # noqa: E402
from pipeline.config import Config  # noqa: E402

DEFAULTS = Config()
LOG_FILE = "run.log"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipeline", description="Sentence-level issue and stance reports on foreign-policy statements.")
    p.add_argument("--version", action="version", version=f"stance-pipeline {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="{run,retrain,predict,suggest}")

    def common(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--labels", dest="labels_dir", help=f"labels folder (default: {DEFAULTS.labels_dir}/)")
        cmd.add_argument("--models", dest="model_dir", help=f"models folder (default: {DEFAULTS.model_dir}/)")
        cmd.add_argument("--no-embeddings", dest="sentence_embeddings", action="store_const", const=False,
                         help="a stance model without sentence embeddings: less accurate, many times faster "
                              "on large folders (kept apart, in <models>/no-embeddings/) (default: with embeddings)")
        cmd.add_argument("--config", type=Path, metavar="FILE",
                         help="TOML file setting any field of the configuration (input_dir, output_dir, model_dir, "
                              "sentences_per_batch, ...); flags override it (default: none, built-in defaults)")
        cmd.add_argument("--debug", action="store_true", help="on a failure, print the full traceback (default: one error line)")

    run = sub.add_parser("run", help="run the flow on a folder of documents and write reports")
    run.add_argument("--input", dest="input_dir", help=f"folder of documents (default: {DEFAULTS.input_dir}/)")
    run.add_argument("--output", dest="output_dir", help=f"folder for reports (default: {DEFAULTS.output_dir}/)")
    run.add_argument("--metadata", dest="metadata_file", metavar="FILE",
                     help="CSV of document metadata (file, and any of date, year, speaker, source, title), anywhere; "
                          "over metadata.csv in the input folder (default: none)")
    run.add_argument("--name-pattern", dest="name_pattern", metavar="PATTERN",
                     help="read {speaker} and {year} (or {date}) from file names, e.g. '{speaker}_{session}_{year}' "
                          "for CHN_70_2015.txt (default: none)")
    run.add_argument("--speaker", dest="main_speaker", help="main speaker when neither metadata nor text names one (default: none)")
    run.add_argument("--workers", type=int, help="run the tasks on a local Dask cluster of N worker processes (default: none, one process)")
    run.add_argument("--dask-address", dest="dask_address",
                     help="run the tasks on an existing Dask cluster (tcp://HOST:PORT) (default: none)")
    shown = run.add_mutually_exclusive_group()
    shown.add_argument("--quiet", action="store_true", help="print only the closing summary or the error line (default: progress and summary)")
    shown.add_argument("--verbose", action="store_true", help="also print Prefect's own logs (default: they go to <output>/run.log)")
    common(run)

    retrain = sub.add_parser("retrain", help="train a model on the labels, evaluate it and write the model card")
    common(retrain)
    retrain.add_argument("--output", dest="output_dir", help=f"folder for model_card.md and .json (default: {DEFAULTS.output_dir}/)")
    retrain.add_argument("--accept", action="store_true", help="make the new model current even if it is worse (default: only if not worse)")
    retrain.add_argument("--cv-folds", dest="cv_folds", type=int, metavar="N",
                         help=f"folds of grouped cross-validation on the model card; 0 skips it (default: {DEFAULTS.cv_folds})")
    retrain.add_argument("--rollback", action="store_true", help="make the previous model current again, no training (default: off)")

    predict = sub.add_parser("predict", help="classify the sentences of a CSV or JSON Lines file with a 'text' column")
    predict.add_argument("file", type=Path, help="CSV or JSON Lines; optional 'context' column; other columns are kept")
    predict.add_argument("--output", required=True, type=Path, help="CSV file to write (required; no default)")
    common(predict)

    suggest = sub.add_parser("suggest", help="write the sentences of the last run the model is least sure of, to label next")
    suggest.add_argument("--n", type=int, default=30, help="how many (default: 30)")
    suggest.add_argument("--reports", dest="output_dir", help=f"folder of the last run's reports (default: {DEFAULTS.output_dir}/)")
    suggest.add_argument("--to", type=Path, help="CSV to write (default: <reports>/suggestions.csv)")
    common(suggest)
    return p


def configuration(args: argparse.Namespace) -> Config:
    """Defaults, then the config file, then the flags given."""
    base = Config.from_toml(args.config) if getattr(args, "config", None) else Config()
    options = {k: v for k, v in vars(args).items() if k in Config.__dataclass_fields__}
    return base.replace(**options)


def describe(err: BaseException) -> str:
    """One line for a failure."""
    if isinstance(err, OSError) and err.errno is not None:
        where = f" ({err.filename})" if err.filename and str(err.filename) not in str(err.strerror) else ""
        text = err.strerror or str(err)
        if err.errno == errno.ENOSPC:
            return f"the disk is full: {text}{where}; free some space and run again"
        if err.errno == errno.EROFS:
            return f"read-only file system: {text}{where}; choose another --output"
        return f"{text}{where}"
    if isinstance(err, (ValueError, RuntimeError, OSError, KeyError)):
        # our own messages, whole (a list of bad label rows takes a line each); never a traceback
        return str(err).strip() or type(err).__name__
    return f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else 'unexpected failure'}"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        config = configuration(args)
        return COMMANDS[args.command](args, config)
    except KeyboardInterrupt:
        raise
    except Exception as err:  # one clean line; the traceback with --debug (and in run.log)
        if debug:
            import traceback

            traceback.print_exc()
        log = getattr(args, "_log", None)
        hint = f" (details in {log})" if log and Path(log).is_file() and Path(log).stat().st_size else ""
        print(f"error: {describe(err)}{hint}", file=sys.stderr)
        return 1


def kept(output_dir: Path) -> str:
    """What the output folder holds after an interrupted run."""
    import json

    from pipeline.outputs import current_set

    current = current_set(output_dir)
    if current is None:
        return f"no reports were written to {output_dir}/"
    try:
        finished = json.loads((current / "run.json").read_text(encoding="utf-8")).get("finished", "?")
    except (OSError, ValueError):
        finished = "?"
    return f"{output_dir}/ holds the complete reports of the run finished {finished}, unchanged"


def _exit_now(code: int, line: str, server=None) -> None:
    from pipeline.runtime import stop_server

    print(line, file=sys.stderr, flush=True)
    try:
        stop_server(server, wait=2.0)
    finally:
        sys.stdout.flush()
        os._exit(code)


def run(args: argparse.Namespace, config: Config) -> int:
    from pipeline import progress, runtime
    from pipeline.config import check_folders
    from pipeline.files import check_writable
    from pipeline.flow import NoUsableDocuments, check_has_documents_to_train_for, check_has_files, check_input_folder, run_flow

    # everything that can be known before the work starts, before anything is written
    check_folders(config)
    check_writable(config.output_dir, "output folder")
    try:
        check_input_folder(config.input_dir)
        check_has_files(config.input_dir, config.metadata_file)
        check_has_documents_to_train_for(config)
    except (OSError, NoUsableDocuments) as err:
        _record_failure(config, err)
        raise
    if config.model_dir.exists() or not config.model_dir.parent.exists() or os.access(config.model_dir.parent, os.W_OK):
        check_writable(config.model_dir, "models folder")
    args._log = config.output_dir / LOG_FILE
    server = None
    lock = threading.Lock()

    def hard_stop(signal_name: str) -> None:
        if lock.acquire(blocking=False):
            _exit_now(130 if signal_name == "SIGINT" else 143, f"interrupted ({signal_name}): stopped; {kept(config.output_dir)}", server)

    fired: list[str] = []
    try:
        with runtime.stopped_by_signals(hard_stop) as fired, runtime.prefect_logging(args.verbose, args._log), \
                progress.reporting(progress.for_stream(sys.stdout, quiet=args.quiet)):
            with runtime.prefect_server() as server:
                result = run_flow(config)
    except BaseException as err:
        # whatever a library made of the interrupt on its way up, it was the interrupt
        name = runtime.interruption(err) or (fired[0] if fired else None)
        if name:
            hard_stop(name)
        raise
    print(summary_line(result, config), flush=True)
    return 0


def _record_failure(config: Config, err: BaseException) -> None:
    """A run that fails before the flow starts still says so in run-failed.json (the last good
    reports stay as they were)."""
    from pipeline.accounting import RunRecord
    from pipeline.outputs import record_failure

    record = RunRecord(config.input_dir, config.output_dir)
    record.data["settings"] = config.settings()
    record_failure(config.output_dir, record.json("failed", str(err)))


def summary_line(result: dict, config: Config) -> str:
    out = config.output_dir
    aside = f"{result['set_aside']} file(s) set aside (reasons in {out / 'quarantine.csv'})" if result["set_aside"] else "none set aside"
    durations = result.get("durations") or {}
    times = ", ".join(f"{k} {v:.1f} s" for k, v in durations.items() if k not in ("total", "up-to-date check"))
    names = ", ".join(Path(f).name for f in result["files"])
    head = "done (reports up to date: nothing changed)" if result.get("reused") else "done"
    return (f"{head}: {result['documents']:,} document(s) read, {aside}; {result['sentences']:,} sentence rows; "
            f"model {result['model']}; {times + ', ' if times else ''}total {durations.get('total', 0):.1f} s; "
            f"reports in {out}/: {names}")


def retrain(args: argparse.Namespace, config: Config) -> int:
    from pipeline import progress, registry
    from pipeline.evaluate import markdown_card
    from pipeline.files import atomic_write, check_writable
    from pipeline.taxonomy import load_taxonomy

    if args.rollback:
        version = registry.rollback(config.models_folder)
        print(f"rolled back: model {version} is current again")
        return 0
    taxonomy = load_taxonomy(config.labels_dir)
    check_writable(config.output_dir, "output folder")
    with progress.reporting(progress.for_stream(sys.stdout)) as show:
        result = registry.retrain(config.labels_dir, config.models_folder, taxonomy, accept=args.accept, cv_folds=config.cv_folds,
                                  embeddings=config.sentence_embeddings, params=config.model_params(),
                                  progress=show.callback("training", "steps"))
        show.finish("training")
    import json

    atomic_write(config.output_dir / "model_card.json", json.dumps(result.card, indent=1) + "\n")
    atomic_write(config.output_dir / "model_card.md", markdown_card(result.card, taxonomy))
    card = result.card
    for basis, name in (("cv", "grouped cross-validation"), ("dev", "development set")):
        if card.get(basis):
            print(f"{name}: issue macro-F1 {card[basis]['issue']['macro_f1']}, stance macro-F1 {card[basis]['stance']['macro_f1']}")
    status = "is now current" if result.made_current else "was saved but is NOT current"
    print(f"model {result.model.version} {status}: {result.message}")
    print(f"model card: {config.output_dir / 'model_card.md'}")
    return 0


def _current_model(config: Config):
    """The current model, read only: predict and suggest never train; they say so when the
    model is missing (an error) or was trained on other labels or settings (a warning)."""
    from pipeline.registry import current_model
    from pipeline.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(config.labels_dir)
    model, stale = current_model(config.labels_dir, config.models_folder, config.sentence_embeddings, config.model_params())
    if stale:
        print(f"warning: {stale}", file=sys.stderr)
    return model, taxonomy


def check_output_file(path: Path) -> None:
    """An output file's place must be writable, and not a folder: checked before any work."""
    from pipeline.files import check_writable

    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"--output {path} is a folder: give the name of the CSV file to write")
    check_writable(path.parent if str(path.parent) else Path("."), "folder of the output file")


def predict(args: argparse.Namespace, config: Config) -> int:
    from pipeline.files import atomic_write, csv_text
    from pipeline.predict import predicted_table, read_sentences

    check_output_file(args.output)
    frame = read_sentences(args.file)
    model, _ = _current_model(config)
    table = predicted_table(frame, model)
    atomic_write(args.output, csv_text(table, float_format="%.4f"))
    print(f"classified {len(table)} sentence(s) with model {model.version}; wrote {args.output}")
    return 0


def suggest(args: argparse.Namespace, config: Config) -> int:
    import pandas as pd

    from pipeline.files import atomic_write, csv_text, restored_frame
    from pipeline.labels import load_labels
    from pipeline.predict import suggestions

    source = config.output_dir / "sentences.csv"
    if not source.exists():
        raise FileNotFoundError(f"{source} not found: run `python -m pipeline run` first")
    target = args.to or config.output_dir / "suggestions.csv"
    check_output_file(target)
    sentences = restored_frame(pd.read_csv(source, keep_default_na=False, dtype={"text": str, "speaker": str, "furniture_reason": str}))
    model, taxonomy = _current_model(config)
    picked = suggestions(sentences, model, taxonomy, load_labels(config.labels_dir, taxonomy), args.n, config.context_sentences)
    atomic_write(target, csv_text(picked, float_format="%.4f"))
    print(f"wrote {len(picked)} sentence(s) to review to {target}: check issue and stance, fix what is wrong, "
          f"drop the confidence and margin columns if you like, move the file into {config.labels_dir}/ and retrain")
    return 0


COMMANDS = {"run": run, "retrain": retrain, "predict": predict, "suggest": suggest}
