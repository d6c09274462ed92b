"""Command line: ``python -m pipeline run|retrain``."""

from __future__ import annotations

import argparse
import os
import sys

# Nothing is fetched at run time: no model hub, no telemetry.
for _name, _value in (("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_OFFLINE", "1"), ("PREFECT_SERVER_ANALYTICS_ENABLED", "false")):
    os.environ.setdefault(_name, _value)

from pipeline.config import Config


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipeline", description="Sentence-level issue and stance reports on foreign-policy statements.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the flow on a folder of documents and write reports")
    run.add_argument("--input", dest="input_dir", help="folder of documents (default: seeds/)")
    run.add_argument("--output", dest="output_dir", help="folder for reports (default: reports/)")
    run.add_argument("--labels", dest="labels_dir", help="labels folder (default: labels/)")
    run.add_argument("--models", dest="model_dir", help="models folder (default: models/)")
    run.add_argument("--speaker", dest="main_speaker", help="main speaker when neither metadata nor text names one")
    retrain = sub.add_parser("retrain", help="train a model on the labels")
    retrain.add_argument("--labels", dest="labels_dir", help="labels folder (default: labels/)")
    retrain.add_argument("--models", dest="model_dir", help="models folder (default: models/)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k != "command"}
    config = Config().replace(**options)
    if args.command == "run":
        from pipeline.flow import stance_report

        try:
            result = stance_report(config)
        except (ValueError, RuntimeError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"{result['documents']} document(s), {result['sentences']} sentence rows, "
              f"{result['set_aside']} file(s) set aside; model {result['model']}; wrote {', '.join(result['files'])}")
        return 0
    if args.command == "retrain":
        from pipeline.classify import set_current, train_model
        from pipeline.taxonomy import load_taxonomy

        try:
            taxonomy = load_taxonomy(config.labels_dir)
            model = train_model(config.labels_dir, config.model_dir, taxonomy)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        set_current(config.model_dir, model.version)
        print(f"trained model {model.version}")
        return 0
    return 2
