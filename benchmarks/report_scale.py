"""Report at the scale of the UN corpus: 4,793 documents, about 400,000 sentences, 200 main
speakers over 51 years, with synthetic labels (no model is run). Times the report stage and how
long Chromium takes to open ``report.html`` (issue 15: under 5 s).

    python benchmarks/report_scale.py [--output DIR] [--chromium PATH]
    python benchmarks/report_scale.py --report reports/report.html   # time a real run's page instead
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.stages import report, write_files
from pipeline.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parent.parent


def corpus(taxonomy, documents: int = 4793, per_document: int = 84, speakers: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    names = [f"C{k:03d}" for k in range(speakers)]
    docs = pd.DataFrame({"doc_id": [f"{names[k % speakers]}_{k // speakers + 25}_{1970 + k % 51}.txt" for k in range(documents)]})
    docs["date"] = [f"{1970 + k % 51}-09-20" if k % 17 else "" for k in range(documents)]
    docs["speaker"] = [names[k % speakers] for k in range(documents)]
    docs["title"], docs["source"], docs["text"] = "General debate", "UN", ""
    n = documents * per_document
    issues = rng.choice(taxonomy.issue_ids, n, p=[0.05] * (len(taxonomy.issue_ids) - 1) + [1 - 0.05 * (len(taxonomy.issue_ids) - 1)])
    stances = rng.choice(taxonomy.stance_ids, n, p=[0.3, 0.2, 0.5])
    claims = set(taxonomy.claim_stances)
    targets = np.array([rng.choice(taxonomy.target_ids(i)) if s in claims and taxonomy.target_ids(i) else "" for i, s in zip(issues, stances)])
    p = pd.DataFrame({"doc_id": np.repeat(docs["doc_id"].to_numpy(), per_document), "sentence_id": np.tile(np.arange(per_document), documents)})
    p["start"] = p["sentence_id"] * 120
    p["end"] = p["start"] + 110
    p["paragraph"] = p["sentence_id"] // 5
    p["text"] = "We call on all parties to pursue dialogue and refrain from steps that raise tensions on the peninsula and beyond."
    p["speaker"] = np.repeat(docs["speaker"].to_numpy(), per_document)
    p["role"], p["is_furniture"], p["furniture_reason"] = "main", False, ""
    p["issue"], p["stance"], p["target"] = issues, stances, targets
    p["issue_confidence"], p["stance_confidence"] = rng.random(n), rng.random(n)
    p["target_confidence"] = np.where(targets != "", 0.7, 0.0)
    return p, docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    parser.add_argument("--report", type=Path, default=None, help="time opening this report.html (of a real run) instead")
    args = parser.parse_args()
    if args.report:
        page_file = args.report.resolve()
        print(f"report.html of a run: {page_file.stat().st_size / 1e6:.1f} MB")
    else:
        taxonomy = load_taxonomy(ROOT / "labels")
        predictions, documents = corpus(taxonomy)
        out = args.output or Path(tempfile.mkdtemp())
        start = time.perf_counter()
        files = report(predictions, documents, pd.DataFrame(columns=["path", "reason", "size", "sha256"]), taxonomy, "synthetic", Config())
        print(f"report stage: {time.perf_counter() - start:.1f} s for {len(predictions):,} sentences; report.html {len(files['report.html']) / 1e6:.1f} MB")
        write_files(files, out)
        page_file = out / "report.html"
    if not args.chromium:
        print("chromium not found: page load not timed")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        start = time.perf_counter()
        page.goto(page_file.as_uri(), wait_until="load")
        if page.query_selector("#speaker-page"):  # a run of one speaker has no speaker table
            page.wait_for_selector("#speaker-page:not(:empty)")
        print(f"Chromium opens report.html in {time.perf_counter() - start:.2f} s")
        browser.close()


if __name__ == "__main__":
    main()
