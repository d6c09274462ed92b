"""Benchmark: the real flow on a large folder, the same stages without Prefect, a second run
with nothing changed, the flow on a local Dask cluster, the cost of the stance model's sentence
embeddings, and sentence segmentation against pysbd.

    python benchmarks/benchmark.py [--input DIR] [--workers 2] [--skip-dask] [--no-embeddings]

The flow runs use the default model (what ``python -m pipeline run`` uses with no flags);
``--no-embeddings`` runs them with the model without sentence embeddings instead. The classify
stage's speed with and without embeddings is measured beside it on a sample, as a ratio.

Default input: ../shared/corpora/ungdc/ when present, else a corpus generated from seeds/.
Needs the bench extra: pip install -e '.[bench]'. Run by hand, not in CI. Figures are printed;
compare them as ratios within one run (machines here are shared and noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from pipeline.config import Config  # noqa: E402


class PeakMemory:
    """Peak resident memory of this process and all its children (Dask workers, the Prefect
    server), sampled every 0.1 s."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.1)

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def generated_corpus(folder: Path, copies: int = 400) -> Path:
    """Seeds copied many times, each copy made unique, when the UN corpus is not there."""
    folder.mkdir(parents=True, exist_ok=True)
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    for i in range(copies):
        for seed in seeds:
            text = seed.read_text(encoding="utf-8")
            (folder / f"{seed.stem}_{i:04d}.txt").write_text(f"Copy {i}\n\n{text}", encoding="utf-8")
    return folder


def timed_flow(config: Config) -> tuple[float, dict, int]:
    from pipeline.flow import run_flow

    with PeakMemory() as memory:
        start = time.perf_counter()
        run_flow(config)
        seconds = time.perf_counter() - start
    return seconds, json.loads((config.output_dir / "run.json").read_text()), memory.peak


def plain_stages(config: Config) -> tuple[float, dict]:
    """The same stages, same batches, no Prefect: what orchestration costs is the difference."""
    import pandas as pd

    from pipeline import stages
    from pipeline.accounting import quarantine_csv
    from pipeline.registry import model_for_run
    from pipeline.taxonomy import load_taxonomy

    times = {}
    start = time.perf_counter()
    t = time.perf_counter()
    taxonomy = load_taxonomy(config.labels_dir)
    documents, set_aside, _ = stages.ingest_with_account(config)
    times["ingest"] = time.perf_counter() - t
    t = time.perf_counter()
    sentences = pd.concat([stages.segment(b, config) for b in stages.batches(documents, config.documents_per_batch)], ignore_index=True)
    times["segment"] = time.perf_counter() - t
    t = time.perf_counter()
    model, _ = model_for_run(config.labels_dir, config.models_folder, taxonomy, config.sentence_embeddings, config.model_params())
    times["model"] = time.perf_counter() - t
    t = time.perf_counter()
    predictions = pd.concat([stages.classify(b, model, taxonomy, config)
                             for b in stages.batches(sentences, config.sentences_per_batch, key="doc_id")], ignore_index=True)
    times["classify"] = time.perf_counter() - t
    t = time.perf_counter()
    files = stages.report(predictions, documents, set_aside, taxonomy, model.version, config)
    files["quarantine.csv"] = quarantine_csv(set_aside)
    stages.write_files(files, config.output_dir)
    times["report"] = time.perf_counter() - t
    return time.perf_counter() - start, times


def segmentation_versus_pysbd(folder: Path, documents: int = 60) -> dict:
    """Our sentence splitting against pysbd on the same paragraphs of the same documents."""
    import pysbd

    from pipeline.segment import DEFAULT_FURNITURE, compile_furniture, paragraph_blocks, sentence_spans, _paragraph_view

    furniture = compile_furniture(DEFAULT_FURNITURE)
    paragraphs = []
    for path in sorted(folder.glob("*.txt"))[:: max(1, len(list(folder.glob("*.txt"))) // documents)][:documents]:
        text = path.read_text(encoding="utf-8", errors="replace")
        for block in paragraph_blocks(text, furniture):
            if not block.furniture:
                paragraphs.append(_paragraph_view(text, block.start, block.end, block.skipped))
    characters = sum(map(len, paragraphs))
    start = time.perf_counter()
    ours = sum(len(sentence_spans(p)) for p in paragraphs)
    ours_seconds = time.perf_counter() - start
    segmenter = pysbd.Segmenter(language="en", clean=False)
    start = time.perf_counter()
    theirs = sum(len(segmenter.segment(p)) for p in paragraphs)
    pysbd_seconds = time.perf_counter() - start
    return {"documents": documents, "characters": characters, "ours_sentences": ours, "ours_seconds": ours_seconds,
            "pysbd_sentences": theirs, "pysbd_seconds": pysbd_seconds, "ratio": pysbd_seconds / ours_seconds}


def classification_rates(config: Config, documents: int = 40) -> dict:
    """Sentences per second of the classify stage with and without the stance model's sentence
    embeddings, on the sentences of the first ``documents`` documents of the folder."""

    from pipeline import stages
    from pipeline.registry import model_for_run
    from pipeline.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(config.labels_dir)
    found, _, _ = stages.ingest_with_account(config)
    sentences = stages.segment(found.head(documents), config)
    rates = {"sentences": int((~sentences["is_furniture"]).sum())}
    for embeddings in (False, True):
        chosen = config.replace(sentence_embeddings=embeddings)
        model, _ = model_for_run(chosen.labels_dir, chosen.models_folder, taxonomy, embeddings, chosen.model_params())
        start = time.perf_counter()
        stages.classify(sentences, model, taxonomy, chosen)
        rates["with" if embeddings else "without"] = rates["sentences"] / (time.perf_counter() - start)
    return rates


def golden_rules() -> tuple[int, int]:
    from pipeline.segment import split_sentences

    path = ROOT.parent / "shared" / "segmentation" / "english_golden_rules.json"
    cases = json.loads(path.read_text())
    return sum(split_sentences(c["text"]) == c["sentences"] for c in cases), len(cases)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = ROOT.parent / "shared" / "corpora" / "ungdc"
    parser.add_argument("--input", type=Path, default=default if default.is_dir() else None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--no-embeddings", action="store_true", help="run the flows with the model without sentence embeddings")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stance-bench-"))
    folder = args.input or generated_corpus(work / "corpus")
    print(f"machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB; corpus: {folder}")
    base = Config(input_dir=folder, model_dir=ROOT / "models", labels_dir=ROOT / "labels", sentence_embeddings=not args.no_embeddings)
    print(f"flows below use the {'default model (with sentence embeddings)' if base.sentence_embeddings else 'model without sentence embeddings'}")

    from pipeline.flow import run_flow
    from pipeline.registry import model_for_run
    from pipeline.taxonomy import load_taxonomy

    start = time.perf_counter()
    model_for_run(base.labels_dir, base.models_folder, load_taxonomy(base.labels_dir), base.sentence_embeddings,
                  base.model_params())  # train once, untimed below
    warm = work / "warm"
    shutil.copytree(ROOT / "seeds", warm / "in")
    run_flow(base.replace(input_dir=warm / "in", output_dir=warm / "out"))
    print(f"set-up (model ready, Prefect's temporary server started, untimed below): {time.perf_counter() - start:.1f} s")

    flow_seconds, run, peak = timed_flow(base.replace(output_dir=work / "flow"))
    docs, rows = run["counts"]["ingest"]["documents_out"], run["counts"]["segment"]["rows_out"]
    sentences = run["counts"]["segment"]["sentences"]
    print(f"\nflow (Prefect, thread task runner): {docs} documents ({run['counts']['ingest']['set_aside']} set aside), "
          f"{sentences:,} sentences ({rows:,} rows with furniture)")
    print(f"  wall {flow_seconds:.1f} s, {sentences / flow_seconds:,.0f} sentences/s, peak memory {peak / 2**20:,.0f} MiB")
    print("  stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in run["durations_seconds"].items()))

    plain_seconds, plain_times = plain_stages(base.replace(output_dir=work / "plain"))
    print(f"\nsame stages without Prefect: {plain_seconds:.1f} s ({', '.join(f'{k} {v:.1f} s' for k, v in plain_times.items())})")
    print(f"  flow / plain = {flow_seconds / plain_seconds:.3f}; orchestration overhead {100 * (flow_seconds - plain_seconds) / flow_seconds:.1f}% of the run")

    again_seconds, again, _ = timed_flow(base.replace(output_dir=work / "flow"))
    print(f"\nsecond run, nothing changed: {again_seconds:.1f} s = {100 * again_seconds / flow_seconds:.1f}% of the first "
          f"({'reports reused' if again.get('reused_run_of') else 'recomputed'})")

    if not args.skip_dask:
        dask_seconds, dask_run, dask_peak = timed_flow(base.replace(output_dir=work / "dask", workers=args.workers))
        print(f"\nflow on a local Dask cluster of {args.workers} workers: wall {dask_seconds:.1f} s, "
              f"{sentences / dask_seconds:,.0f} sentences/s, peak memory {dask_peak / 2**20:,.0f} MiB (all processes)")
        print("  stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in dask_run["durations_seconds"].items()))
        same = all((work / "dask" / n).read_bytes() == (work / "flow" / n).read_bytes() for n in ("sentences.csv", "summary.md"))
        print(f"  outputs identical to the local run: {same}")

    rates = classification_rates(base)
    print(f"\nclassify stage on {rates['sentences']:,} sentences of the first 40 documents: without sentence embeddings "
          f"{rates['without']:,.0f} sentences/s, with them (the default) {rates['with']:,.0f} sentences/s "
          f"(ratio {rates['without'] / rates['with']:.2f})")

    seg = segmentation_versus_pysbd(folder)
    right, total = golden_rules()
    print(f"\nsegmentation on {seg['documents']} documents ({seg['characters']:,} characters): ours {seg['ours_seconds']:.2f} s "
          f"({seg['ours_sentences']:,} sentences), pysbd {seg['pysbd_seconds']:.2f} s ({seg['pysbd_sentences']:,}); "
          f"ours is {seg['ratio']:.0f}x faster")
    print(f"golden rules: {right} of {total} split exactly right")
    print(f"\nreport.html: {(work / 'flow' / 'report.html').stat().st_size / 2**20:.1f} MiB; outputs in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
