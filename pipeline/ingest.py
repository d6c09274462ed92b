"""Ingest: the documents of an input folder, with id, title, date, speaker and source.

Whatever cannot be read as a text document is set aside with a reason a person can read;
nothing in the folder goes unaccounted for.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path

import pandas as pd

from pipeline.progress import counted
from pipeline.segment import compile_furniture, furniture_reason

METADATA_FILE = "metadata.csv"
METADATA_FIELDS = ("date", "speaker", "source", "title")

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_MONTH = "|".join(_MONTHS)
# "30 November 2017" (also "30 November 201712:08", a timestamp glued to the year) and "August 16, 2017"
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}}) ({_MONTH}) (\d{{4}})(?!\d{{3}})")
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH}) (\d{{1,2}}), (\d{{4}})\b")
_MAGIC = {b"%PDF": "a PDF file", b"\x89PNG": "a PNG image", b"PK\x03\x04": "a zip archive",
          b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image", b"\x7fELF": "an executable"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class SetAside:
    path: str
    reason: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Decoded:
    """A file's text, or why it is not a text document; and what was done to read it."""

    text: str = ""
    reason: str = ""
    encoding: str = ""
    notes: tuple[str, ...] = ()


def stated_date(text: str) -> str:
    """The first date the text states in full, as YYYY-MM-DD; "" when none (never guessed)."""
    found = []
    for m in _DAY_MONTH_YEAR.finditer(text):
        found.append((m.start(), int(m.group(3)), _MONTHS.index(m.group(2)) + 1, int(m.group(1))))
    for m in _MONTH_DAY_YEAR.finditer(text):
        found.append((m.start(), int(m.group(3)), _MONTHS.index(m.group(1)) + 1, int(m.group(2))))
    for _, year, month, day in sorted(found):
        try:
            return Date(year, month, day).isoformat()
        except ValueError:
            continue
    return ""


def title_of(text: str, furniture: dict[str, str]) -> str:
    """The first line that is not page furniture."""
    compiled = compile_furniture(furniture)
    for line in text.splitlines():
        if line.strip() and not furniture_reason(line, compiled):
            return " ".join(line.split())[:300]
    return ""


def decoded_text(data: bytes, max_line_chars: int = 1_000_000) -> Decoded:
    """The text of a file, decoded and normalised (line endings to ``\\n``, NUL and other control
    characters replaced by spaces), or the reason it is not a text document."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return Decoded(reason=f"binary content ({kind}), not a text document")
    notes = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text, encoding = data.decode("utf-16"), "utf-16"
    else:
        nuls = data.count(b"\x00")
        if nuls > max(8, len(data) // 100):
            return Decoded(reason="binary content (many NUL bytes), not a text document")
        try:
            text, encoding = data.decode("utf-8-sig"), "utf-8"
            if data.startswith(b"\xef\xbb\xbf"):
                notes.append("UTF-8 byte-order mark removed")
        except UnicodeDecodeError:
            guessed = _guess_decoding(data)
            if guessed is None:
                return Decoded(reason="binary or undecodable content: not text in any known encoding")
            text, encoding = guessed
            notes.append(f"decoded as {encoding}")
    unprintable = sum(1 for c in text[:100_000] if not (c.isprintable() or c in "\n\r\t"))
    if unprintable > 0.05 * min(len(text), 100_000):
        return Decoded(reason="binary content (unprintable characters), not a text document")
    head = text[:2000].lstrip().lower()
    if head.startswith(("<!doctype html", "<html")) or ("<body" in head and "</" in head):
        return Decoded(reason="an HTML page: save the article's text as a .txt file")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        notes.append("Windows line endings normalised")
    # replaced by spaces, not removed, so that offsets into the text stay offsets into the file
    controls = len(_CONTROL.findall(text))
    if controls:
        text = _CONTROL.sub(" ", text)
        notes.append(f"{controls} NUL or control character(s) replaced by spaces")
    if not text.strip():
        return Decoded(reason="no text (whitespace only)" if data.strip() else "no text")
    longest = max(map(len, text.split("\n")))
    if longest > max_line_chars:
        return Decoded(reason=f"a line of {longest:,} characters: not running text (limit {max_line_chars:,})")
    return Decoded(text=text, encoding=encoding, notes=tuple(notes))


def _guess_decoding(data: bytes) -> tuple[str, str] | None:
    """A legacy encoding (Windows-1251, Latin-1...), detected by charset-normalizer."""
    from charset_normalizer import from_bytes

    ascii_share = sum(b < 0x80 for b in data) / len(data)
    if ascii_share >= 0.9:
        # mostly English with a few accented words: too little for detection to tell Windows-1252
        # from its Baltic and Central European cousins; Windows-1252 (Latin-1's superset) is the usual one
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            pass
    best = from_bytes(data).best()
    return None if best is None else (str(best), best.encoding)


def read_metadata(input_dir: Path) -> dict[str, dict[str, str]]:
    """``metadata.csv`` beside the documents: file, then any of date, speaker, source, title."""
    path = input_dir / METADATA_FILE
    if not path.exists():
        return {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "file" not in reader.fieldnames:
            raise ValueError(f"{path}: needs a 'file' column (and any of {', '.join(METADATA_FIELDS)})")
        rows = {}
        for line, row in enumerate(reader, start=2):
            date = (row.get("date") or "").strip()
            if date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
                raise ValueError(f"{path}, line {line}: date {date!r} is not YYYY-MM-DD")
            rows[row["file"].strip()] = {k: (row.get(k) or "").strip() for k in METADATA_FIELDS}
    return rows


def candidate_files(input_dir: Path) -> list[Path]:
    """Every entry of the folder that could be a document, in name order."""
    return sorted(
        p for p in input_dir.iterdir()
        if not p.name.startswith(".") and p.name != METADATA_FILE and not p.is_dir()
    )


def read_documents(
    input_dir: Path, furniture: dict[str, str], max_bytes: int, max_line_chars: int = 1_000_000, progress=None,
) -> tuple[pd.DataFrame, list[SetAside], list[dict]]:
    """Documents of ``input_dir`` (one row each), the files set aside with reasons, and an
    account of every input file: path, size, content hash, outcome, reason, encoding, notes."""
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise FileNotFoundError(f"input folder {input_dir} does not exist")
    metadata = read_metadata(input_dir)
    rows, set_aside, inputs, seen = [], [], [], {}
    root = input_dir.resolve()

    def aside(path: Path, reason: str, size: int, digest: str) -> None:
        set_aside.append(SetAside(str(path), reason, size, digest))
        inputs.append({"path": str(path), "size": size, "sha256": digest, "outcome": "set aside", "reason": reason})

    for path in counted(candidate_files(input_dir), progress):  # progress(n): a plain callable, told of each file
        size = path.lstat().st_size
        if path.is_symlink() and root not in path.resolve().parents:
            aside(path, "a symbolic link to a file outside the input folder", size, "")
            continue
        if not path.is_file():
            aside(path, "not a regular file" if path.exists() else "a broken symbolic link", size, "")
            continue
        size = path.stat().st_size
        if size > max_bytes:
            aside(path, f"larger than the {max_bytes:,}-byte limit", size, "")
            continue
        try:
            data = path.read_bytes()
        except OSError as err:
            aside(path, f"unreadable: {err.strerror}", size, "")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if not data:
            aside(path, "empty file", size, digest)
            continue
        decoded = decoded_text(data, max_line_chars)
        if decoded.reason:
            aside(path, decoded.reason, size, digest)
            continue
        text = decoded.text
        text_digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if text_digest in seen:
            aside(path, f"duplicate of {seen[text_digest]}", size, digest)
            continue
        seen[text_digest] = path.name
        meta = metadata.get(path.name, {})
        rows.append({
            "doc_id": path.name,
            "path": str(path),
            "title": meta.get("title") or title_of(text, furniture),
            "date": meta.get("date") or stated_date(text),
            "speaker": meta.get("speaker", ""),
            "source": meta.get("source", ""),
            "sha256": digest,
            "text": text,
        })
        inputs.append({"path": str(path), "size": size, "sha256": digest, "outcome": "processed", "reason": "",
                       "doc_id": path.name, "encoding": decoded.encoding, "notes": list(decoded.notes)})
    missing = set(metadata) - {p.name for p in candidate_files(input_dir)}
    if missing:
        inputs.append({"path": str(input_dir / METADATA_FILE), "outcome": "note",
                       "reason": f"metadata names file(s) not in the folder: {', '.join(sorted(missing))}"})
    columns = ["doc_id", "path", "title", "date", "speaker", "source", "sha256", "text"]
    return pd.DataFrame(rows, columns=columns).astype(str), set_aside, inputs
