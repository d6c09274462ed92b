"""The account of a run: every input and its outcome, counts in and out at every stage, the
model, and how long each stage took (``run.json``); the files set aside (``quarantine.csv``).
Times live here only, so the reports themselves are the same for the same inputs and model."""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

import pandas as pd

from pipeline.files import csv_text

QUARANTINE_COLUMNS = ["path", "reason", "size", "sha256"]


def quarantine_csv(set_aside: pd.DataFrame) -> str:
    return csv_text(set_aside.reindex(columns=QUARANTINE_COLUMNS).sort_values("path"))


class RunRecord:
    """Collects what ``run.json`` reports while a run goes on."""

    def __init__(self, input_dir, output_dir) -> None:
        self.started = datetime.now(timezone.utc)
        self._clock = time.perf_counter()
        self.data: dict = {"input_dir": str(input_dir), "output_dir": str(output_dir), "inputs": [], "counts": {},
                           "durations_seconds": {}, "model": None, "status": "running"}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.data["durations_seconds"][name] = round(self.data["durations_seconds"].get(name, 0) + time.perf_counter() - start, 3)

    def count(self, stage: str, **counts: int) -> None:
        self.data["counts"].setdefault(stage, {}).update({k: int(v) for k, v in counts.items()})

    def json(self, status: str, message: str = "") -> str:
        self.data["status"] = status
        if message:
            self.data["message"] = message
        self.data["started"] = self.started.isoformat(timespec="seconds")
        self.data["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.data["durations_seconds"]["total"] = round(time.perf_counter() - self._clock, 3)
        return json.dumps(self.data, indent=1, ensure_ascii=False) + "\n"


def file_sha256(path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_fingerprint(input_files: list, labels_hash: str, model_version: str | None, settings: dict) -> str:
    """What a run's results depend on: every input's name and content, the labels, the model,
    the settings and the pipeline's own code. Equal fingerprints give equal reports."""
    import hashlib
    from pathlib import Path

    digest = hashlib.sha256()
    for path in sorted(input_files, key=str):
        path = Path(path)
        digest.update(os.fsencode(path))  # the whole path: doc ids are paths within the folder; any bytes
        try:
            digest.update(file_sha256(path).encode() if path.is_file() else b"-")
        except OSError:
            digest.update(b"unreadable")
    digest.update(f"{labels_hash}:{model_version}:{json.dumps(settings, sort_keys=True, default=str)}".encode())
    package = Path(__file__).parent
    for source in [*sorted(package.glob("*.py")), *sorted((package / "templates").glob("*"))]:  # the reports' templates are code too
        digest.update(source.read_bytes())
    return digest.hexdigest()


def unchanged_outputs(output_dir, fingerprint: str) -> dict | None:
    """The previous run's record when it had this fingerprint and its outputs are still there,
    unchanged; None otherwise."""
    from pathlib import Path

    path = Path(output_dir) / "run.json"
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if previous.get("status") != "completed" or previous.get("fingerprint") != fingerprint:
        return None
    for name, digest in (previous.get("outputs") or {}).items():
        target = Path(output_dir) / name
        if not target.is_file() or file_sha256(target) != digest:
            return None
    return previous if previous.get("outputs") else None
