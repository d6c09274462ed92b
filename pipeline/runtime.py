"""What a command-line run needs around the flow: Prefect's temporary server as a child that
dies with this process, Prefect's own logging out of the user's way, and signals that stop a run
within seconds.

- Without a Prefect server configured (``PREFECT_API_URL``), Prefect would start its temporary
  server itself, as a child that outlives a ``kill -9`` or a SIGTERM of the run and that Ctrl-C
  kills first (the run then waits minutes on connection retries). Here the run starts that server
  itself: in its own session (Ctrl-C at the terminal does not reach it), told by the kernel to end
  when its parent does (``PR_SET_PDEATHSIG``, Linux), and stopped when the run ends.
- SIGINT and SIGTERM raise :class:`Interrupted` in the main thread; if the run has not ended a
  few seconds later, a watchdog ends the process.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

#: seconds a run has, after SIGINT or SIGTERM, to stop on its own before it is ended
GRACE_SECONDS = 4.0


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child receive SIGTERM when this process dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)  # loaded before the fork: nothing to load in the child
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the call took effect
            os._exit(0)
    return preexec


def _server_class():
    import prefect.server.api.server as server_module

    class ChildServer(server_module.SubprocessASGIServer):
        """Prefect's temporary server, started as a child bound to this process's life."""

        _instances: dict = {}

        def _run_uvicorn_command(self):
            real = subprocess.Popen

            class Shim:
                @staticmethod
                def Popen(*args, **kwargs):  # noqa: N802
                    kwargs.update(start_new_session=True, preexec_fn=_parent_death_signal(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
                    return real(*args, **kwargs)

                def __getattr__(self, name):
                    return getattr(subprocess, name)

            server_module.subprocess = Shim()
            try:
                return super()._run_uvicorn_command()
            finally:
                server_module.subprocess = subprocess
    return ChildServer


@contextmanager
def prefect_server() -> Iterator[object | None]:
    """A temporary Prefect server for the block, unless one is configured; yields it (or None)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield None
        return
    server = _server_class()()
    try:
        server.start()
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield server
    finally:
        drain_prefect()
        stop_server(server)


def drain_prefect(timeout: float = 5.0) -> None:
    """Send the logs and events Prefect still holds while its server is up (else, at exit, it
    retries against a stopped server and prints connection errors)."""
    try:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        for service in (APILogWorker, EventsWorker):
            service.drain_all(timeout=timeout)
    except Exception:  # noqa: BLE001 (best effort: nothing of the run depends on it)
        pass


def stop_server(server, wait: float = 5.0) -> None:
    process = getattr(server, "server_process", None) if server is not None else None
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    server.server_process = None
    server.running = False


@contextmanager
def prefect_logging(verbose: bool, log_file: Path | None) -> Iterator[None]:
    """Unless ``verbose``: Prefect's console logs (and warnings) go to ``log_file`` (or nowhere),
    not to the terminal. Restored after the block."""
    if verbose:
        yield
        return
    import prefect.main  # noqa: F401  (configures Prefect's logging first, on import)

    replaced: list[tuple[logging.Logger, logging.Handler]] = []
    target: logging.Handler = logging.NullHandler()
    if log_file is not None:
        try:
            target = logging.FileHandler(log_file, mode="w", encoding="utf-8", delay=True)
            target.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
        except OSError:
            target = logging.NullHandler()
    loggers = [logging.getLogger()] + [l for l in logging.Logger.manager.loggerDict.values() if isinstance(l, logging.Logger)]
    for logger in loggers:
        for handler in list(logger.handlers):
            # every console handler (Prefect's rich one, its debug one, anything printing to a stream)
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                logger.removeHandler(handler)
                replaced.append((logger, handler))
                if target not in logger.handlers:
                    logger.addHandler(target)
    logging.captureWarnings(True)
    try:
        with warnings.catch_warnings():
            yield
    finally:
        logging.captureWarnings(False)
        for logger, handler in replaced:
            logger.removeHandler(target)
            logger.addHandler(handler)
        target.close()


#: the signals received inside the innermost ``stopped_by_signals`` (empty outside one)
_received: list[str] = []


def _signal_behind(err: BaseException | None) -> str | None:
    """The signal ``err`` was raised by, or while handling (its cause and context chain)."""
    from prefect.exceptions import TerminationSignal

    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, Interrupted):
            return err.signal_name
        if isinstance(err, TerminationSignal):
            return signal.Signals(getattr(err, "signal", signal.SIGTERM)).name
        if isinstance(err, KeyboardInterrupt):
            return "SIGINT"
        err = err.__cause__ or err.__context__
    return None


def interruption(err: BaseException | None = None) -> str | None:
    """The signal behind ``err``, if it was raised by one or while handling one, or one that
    arrived during the run whatever ``err`` is: Prefect's task engine takes SIGTERM itself
    (TerminationSignal), and crashing on it as a task run starts raises an unrelated error
    ("Task run is not set") from it. None if no signal stopped the run."""
    return _signal_behind(err) or (_received[0] if _received else None)


@contextmanager
def stopped_by_signals(on_timeout: Callable[[str], None]) -> Iterator[list[str]]:
    """SIGINT and SIGTERM raise :class:`Interrupted`; if the process is still running
    ``GRACE_SECONDS`` later (or a second signal comes), ``on_timeout(signal name)`` ends it.
    Yields the list of the signals received (empty until one comes)."""
    global _received
    fired: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield fired
        return

    redelivered: list[str] = []  # signals a finalizer swallowed, sent again to our handler
    sent_again: list[str] = []

    def grace(name: str) -> None:
        fired.append(name)
        timer = threading.Timer(GRACE_SECONDS, on_timeout, args=(name,))
        timer.daemon = True
        timer.start()

    def handler(signum, frame):
        name = signal.Signals(signum).name
        if redelivered:
            redelivered.pop()
            raise Interrupted(name)
        if fired:
            on_timeout(fired[0])
            return
        grace(name)
        raise Interrupted(name)

    def unraisable(info) -> None:
        # the signal came while Python ran a finalizer or weakref callback (pandera has some),
        # which cannot raise: Python would print "Exception ignored in ..." with a traceback and
        # go on. This holds for our Interrupted and for Prefect's TerminationSignal alike (inside
        # a flow, Prefect's own SIGTERM handler replaces ours). Deliver it again, so that it stops
        # the run with its one line.
        name = _signal_behind(info.exc_value)
        if name is None or len(sent_again) >= 20:  # not a signal, or one that keeps landing there
            previous_hook(info)
            return
        if not fired:  # Prefect's handler took it: ours never saw it, so the grace starts here
            grace(name)
        sent_again.append(name)
        # from another thread, a moment later: raised here, or at once, it would land in this
        # hook or the same finalizer again
        again = threading.Timer(0.05, send_again, args=(name,))
        again.daemon = True
        again.start()

    def send_again(name: str) -> None:
        signum = getattr(signal, name)
        if signal.getsignal(signum) is handler:  # ours raises it, not taking it for a second signal
            redelivered.append(name)
        signal.raise_signal(signum)

    previous_hook = sys.unraisablehook
    sys.unraisablehook = unraisable
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    outer, _received = _received, fired
    try:
        yield fired
    finally:
        _received = outer
        sys.unraisablehook = previous_hook
        for s, h in previous.items():
            signal.signal(s, h)
