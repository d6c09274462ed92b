"""Ingest: the documents of an input folder, with id, title, date, speaker and source.

Whatever cannot be read as a text document is set aside with a reason a person can read;
nothing in the folder goes unaccounted for.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import zipfile
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path

import pandas as pd

from pipeline.schemas import MetadataSchema, checked
from pipeline.progress import counted
from pipeline.segment import compile_furniture, furniture_reason

METADATA_FILE = "metadata.csv"
METADATA_FIELDS = ("date", "year", "speaker", "source", "title")
#: fields a name pattern reads; others ("{session}") only have to match
PATTERN_FIELDS = ("speaker", "year", "date")

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_MONTH = "|".join(_MONTHS)
# "30 November 2017" (also "30 November 201712:08", a timestamp glued to the year) and "August 16, 2017"
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}}) ({_MONTH}) (\d{{4}})(?!\d{{3}})")
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH}) (\d{{1,2}}), (\d{{4}})\b")
_MAGIC = {b"%PDF": "a PDF file", b"\x89PNG": "a PNG image", b"PK\x03\x04": "a zip archive",
          b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image", b"\x7fELF": "an executable"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SAVE_AS_TEXT = "save it as plain text (.txt)"


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
    document = _word_processor_document(data)
    if document:
        return Decoded(reason=document)
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return Decoded(reason=f"binary content ({kind}), not a text document")
    notes = []
    # UTF-32's byte-order mark begins with UTF-16's: test it first
    marked = next((e for m, e in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                                  (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")) if data.startswith(m)), None)
    nuls = data.count(b"\x00")
    if marked:
        try:
            text, encoding = data.decode(marked), marked
        except UnicodeDecodeError:
            return Decoded(reason=f"binary or undecodable content: a {marked.upper()} byte-order mark, but not {marked.upper()} text")
    elif nuls > max(8, len(data) // 100):
        # UTF-16 or UTF-32 without a byte-order mark has NULs in most characters; binary has them too
        wide = _wide_unicode(data)
        if wide is None:
            return Decoded(reason="binary content (many NUL bytes), not a text document")
        text, encoding = wide
        notes.append(f"decoded as {encoding}")
    else:
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


def _wide_unicode(data: bytes) -> tuple[str, str] | None:
    """UTF-16 or UTF-32 text without a byte-order mark, as charset-normalizer detects it."""
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["utf_16_le", "utf_16_be", "utf_32_le", "utf_32_be"]).best()
    if best is None or not best.encoding.startswith(("utf_16", "utf_32")):
        return None
    return str(best), best.encoding.replace("_", "-")


def _word_processor_document(data: bytes) -> str:
    """Why an RTF, Word (.docx) or OpenDocument (.odt) file is set aside, with what to do; ""
    for anything else. Their markup is not running text, and this project reads text only."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{\\rtf"):
        return f"an RTF document: {_SAVE_AS_TEXT}"
    if not data.startswith(b"PK\x03\x04"):
        return ""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, EOFError):
        return ""
    if "word/document.xml" in names:
        return f"a Word document (.docx): {_SAVE_AS_TEXT}"
    if mimetype.startswith(b"application/vnd.oasis.opendocument.text"):
        return f"an OpenDocument text (.odt): {_SAVE_AS_TEXT}"
    return ""


def read_metadata(input_dir: Path) -> dict[str, dict[str, str]]:
    """``metadata.csv`` beside the documents (see ``read_metadata_file``); {} when there is none."""
    path = Path(input_dir) / METADATA_FILE
    if not path.exists():
        return {}
    return read_metadata_file(path)


def read_metadata_file(path: Path) -> dict[str, dict[str, str]]:
    """A CSV of metadata: file (the document's id), then any of date, year, speaker, source,
    title. Decoded like a document; an open quote, a row of the wrong length, an impossible
    date, a year that is not four digits or not the date's, or a file described twice is an
    error naming the file and line."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: metadata file not found")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a CSV file of metadata: rename or move it")
    try:
        decoded = decoded_text(path.read_bytes())
    except OSError as err:
        raise ValueError(f"{path}: unreadable: {err.strerror}") from None
    if decoded.reason:
        raise ValueError(f"{path}: {decoded.reason}; metadata must be a CSV text file (UTF-8 is best)")
    reader = csv.reader(io.StringIO(decoded.text, newline=""), strict=True)
    header: list[str] | None = None
    rows, line = [], 1
    try:
        for fields in reader:
            # the line a row starts on (a quoted field may run over several)
            first, line = line, reader.line_num + 1
            if not fields:
                continue
            if header is None:
                header = [f.strip() for f in fields]
                if "file" not in header:
                    raise ValueError(f"{path}: needs a 'file' column (and any of {', '.join(METADATA_FIELDS)})")
                continue
            if len(fields) != len(header):
                raise ValueError(f"{path}, line {first}: {len(fields)} field(s) where the header has {len(header)} "
                                 f"(a missing or unquoted comma?)")
            if any("\n" in f for f in fields):
                raise ValueError(f"{path}, line {first}: a value runs over lines {first}-{reader.line_num} "
                                 f"(a quote left open?)")
            row = dict(zip(header, (f.strip() for f in fields)))
            date = row.get("date", "")
            if date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
                raise ValueError(f"{path}, line {first}: date {date!r} is not YYYY-MM-DD")
            rows.append({"path": str(path), "line": first, "file": row["file"], **{k: row.get(k, "") for k in METADATA_FIELDS}})
    except csv.Error as err:
        raise ValueError(f"{path}, line {line}: not readable as CSV ({err}; a quote left open?)") from None
    if header is None:
        raise ValueError(f"{path}: needs a 'file' column (and any of {', '.join(METADATA_FIELDS)})")
    frame = pd.DataFrame(rows, columns=["path", "line", "file", *METADATA_FIELDS])
    checked(frame.astype({"line": int}), MetadataSchema, f"metadata in {path}")
    return {r["file"]: {k: r[k] for k in METADATA_FIELDS} for r in rows}


def compile_name_pattern(pattern: str) -> re.Pattern[str]:
    """A file-name pattern ("{speaker}_{session}_{year}") as a regular expression over the
    whole stem of a file name: ``{year}`` is four digits, ``{date}`` YYYY-MM-DD, any other field
    one or more characters (``{speaker}`` is read, the others only have to match). Where a name
    splits more than one way, ``{speaker}`` takes the longest part it can: speakers' names hold
    separators ("United_States_70_2015") more often than sessions or outlets do."""
    parts = re.split(r"(\{[^{}]*\})", pattern)
    regex, seen = [], set()
    for part in parts:
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1].strip()
            if not name.isidentifier():
                raise ValueError(f"name pattern {pattern!r}: {part} is not a field name such as {{speaker}}")
            if name in seen:
                raise ValueError(f"name pattern {pattern!r}: field {{{name}}} appears twice")
            seen.add(name)
            body = r"\d{4}" if name == "year" else r"\d{4}-\d{2}-\d{2}" if name == "date" else r".+" if name == "speaker" else r".+?"
            regex.append(f"(?P<{name}>{body})")
        elif "{" in part or "}" in part:
            raise ValueError(f"name pattern {pattern!r}: an unmatched brace")
        else:
            regex.append(re.escape(part))
    if not seen & set(PATTERN_FIELDS):
        raise ValueError(f"name pattern {pattern!r} reads nothing: give {{speaker}}, {{year}} or {{date}}")
    return re.compile("".join(regex))


def metadata_from_name(name: str, pattern: re.Pattern[str]) -> dict[str, str] | None:
    """Speaker, year and date read out of a file name (extension ignored) by a compiled name
    pattern; None when the name does not match it (an impossible date or a year that is not
    the date's does not match)."""
    stem = Path(name).stem
    m = pattern.fullmatch(stem)
    if m is None:
        return None
    found = {k: v for k, v in m.groupdict().items() if k in PATTERN_FIELDS}
    if "date" in found:
        try:
            Date.fromisoformat(found["date"])
        except ValueError:
            return None
        if found.setdefault("year", found["date"][:4]) != found["date"][:4]:
            return None
    return {k: found.get(k, "").strip() for k in PATTERN_FIELDS}


def _time_of(sources: list[tuple[str, dict[str, str]]]) -> tuple[str, str, str]:
    """(date, year, where from): the first source that gives a date or a year gives both."""
    for origin, values in sources:
        date, year = values.get("date", ""), values.get("year", "")
        if date or year:
            return date, date[:4] if date else year, origin
    return "", "", ""


def _shown(path: Path) -> str:
    """A path as text that can be written anywhere: bytes that are not UTF-8 as \\x escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def input_entries(input_dir: Path, metadata_file: Path | None = None) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Every file of the folder and its subfolders that could be a document, in path order, and
    the entries not read, each with the reason (hidden, a name that is not UTF-8...): documents
    are often filed by year, and nothing is skipped without a trace. ``metadata_file`` (``--metadata``),
    if it is kept inside the folder, is metadata, not a document, as the folder's metadata.csv is."""
    input_dir = Path(input_dir)
    candidates, skipped = [], []
    given = Path(metadata_file).resolve() if metadata_file else None

    def visit(folder: Path) -> None:
        for entry in sorted(folder.iterdir()):
            is_folder = entry.is_dir() and not entry.is_symlink()
            what = "folder" if is_folder else "file"
            try:
                entry.name.encode("utf-8")
            except UnicodeEncodeError:
                skipped.append((entry, f"a {what} name that is not valid UTF-8: rename it"))
                continue
            if entry.name.startswith("."):
                skipped.append((entry, f"hidden {what}" + (", not read" if is_folder else "")))
            elif is_folder:
                visit(entry)
            elif (folder == input_dir and entry.name == METADATA_FILE) or (given is not None and entry.resolve() == given):
                continue  # read as metadata
            elif entry.name == METADATA_FILE:
                skipped.append((entry, f"a {METADATA_FILE} in a subfolder: give its rows, with paths such as "
                                       f"{entry.parent.relative_to(input_dir).as_posix()}/a.txt, in the one at the top"))
            else:
                candidates.append(entry)

    visit(input_dir)
    return candidates, skipped


@dataclass(frozen=True)
class ReadFile:
    """One input file as ingest reads it: its text, or why it is set aside."""

    size: int
    sha256: str = ""
    decoded: Decoded | None = None
    reason: str = ""


def read_file(path: Path, root: Path, max_bytes: int, max_line_chars: int = 1_000_000) -> ReadFile:
    """``path`` read and decoded, or the reason it is not a document (``root``: the input
    folder, resolved)."""
    size = path.lstat().st_size
    if path.is_symlink() and root not in path.resolve().parents:
        return ReadFile(size, reason="a symbolic link to a file outside the input folder")
    if path.is_dir():
        return ReadFile(size, reason="a symbolic link to a folder, not followed: move the documents into the input folder")
    if not path.is_file():
        return ReadFile(size, reason="not a regular file" if path.exists() else "a broken symbolic link")
    size = path.stat().st_size
    if size > max_bytes:
        return ReadFile(size, reason=f"larger than the {max_bytes:,}-byte limit")
    try:
        data = path.read_bytes()
    except OSError as err:
        return ReadFile(size, reason=f"unreadable: {err.strerror}")
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        return ReadFile(size, digest, reason="empty file")
    decoded = decoded_text(data, max_line_chars)
    return ReadFile(size, digest, decoded, decoded.reason)


def unusable_files(input_dir: Path, max_bytes: int, max_line_chars: int = 1_000_000,
                   metadata_file: Path | None = None) -> list[tuple[str, str]] | None:
    """None as soon as one file of the folder reads as a document; else every file with the
    reason it would be set aside. Cheap when the folder holds documents: it stops at the first."""
    input_dir = Path(input_dir)
    root = input_dir.resolve()
    candidates, skipped = input_entries(input_dir, metadata_file)
    reasons = [(_shown(path), reason) for path, reason in skipped]
    for path in candidates:
        read = read_file(path, root, max_bytes, max_line_chars)
        if not read.reason:
            return None
        reasons.append((_shown(path), read.reason))
    return reasons


def read_documents(
    input_dir: Path, furniture: dict[str, str], max_bytes: int, max_line_chars: int = 1_000_000,
    metadata_file: Path | None = None, name_pattern: str | None = None, progress=None,
) -> tuple[pd.DataFrame, list[SetAside], list[dict]]:
    """Documents of ``input_dir`` (one row each), the files set aside with reasons, and an
    account of every input file: path, size, content hash, outcome, reason, encoding, notes,
    and where its speaker and date came from.

    Metadata, field by field, comes first from ``metadata_file``, then from the folder's
    ``metadata.csv``, then from the file name read by ``name_pattern``, then from the text.
    Date and year go together: the first of these that gives either gives both, so a date the
    text mentions is not used when metadata or the file name dates the document."""
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise FileNotFoundError(f"input folder {input_dir} does not exist")
    folder_metadata = read_metadata(input_dir)
    given_metadata = read_metadata_file(Path(metadata_file)) if metadata_file else {}
    pattern = compile_name_pattern(name_pattern) if name_pattern else None
    rows, set_aside, inputs, seen = [], [], [], {}
    root = input_dir.resolve()

    def aside(path: Path | str, reason: str, size: int, digest: str) -> None:
        set_aside.append(SetAside(str(path), reason, size, digest))
        inputs.append({"path": str(path), "size": size, "sha256": digest, "outcome": "set aside", "reason": reason})

    candidates, skipped = input_entries(input_dir, metadata_file)
    for path, reason in skipped:
        aside(_shown(path), reason, 0 if path.is_dir() else path.lstat().st_size, "")
    for path in counted(candidates, progress):  # progress(n): a plain callable, told of each file
        doc_id = path.relative_to(input_dir).as_posix()  # "2017/a.txt": files of two folders may share a name
        read = read_file(path, root, max_bytes, max_line_chars)
        if read.reason:
            aside(path, read.reason, read.size, read.sha256)
            continue
        size, digest, decoded = read.size, read.sha256, read.decoded
        text = decoded.text
        text_digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if text_digest in seen:
            aside(path, f"duplicate of {seen[text_digest]}", size, digest)
            continue
        seen[text_digest] = doc_id
        notes = list(decoded.notes)
        sources = [(f"metadata file {metadata_file}", given_metadata.get(doc_id, {})),
                   (METADATA_FILE, folder_metadata.get(doc_id, {}))]
        if pattern is not None:
            named = metadata_from_name(path.name, pattern)
            if named is None:
                notes.append(f"file name does not match the name pattern {name_pattern!r}: speaker and date as the text states")
            else:
                sources.append(("file name", named))
        stated = stated_date(text)
        date, year, date_from = _time_of([*sources, ("text", {"date": stated})])
        speaker, speaker_from = next(((v["speaker"], o) for o, v in sources if v.get("speaker")), ("", "text"))
        rows.append({
            "doc_id": doc_id,
            "path": str(path),
            "title": next((v["title"] for _, v in sources if v.get("title")), "") or title_of(text, furniture),
            "date": date,
            "year": year,
            "speaker": speaker,
            "source": next((v["source"] for _, v in sources if v.get("source")), ""),
            "sha256": digest,
            "text": text,
        })
        inputs.append({"path": str(path), "size": size, "sha256": digest, "outcome": "processed", "reason": "",
                       "doc_id": doc_id, "encoding": decoded.encoding, "notes": notes,
                       # "text": the speaker is found when segmenting (turns, attributions, else the author)
                       "speaker_from": speaker_from, "date_from": date_from or "none stated"})
    ids = {p.relative_to(input_dir).as_posix() for p in candidates}
    for where, metadata in ((Path(metadata_file) if metadata_file else None, given_metadata),
                            (input_dir / METADATA_FILE, folder_metadata)):
        missing = set(metadata) - ids
        if missing:
            inputs.append({"path": str(where), "outcome": "note",
                           "reason": f"metadata names file(s) not in the folder: {', '.join(sorted(missing))}"})
    columns = ["doc_id", "path", "title", "date", "year", "speaker", "source", "sha256", "text"]
    return pd.DataFrame(rows, columns=columns).astype(str), set_aside, inputs
