"""How far each stage of a run has got: done / total, rate and time left.

Stage functions know nothing of this module's reporters: they take a *progress callback*, a plain
callable ``progress(n=1, total=None)`` (``n`` more items done; ``total`` sets or corrects the
total). The flow opens a stage with its total; the command line chooses how it is shown: a live
bar on a terminal (``rich``), plain lines at most every ``interval`` seconds and at each stage's
end when output is not a terminal, or nothing (``--quiet``).
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TextIO

Callback = Callable[..., None]


def counted(items: Iterable, progress: Callback | None) -> Iterator:
    """``items``, telling ``progress`` of each one once the loop body has finished with it."""
    for item in items:
        yield item
        if progress:
            progress(1)


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class _Stage:
    def __init__(self, name: str, unit: str, total: int | None) -> None:
        self.name, self.unit, self.total, self.done = name, unit, total, 0
        self.started = time.monotonic()
        self.finished: float | None = None

    def line(self) -> str:
        elapsed = (self.finished or time.monotonic()) - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        total = f"/{self.total:,}" if self.total is not None else ""
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        text = f"{self.name}: {self.done:,}{total} {self.unit}{share}"
        speed = (f"{1 / rate:,.0f} s each" if rate < 1 else f"{rate:,.1f} {self.unit}/s" if rate < 10
                 else f"{rate:,.0f} {self.unit}/s") if rate > 0 else ""
        if self.finished is not None:
            return f"{text}, done in {elapsed:.1f} s" + (f" ({speed})" if speed and elapsed >= 0.05 else "")
        text += f", {speed}" if speed else ""
        if self.total and rate > 0:
            text += f", about {_duration((self.total - self.done) / rate)} left"
        return text


class Reporter:
    """Shows nothing (``--quiet``, and the base of the others)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._stages: dict[str, _Stage] = {}

    def callback(self, name: str, unit: str = "items") -> Callback:
        """The progress callback of stage ``name``; the stage opens at its first call."""
        def progress(n: int = 1, total: int | None = None) -> None:
            with self._lock:
                stage = self._stages.get(name)
                if stage is None or stage.finished is not None:
                    stage = self._stages[name] = _Stage(name, unit, total)
                    self._opened(stage)
                if total is not None:
                    stage.total = total
                stage.done += n
                self._advanced(stage)
        return progress

    def start(self, name: str, total: int, unit: str) -> Callback:
        tick = self.callback(name, unit)
        tick(0, total=total)
        return tick

    def finish(self, name: str, done: int | None = None) -> None:
        """The stage's end; ``done`` (default: its total) is how many it completed."""
        with self._lock:
            stage = self._stages.get(name)
            if stage is None or stage.finished is not None:
                return
            stage.done = done if done is not None else (stage.total if stage.total is not None else stage.done)
            stage.total = stage.total if stage.total is not None else stage.done
            stage.finished = time.monotonic()
            self._finished(stage)

    def close(self) -> None:
        pass

    def _opened(self, stage: _Stage) -> None: ...
    def _advanced(self, stage: _Stage) -> None: ...
    def _finished(self, stage: _Stage) -> None: ...


class PlainReporter(Reporter):
    """A line at most every ``interval`` seconds per stage, and one at its end."""

    def __init__(self, stream: TextIO | None = None, interval: float = 10.0) -> None:
        super().__init__()
        self.stream, self.interval = stream, interval
        self._last: dict[str, float] = {}

    def _print(self, stage: _Stage) -> None:
        stream = self.stream or sys.stdout
        stream.write(stage.line() + "\n")  # not print(): the flow's log_prints would send it to the log
        stream.flush()
        self._last[stage.name] = time.monotonic()

    def _opened(self, stage: _Stage) -> None:
        self._last[stage.name] = time.monotonic()

    def _advanced(self, stage: _Stage) -> None:
        if stage.done != stage.total and time.monotonic() - self._last.get(stage.name, 0) >= self.interval:
            self._print(stage)

    def _finished(self, stage: _Stage) -> None:
        self._print(stage)


class BarReporter(Reporter):
    """A live ``rich`` progress bar per stage, on a terminal."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._progress = Progress(TextColumn("{task.description:<8}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[unit]}"), TextColumn("{task.fields[rate]}"),
                                  TimeElapsedColumn(), TextColumn("elapsed,"), TimeRemainingColumn(), TextColumn("left"),
                                  console=Console(file=sys.stdout), transient=False)
        self._progress.start()
        self._tasks: dict[str, int] = {}

    def _rate(self, stage: _Stage) -> str:
        elapsed = (stage.finished or time.monotonic()) - stage.started
        return f"{stage.done / elapsed:,.0f}/s" if elapsed > 0 else ""

    def _opened(self, stage: _Stage) -> None:
        self._tasks[stage.name] = self._progress.add_task(stage.name, total=stage.total, unit=stage.unit, rate="")

    def _advanced(self, stage: _Stage) -> None:
        self._progress.update(self._tasks[stage.name], completed=stage.done, total=stage.total, rate=self._rate(stage))

    def _finished(self, stage: _Stage) -> None:
        self._progress.update(self._tasks[stage.name], completed=stage.done, total=stage.total, rate=self._rate(stage))

    def close(self) -> None:
        self._progress.stop()


_current: Reporter = Reporter()


def current() -> Reporter:
    """The reporter of the run going on in this process (one that shows nothing on a Dask
    worker, where the flow reports each batch as it completes instead)."""
    return _current


@contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    global _current
    previous, _current = _current, reporter
    try:
        yield reporter
    finally:
        _current = previous
        reporter.close()


def for_stream(stream: TextIO, quiet: bool = False, interval: float = 10.0) -> Reporter:
    """A bar on a terminal, plain lines otherwise, nothing when ``quiet``."""
    if quiet:
        return Reporter()
    if stream.isatty():
        return BarReporter()
    return PlainReporter(stream, interval)
