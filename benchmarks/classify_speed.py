"""The classify stage's speed for two or more saved model versions, side by side in one process,
on the same sentences, alternating: on a shared, noisy machine their ratio holds where the
absolute figures do not (README, "Benchmark").

    python benchmarks/classify_speed.py VERSION VERSION [...] [--models DIR] [--input DIR] [--documents 400] [--rounds 2]

The versions must have been trained with this installation's sentence vectors (a model fitted
with others is refused when it loads). Run by hand, not in CI.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import stages  # noqa: E402
from pipeline.config import Config  # noqa: E402
from pipeline.registry import load_version  # noqa: E402
from pipeline.taxonomy import load_taxonomy  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="+")
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--input", type=Path, default=ROOT.parent / "shared" / "corpora" / "ungdc")
    parser.add_argument("--documents", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    config = Config(input_dir=args.input, labels_dir=ROOT / "labels", model_dir=args.models)
    taxonomy = load_taxonomy(config.labels_dir)
    found, _, _ = stages.ingest_with_account(config)
    sentences = stages.segment(found.head(args.documents), config)
    n = int((~sentences["is_furniture"]).sum())
    print(f"{n:,} sentences of the first {min(args.documents, len(found))} documents of {args.input}")
    models = {v: load_version(args.models, v) for v in args.versions}
    for _ in range(args.rounds):
        for version, model in models.items():
            start = time.perf_counter()
            stages.classify(sentences, model, taxonomy, config)
            seconds = time.perf_counter() - start
            print(f"{version}: {n / seconds:,.0f} sentences/s ({seconds:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
