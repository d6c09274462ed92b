"""Writing files so that no reader, no crash and no second run ever sees half a file."""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd
from filelock import FileLock, Timeout

TEMP_PREFIX = ".tmp-"
LOCK_FILE = ".lock"
#: who holds the lock, for the message a second process gets
OWNER_FILE = ".lock-owner"


# A cell a spreadsheet would run as a formula (OWASP, "CSV injection"); apostrophes already
# in front are counted, so that neutralising is undone exactly
_FORMULA = r"'*[=+\-@\t\r]"


def _text_columns(frame: pd.DataFrame) -> list:
    return [c for c in frame.columns if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))]


def neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell and column name that begins with = + - @, a tab or a
    carriage return given a leading apostrophe, so a spreadsheet shows it instead of running it;
    ``restored`` undoes it."""
    safe = frame.copy()  # copy-on-write: cheap until a column is changed
    for column in _text_columns(safe):
        # only the risky cells are copied: a corpus has hundreds of thousands of rows, and a
        # string copy of a whole text column costs as much memory as the column
        values = safe[column]
        risky = values.str.match(_FORMULA).fillna(False).astype(bool) if values.dtype == object else \
            values.astype("string").str.match(_FORMULA).fillna(False).astype(bool)
        if risky.any():
            safe[column] = values.astype(object).where(~risky, "'" + values[risky].astype(str))
    safe.columns = ["'" + c if isinstance(c, str) and re.match(_FORMULA, c) else c for c in safe.columns]
    return safe


def csv_text(frame: pd.DataFrame, **options) -> str:
    """``frame`` as CSV (no index, ``\\n`` line ends), its cells ``neutralised``."""
    return neutralised(frame).to_csv(index=False, lineterminator="\n", **options)


@dataclass(frozen=True)
class CsvTable:
    """A report table written as ``csv_text`` writes it, but streamed to the file a chunk of
    rows at a time: the sentence table of a corpus is hundreds of megabytes as one string."""

    frame: pd.DataFrame
    float_format: str | None = None

    def write_to(self, handle) -> None:
        neutralised(self.frame).to_csv(handle, index=False, lineterminator="\n", float_format=self.float_format, chunksize=20_000)


def restored(values: pd.Series) -> pd.Series:
    """Text cells as they were before ``csv_text`` neutralised them."""
    return values.astype(str).str.replace(f"^'(?={_FORMULA})", "", regex=True)


def restored_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A CSV written by ``csv_text``, read back: text cells and column names as they were."""
    frame = frame.copy()
    for column in _text_columns(frame):
        frame[column] = restored(frame[column])
    frame.columns = list(restored(pd.Series(list(frame.columns), dtype=object)))
    return frame


def _temporary_name(folder: Path, name: str) -> Path:
    return Path(folder) / f"{TEMP_PREFIX}{name}-{secrets.token_hex(4)}"


def atomic_write(path: Path, text: "str | CsvTable") -> None:
    """Write aside in the same folder, then rename into place: the old file or the new, never half.
    The file is created with mode 0666 less the umask, as ``open`` does (no process-wide umask change)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path.parent, path.name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            if isinstance(text, str):
                fh.write(text)
            else:
                text.write_to(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_temporary_folder(parent: Path, label: str) -> Path:
    """A new empty folder ``parent/.tmp-<label>-XXXXXXXX``, mode 0777 less the umask (unlike
    ``tempfile.mkdtemp``'s 0700, so a shared folder stays readable to whom the umask allows)."""
    Path(parent).mkdir(parents=True, exist_ok=True)
    while True:
        folder = _temporary_name(parent, label)
        try:
            folder.mkdir(0o777)
            return folder
        except FileExistsError:
            continue


def fsync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Temporary files and folders a killed run left behind (call with the folder's lock held)."""
    removed = []
    for path in Path(folder).glob(f"{TEMP_PREFIX}*"):
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def check_writable(folder: Path, what: str = "output folder") -> None:
    """Raise a one-line error unless files can be created in ``folder`` (created if missing):
    called before the work starts, so a read-only or full folder is found at once."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"the {what} {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = _temporary_name(folder, "probe")
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            os.write(fd, b"probe\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError as err:
        raise OSError(err.errno, f"cannot write to the {what} {folder}: {err.strerror}") from None


@contextmanager
def folder_lock(folder: Path, what: str = "run", wait: bool = False) -> Iterator[None]:
    """Hold ``folder/.lock`` (``filelock``) for the block; if another process holds it, wait
    (``wait``) or refuse at once. The operating system releases it when the process ends, even by
    ``kill -9``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_FILE, timeout=-1 if wait else 0, thread_local=False)
    owner = folder / OWNER_FILE
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = owner.read_text(encoding="utf-8").strip()
        except OSError:
            holder = ""
        raise RuntimeError(f"{folder} is in use by another {what} ({holder or 'another process'}); "
                           "try again when it has finished") from None
    try:
        atomic_write(owner, f"pid {os.getpid()}\n")
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()
