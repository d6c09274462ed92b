"""Signals (issue 12, case 9): Ctrl-C and SIGTERM stop a run within seconds with one line, and
no Prefect server outlives a run, even after kill -9."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT
from pipeline.outputs import FAILED


def _children(pid: int) -> list[int]:
    listed = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in listed.split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_signal_stops_the_run_within_seconds_and_leaves_no_prefect_server(signum, forty, models_copy, quick_labels, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}  # the run starts its own temporary server
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--input", forty, "--output", out, "--models", models_copy, "--labels", quick_labels],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:  # wait for the point the run reports: segmentation done, classifying begins
        if line.startswith("segment: "):
            break
    else:
        pytest.fail(process.stderr.read())
    servers = [pid for pid in _children(process.pid) if "uvicorn" in Path(f"/proc/{pid}/cmdline").read_text()]
    assert len(servers) == 1
    started = time.perf_counter()
    process.send_signal(signum)
    code = process.wait(timeout=30)
    seconds = time.perf_counter() - started
    rest, err = process.communicate()
    deadline = time.time() + 15
    while time.time() < deadline and _alive(servers[0]):
        time.sleep(0.1)
    assert not _alive(servers[0]), "the Prefect server outlived the run"
    if signum == signal.SIGKILL:
        return
    assert seconds < 8, seconds
    assert code == (130 if signum == signal.SIGINT else 143), err
    assert err.strip().splitlines() == [f"interrupted ({signal.Signals(signum).name}): stopped; no reports were written to {out}/"], err
    assert not (out / "run.json").exists() and json.loads((out / FAILED).read_text())["status"] == "interrupted"


def _signal_inside_a_finalizer(signum: int) -> None:
    """Send ``signum`` from inside a weakref callback (pandera has some), then wait for it."""
    import weakref

    class Thing:
        pass

    thing = Thing()
    ref = weakref.ref(thing, lambda _: (signal.raise_signal(signum), sum(range(1000))))  # noqa: F841
    del thing  # the callback runs now; the signal lands inside it
    deadline = time.time() + 5
    while time.time() < deadline:
        pass


def test_a_signal_that_lands_in_a_finalizer_still_stops_the_run_quietly(capsys):
    """A finalizer cannot raise: Python would print the Interrupted it swallowed and go on."""
    from pipeline.runtime import Interrupted, stopped_by_signals

    ended = []
    with pytest.raises(Interrupted):
        with stopped_by_signals(on_timeout=ended.append):
            _signal_inside_a_finalizer(signal.SIGINT)
    assert "Exception ignored" not in capsys.readouterr().err and not ended


def test_prefects_sigterm_that_lands_in_a_finalizer_still_stops_the_run_quietly(capsys):
    """Inside a flow Prefect's own SIGTERM handler replaces ours; its TerminationSignal, raised in
    a finalizer, was printed as "Exception ignored" and the run went on to finish (exit 0)."""
    from prefect.exceptions import TerminationSignal
    from prefect.utilities.engine import _prefect_sigterm_handler

    from pipeline.runtime import interruption, stopped_by_signals

    ended = []
    with pytest.raises(TerminationSignal):
        with stopped_by_signals(on_timeout=ended.append) as fired:
            ours = signal.signal(signal.SIGTERM, _prefect_sigterm_handler)  # as capture_sigterm() does
            try:
                _signal_inside_a_finalizer(signal.SIGTERM)
            finally:
                signal.signal(signal.SIGTERM, ours)
                assert fired == ["SIGTERM"] and interruption(ValueError("Task run is not set")) == "SIGTERM"
    assert "Exception ignored" not in capsys.readouterr().err and not ended




def test_an_error_raised_while_prefect_handles_sigterm_counts_as_the_interrupt():
    """Prefect's task engine takes SIGTERM itself; crashing on it as a task run starts, it can
    raise "Task run is not set" instead (seen under load): still an interrupt, not an error."""
    from prefect.exceptions import TerminationSignal

    from pipeline.runtime import interruption, Interrupted, stopped_by_signals

    try:
        try:
            raise TerminationSignal(signal.SIGTERM)
        except TerminationSignal:
            raise ValueError("Task run is not set")
    except ValueError as err:
        assert interruption(err) == "SIGTERM"
    assert interruption(ValueError("a real error")) is None
    # an error that has lost its link to the signal (the run's failure record is written from it)
    # still counts as the interrupt while the run that received the signal is on
    with stopped_by_signals(lambda name: None):
        with pytest.raises(Interrupted):
            signal.raise_signal(signal.SIGTERM)
        assert interruption(ValueError("Task run is not set")) == "SIGTERM"
    assert interruption(ValueError("Task run is not set")) is None
