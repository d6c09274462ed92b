"""The second hostile suite (issue 12): nothing lost, nothing mixed, nothing silent. Inputs are
built on the fly in temporary folders; runs are real."""

import io
import zipfile

import pytest

from conftest import SEED_FILES
from pipeline.config import Config
from pipeline.ingest import read_documents

STATEMENT = "Sergey Lavrov: We are deeply concerned about NATO expansion. Unilateral sanctions are unacceptable.\n"


def _zip(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, content in entries.items():
            z.writestr(name, content)
    return buffer.getvalue()


def _ingest(folder):
    docs, set_aside, inputs = read_documents(folder, Config().furniture, 10**7)
    return docs, {item.path.split("/")[-1]: item.reason for item in set_aside}, inputs


# case 15: UTF-16 without a byte-order mark and UTF-32 are text, not binary
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_utf16_without_a_mark_and_utf32_are_decoded(tmp_path, encoding):
    text = "Заявление МИД России\n\n" + STATEMENT
    (tmp_path / "wide.txt").write_bytes(text.encode(encoding))
    docs, reasons, _ = _ingest(tmp_path)
    assert reasons == {}
    assert docs.iloc[0]["text"] == text and docs.iloc[0]["title"] == "Заявление МИД России"


# case 16: word-processor files are set aside saying what to do; their markup is never classified
def test_rtf_docx_and_odt_are_set_aside_with_what_to_do(tmp_path):
    (tmp_path / "speech.rtf").write_bytes(b"{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}}\\f0\\fs24 " + STATEMENT.encode() + b"}")
    (tmp_path / "speech.docx").write_bytes(_zip({"[Content_Types].xml": "<Types/>", "word/document.xml": f"<w:t>{STATEMENT}</w:t>"}))
    (tmp_path / "speech.odt").write_bytes(_zip({"mimetype": "application/vnd.oasis.opendocument.text", "content.xml": STATEMENT}))
    (tmp_path / "archive.zip").write_bytes(_zip({"inside.txt": STATEMENT}))
    docs, reasons, _ = _ingest(tmp_path)
    assert docs.empty
    assert reasons["speech.rtf"] == "an RTF document: save it as plain text (.txt)"
    assert reasons["speech.docx"] == "a Word document (.docx): save it as plain text (.txt)"
    assert reasons["speech.odt"] == "an OpenDocument text (.odt): save it as plain text (.txt)"
    assert "zip archive" in reasons["archive.zip"]
