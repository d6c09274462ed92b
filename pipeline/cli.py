"""Command line: ``python -m pipeline run | retrain | predict | suggest``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Nothing is fetched at run time: no model hub, no telemetry.
for _name, _value in (("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_OFFLINE", "1"), ("PREFECT_SERVER_ANALYTICS_ENABLED", "false")):
    os.environ.setdefault(_name, _value)

from pipeline.config import Config  # noqa: E402


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipeline", description="Sentence-level issue and stance reports on foreign-policy statements.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--labels", dest="labels_dir", help="labels folder (default: labels/)")
        cmd.add_argument("--models", dest="model_dir", help="models folder (default: models/)")
        cmd.add_argument("--no-embeddings", dest="sentence_embeddings", action="store_const", const=False,
                         help="a stance model without sentence embeddings: less accurate, many times faster "
                              "on large folders (kept apart, in <models>/no-embeddings/)")

    run = sub.add_parser("run", help="run the flow on a folder of documents and write reports")
    run.add_argument("--input", dest="input_dir", help="folder of documents (default: seeds/)")
    run.add_argument("--output", dest="output_dir", help="folder for reports (default: reports/)")
    run.add_argument("--speaker", dest="main_speaker", help="main speaker when neither metadata nor text names one")
    run.add_argument("--workers", type=int, help="run the tasks on a local Dask cluster of N worker processes")
    run.add_argument("--dask-address", dest="dask_address", help="run the tasks on an existing Dask cluster (tcp://HOST:PORT)")
    common(run)

    retrain = sub.add_parser("retrain", help="train a model on the labels, evaluate it and write the model card")
    common(retrain)
    retrain.add_argument("--output", dest="output_dir", help="folder for model_card.md and .json (default: reports/)")
    retrain.add_argument("--accept", action="store_true", help="make the new model current even if it is worse")
    retrain.add_argument("--rollback", action="store_true", help="make the previous model current again (no training)")

    predict = sub.add_parser("predict", help="classify the sentences of a CSV or JSON Lines file with a 'text' column")
    predict.add_argument("file", type=Path, help="CSV or JSON Lines; optional 'context' column; other columns are kept")
    predict.add_argument("--output", required=True, type=Path, help="CSV to write")
    common(predict)

    suggest = sub.add_parser("suggest", help="write the sentences of the last run the model is least sure of, to label next")
    suggest.add_argument("--n", type=int, default=30, help="how many (default 30)")
    suggest.add_argument("--reports", dest="output_dir", help="folder of the last run's reports (default: reports/)")
    suggest.add_argument("--to", type=Path, help="CSV to write (default: <reports>/suggestions.csv)")
    common(suggest)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k in Config.__dataclass_fields__}
    config = Config().replace(**options)
    try:
        return COMMANDS[args.command](args, config)
    except (ValueError, RuntimeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace, config: Config) -> int:
    from pipeline.flow import run_flow

    result = run_flow(config)
    aside = f"; {result['set_aside']} file(s) set aside, reasons in {config.output_dir / 'quarantine.csv'}" if result["set_aside"] else ""
    print(f"{result['documents']} document(s), {result['sentences']} sentence rows{aside}; "
          f"model {result['model']}; wrote {', '.join(result['files'])}")
    return 0


def retrain(args: argparse.Namespace, config: Config) -> int:
    from pipeline import registry
    from pipeline.evaluate import markdown_card
    from pipeline.files import atomic_write
    from pipeline.taxonomy import load_taxonomy

    if args.rollback:
        version = registry.rollback(config.models_folder)
        print(f"rolled back: model {version} is current again")
        return 0
    taxonomy = load_taxonomy(config.labels_dir)
    result = registry.retrain(config.labels_dir, config.models_folder, taxonomy, accept=args.accept,
                              embeddings=config.sentence_embeddings)
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
    from pipeline.registry import model_for_run
    from pipeline.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(config.labels_dir)
    model, _ = model_for_run(config.labels_dir, config.models_folder, taxonomy, config.sentence_embeddings)
    return model, taxonomy


def predict(args: argparse.Namespace, config: Config) -> int:
    from pipeline.files import atomic_write, csv_text
    from pipeline.predict import predicted_table, read_sentences

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
    sentences = restored_frame(pd.read_csv(source, keep_default_na=False, dtype={"text": str, "speaker": str, "furniture_reason": str}))
    model, taxonomy = _current_model(config)
    picked = suggestions(sentences, model, taxonomy, load_labels(config.labels_dir, taxonomy), args.n, config.context_sentences)
    target = args.to or config.output_dir / "suggestions.csv"
    atomic_write(target, csv_text(picked, float_format="%.4f"))
    print(f"wrote {len(picked)} sentence(s) to review to {target}: check issue and stance, fix what is wrong, "
          f"drop the confidence and margin columns if you like, move the file into {config.labels_dir}/ and retrain")
    return 0


COMMANDS = {"run": run, "retrain": retrain, "predict": predict, "suggest": suggest}
