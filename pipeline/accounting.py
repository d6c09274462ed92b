"""The account of a run: every input and its outcome, counts in and out at every stage, the
model, and how long each stage took (``run.json``); the files set aside (``quarantine.csv``).
Times live here only, so the reports themselves are the same for the same inputs and model."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

import pandas as pd

QUARANTINE_COLUMNS = ["path", "reason", "size", "sha256"]


def quarantine_csv(set_aside: pd.DataFrame) -> str:
    return set_aside.reindex(columns=QUARANTINE_COLUMNS).sort_values("path").to_csv(index=False, lineterminator="\n")


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
