"""The second hostile suite (issue 12): nothing lost, nothing mixed, nothing silent. Inputs are
built on the fly in temporary folders; runs are real."""

import io
import shutil
import zipfile

import pytest

from conftest import SEED_FILES, run_cli
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


# case 3: documents filed in subfolders are read; hidden entries are listed, never skipped silently
def test_subfolders_are_read_and_hidden_entries_are_listed_with_a_reason(tmp_path):
    (tmp_path / "2017").mkdir()
    (tmp_path / "2017" / "a.txt").write_text("Statement of 2017\n\n" + STATEMENT)
    (tmp_path / "2018" / "q1").mkdir(parents=True)
    (tmp_path / "2018" / "q1" / "a.txt").write_text("Statement of 2018\n\n" + STATEMENT)
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / "2018" / ".notes.txt").write_text(STATEMENT)
    (tmp_path / "metadata.csv").write_text("file,speaker\n2018/q1/a.txt,Maria Zakharova\n")
    docs, reasons, inputs = _ingest(tmp_path)
    by_id = docs.set_index("doc_id")
    assert list(by_id.index) == ["2017/a.txt", "2018/q1/a.txt"]
    assert by_id.loc["2018/q1/a.txt", "speaker"] == "Maria Zakharova"
    assert reasons == {".DS_Store": "hidden file", ".git": "hidden folder, not read", ".notes.txt": "hidden file"}
    accounted = {i["path"].removeprefix(str(tmp_path) + "/") for i in inputs}
    assert accounted == {"2017/a.txt", "2018/q1/a.txt", ".DS_Store", ".git", "2018/.notes.txt"}


# case 12: a file name that is not valid UTF-8 is set aside with the reason; the rest goes on
def test_a_file_name_that_is_not_utf8_is_set_aside_and_the_rest_read(tmp_path):
    import json
    import os

    shutil.copy(SEED_FILES[0], tmp_path)
    (tmp_path / os.fsdecode(b"d\xe9claration.txt")).write_text(STATEMENT)
    docs, _, inputs = _ingest(tmp_path)
    assert list(docs["doc_id"]) == [SEED_FILES[0].name]
    odd = next(i for i in inputs if i["outcome"] == "set aside")
    assert odd["path"].endswith("d\\xe9claration.txt") and "not valid UTF-8: rename it" in odd["reason"]
    json.dumps(inputs).encode("utf-8")  # run.json and quarantine.csv can be written


# cases 5 and 13: metadata.csv gets the schema checks, with file and line named
@pytest.mark.parametrize("content,message", [
    (b'file,speaker\nseed.txt,"Sergey Lavrov\nother.txt,Maria Zakharova\n', r"metadata.csv, line 2: not readable as CSV"),
    (b'file,speaker\nseed.txt,"Sergey Lavrov\nother.txt,x\nthird.txt,y"\n', r"metadata.csv, line 2: a value runs over lines 2-4"),
    (b"file,date\nseed.txt,2017-02-30\n", r"metadata.csv, line 2, row 0, column date: failed date must be a real date"),
    (b"file,date\nother.txt,2017-01-01\nseed.txt,2017-13-45\n", r"metadata.csv, line 3, row 1, column date: failed date must be a real"),
    (b"file,speaker\nseed.txt,A\nother.txt,B\nseed.txt,C\n", r"(?s)line 2, row 0, column file: failed a file described on two lines.*line 4, row 2"),
    (b"speaker,file,date\nSergey Lavrov\n", r"metadata.csv, line 2: 1 field\(s\) where the header has 3"),
    (b"file,title\nseed.txt,Sanctions, a statement\n", r"metadata.csv, line 2: 3 field\(s\) where the header has 2"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), r"metadata.csv: binary content \(a PNG image\)"),
])
def test_bad_metadata_is_an_error_naming_file_and_line(tmp_path, content, message):
    shutil.copy(SEED_FILES[0], tmp_path / "seed.txt")
    (tmp_path / "metadata.csv").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        _ingest(tmp_path)


def test_a_metadata_folder_is_an_error(tmp_path):
    shutil.copy(SEED_FILES[0], tmp_path / "seed.txt")
    (tmp_path / "metadata.csv").mkdir()
    with pytest.raises(ValueError, match=r"metadata.csv is a folder, not a CSV file"):
        _ingest(tmp_path)


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-8-sig"])
def test_metadata_in_other_encodings_is_decoded_like_documents(tmp_path, encoding):
    shutil.copy(SEED_FILES[0], tmp_path / "seed.txt")
    (tmp_path / "metadata.csv").write_bytes("file,speaker,date\r\nseed.txt,José María Aznar,2003-02-05\r\n".encode(encoding))
    docs, _, _ = _ingest(tmp_path)
    assert docs.iloc[0]["speaker"] == "José María Aznar" and docs.iloc[0]["date"] == "2003-02-05"


# case 4: an output folder inside the input folder is refused before any work
@pytest.mark.parametrize("output", ["inbox", "inbox/reports", "inbox/2017/reports"])
def test_an_output_folder_inside_the_input_folder_is_refused(tmp_path, capsys, output):
    inbox = tmp_path / "inbox"
    (inbox / "2017").mkdir(parents=True)
    shutil.copy(SEED_FILES[0], inbox)
    code, _, err = run_cli(capsys, "run", "--input", inbox, "--output", tmp_path / output)
    assert code == 1
    assert "is inside the input folder" in err and "Traceback" not in err, err
    assert sorted(p.name for p in inbox.iterdir()) == sorted(["2017", SEED_FILES[0].name])  # nothing written there


# case 6: offsets index the file as decoded (only a byte-order mark and CRLF changed), even past a form feed
def test_offsets_index_the_decoded_file_past_form_feeds(tmp_path):
    from pipeline.stages import segment

    pages = ["Statement by the Minister\n\nWe are deeply concerned about NATO expansion. Sanctions are unacceptable.\n",
             "Iran must be allowed to develop peaceful nuclear energy. The JCPOA must be preserved.\n",
             "We call for dialogue on the Korean Peninsula.\n"]
    raw = "\f".join(pages).replace("\n", "\r\n")
    (tmp_path / "paged.txt").write_bytes(b"\xef\xbb\xbf" + raw.encode())
    docs, _, _ = _ingest(tmp_path)
    file_text = raw.replace("\r\n", "\n")
    rows = segment(docs, Config())
    assert len(rows) >= 6
    for row in rows.itertuples():
        assert " ".join(file_text[row.start:row.end].split()) == " ".join(row.text.split()), row.text


# case 7: no CSV cell reaches a spreadsheet as a formula; reading labels back undoes the apostrophe
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised_and_labels_read_them_back(tmp_path):
    import pandas as pd

    from pipeline.files import csv_text
    from pipeline.labels import read_label_file

    texts = ["=HYPERLINK(\"http://x\",\"click\")", "+7 495 244 41 19 is the ministry.", "-1 is not a stance.",
             "@SUM(A1:A3)", "\tTabbed.", "'=already quoted", "Plain sentence."]
    frame = pd.DataFrame({"file": ["=cmd|' /C calc'!A0"] * len(texts), "start": range(len(texts)), "end": range(1, len(texts) + 1),
                          "text": texts, "context": "", "issue": "other", "stance": "neutral", "margin": -0.5})
    written = csv_text(frame, float_format="%.4f")
    (tmp_path / "review.csv").write_text(written)
    import csv
    import io

    cells = [c for row in list(csv.reader(io.StringIO(written)))[1:] for c in row[:-1]]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "-0.5000" in written  # numbers stay numbers
    labels = read_label_file(tmp_path / "review.csv")
    assert labels["text"].tolist() == [t.strip() for t in texts]
    assert set(labels["file"]) == {"=cmd|' /C calc'!A0"}


def test_a_large_table_streamed_to_its_file_is_the_same_csv_neutralised_alike(tmp_path):
    import pandas as pd

    from pipeline.files import CsvTable, atomic_write, csv_text

    rows = 45_000  # more than one chunk of rows
    frame = pd.DataFrame({"doc_id": [f"doc{i % 7}.txt" for i in range(rows)], "text": [("=1+1" if i % 1000 == 0 else f"Sentence {i}.") for i in range(rows)],
                          "stance_confidence": [i / rows for i in range(rows)], "is_furniture": [i % 9 == 0 for i in range(rows)]})
    atomic_write(tmp_path / "sentences.csv", CsvTable(frame, float_format="%.4f"))
    assert (tmp_path / "sentences.csv").read_text(encoding="utf-8") == csv_text(frame, float_format="%.4f")
    assert ",'=1+1," in csv_text(frame) and ",=1+1," not in csv_text(frame)


# case 8: document and metadata text is escaped in summary.md
def test_summary_markdown_escapes_document_and_metadata_text():
    from pipeline.report import markdown_code, markdown_text

    assert markdown_text("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert markdown_text("**Lavrov** [link](http://x) | `x`") == "\\*\\*Lavrov\\*\\* \\[link\\](http://x) \\| \\`x\\`"
    assert markdown_text("# Not a heading\n- nor a list") == "\\# Not a heading - nor a list"
    assert markdown_text("1. Not a list") == "1\\. Not a list"
    assert markdown_code("a`b.txt") == "``a`b.txt``"


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, models_dir, quick_labels, cli):
    import os

    root = tmp_path_factory.mktemp("hostile")
    inbox, out = root / "inbox", root / "out"
    (inbox / "2017").mkdir(parents=True)
    shutil.copy(SEED_FILES[0], inbox / "2017" / SEED_FILES[0].name)
    (inbox / "=cmd.txt").write_text("Statement on sanctions\n\n=SUM(A1:A2) is no formula here. We are deeply concerned about "
                                    "NATO expansion.\n\n-Unilateral sanctions are unacceptable.\n")
    (inbox / ".hidden.txt").write_text(STATEMENT)
    (inbox / os.fsdecode(b"d\xe9claration.txt")).write_text(STATEMENT)
    (inbox / "metadata.csv").write_text('file,speaker,title\n=cmd.txt,<script>alert(1)</script>,"<img src=x onerror=alert(2)> **Title**"\n')
    done = cli("run", "--input", inbox, "--output", out, "--models", models_dir, "--labels", quick_labels)
    return done, inbox, out


def test_a_hostile_folder_is_read_whole_and_its_text_neutralised_in_every_output(hostile_run):
    import csv
    import json

    done, inbox, out = hostile_run
    assert done.returncode == 0, done.stderr
    with open(out / "sentences.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["doc_id"] for r in rows} == {f"2017/{SEED_FILES[0].name}", "'=cmd.txt"}  # case 3, case 7
    for path in ("sentences.csv", "quarantine.csv"):
        with open(out / path, newline="", encoding="utf-8") as fh:
            cells = [c for row in csv.reader(fh) for c in row]
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], path
    assert any(r["text"].startswith("'=SUM(A1:A2)") for r in rows)
    assert any(r["speaker"] == "<script>alert(1)</script>" for r in rows)
    summary = (out / "summary.md").read_text()
    assert "<script>" not in summary and "<img" not in summary  # case 8
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in summary and "&lt;img src=x onerror=alert(2)&gt; \\*\\*Title\\*\\*" in summary
    quarantine = (out / "quarantine.csv").read_text()
    assert "hidden file" in quarantine and "d\\xe9claration.txt" in quarantine and "not valid UTF-8" in quarantine  # cases 3, 12
    run = json.loads((out / "run.json").read_text())
    assert len([i for i in run["inputs"] if i["outcome"] != "note"]) == 4


# cases 1 and 17: predict input is read as written, or refused naming file and 1-based line
@pytest.mark.parametrize("name,content,message", [
    ("c.csv", "id,text\n1,Sanctions, we believe, are wrong.\n", "c.csv, line 2: 4 field(s) where the header has 2"),
    ("c.csv", 'id,text\n1,"Fine\nacross lines."\n2,Sanctions, we believe, are wrong.\n', "c.csv, line 4: 4 field(s)"),
    ("c.csv", "id,text,context\n1,No context given.\n", "c.csv, line 2: 2 field(s) where the header has 3"),
    ("n.jsonl", '{"text": "Fine."}\n{"text": {"claim": "nested"}}\n', 'n.jsonl, line 2: \'text\' must be a string, not {"claim": "nested"}'),
    ("l.jsonl", '{"text": ["a", "list"]}\n', "l.jsonl, line 1: 'text' must be a string"),
    ("b.jsonl", '{"text": "Fine."}\n{"context": true, "text": "x"}\n', "b.jsonl, line 2: 'context' must be a string"),
    ("m.jsonl", '{"text": "Fine."}\n{"id": 2}\n', "m.jsonl: no 'text' on line(s) 2"),
    ("a.json", '[\n {"text": "Fine."},\n {"text": 5}\n]\n', "a.json, line 3: 'text' must be a string"),
])
def test_bad_predict_rows_are_refused_naming_file_and_line(tmp_path, capsys, name, content, message):
    source = tmp_path / name
    source.write_text(content)
    code, _, err = run_cli(capsys, "predict", source, "--output", tmp_path / "out.csv", "--models", tmp_path / "no-models")
    assert code == 1 and message in err, err
    assert not (tmp_path / "out.csv").exists()


def test_predict_keeps_the_analysts_own_columns_and_reads_a_json_array(tmp_path, models_dir, quick_labels, capsys):
    import pandas as pd

    source = tmp_path / "mine.json"
    source.write_text('[\n {"_line": 1, "issue": "mine", "stance": "theirs", "text": "The JCPOA must be preserved."},\n'
                      ' {"_line": 2, "issue": "x", "stance": "y", "text": "=NATO expansion threatens our security.", "tags": ["a"]}\n]\n')
    code, _, err = run_cli(capsys, "predict", source, "--output", tmp_path / "out.csv", "--models", models_dir, "--labels", quick_labels)
    assert code == 0, err
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False, dtype=str)
    assert list(out.columns) == ["_line", "issue", "stance", "text", "tags", "predicted_issue", "predicted_stance", "predicted_target",
                                 "predicted_issue_confidence", "predicted_stance_confidence", "predicted_target_confidence"]
    assert out["_line"].tolist() == ["1", "2"] and out["issue"].tolist() == ["mine", "x"] and out["stance"].tolist() == ["theirs", "y"]
    assert out["predicted_issue"].tolist() == ["iran", "nato"]
    assert out["text"].tolist()[1] == "'=NATO expansion threatens our security."  # case 7: neutralised
    assert out["tags"].tolist() == ["", '["a"]']


def test_label_file_lines_are_right_after_a_quoted_line_break(tmp_path):
    from pipeline.labels import read_label_file

    (tmp_path / "l.csv").write_text('file,text,issue,stance\na.txt,"Two\nlines.",nato,oppose\n\nb.txt,One line.,iran,support\n'
                                    'c.txt,"Three\nmore\nlines.",other,neutral\nd.txt,Last.,other,neutral\n')
    assert read_label_file(tmp_path / "l.csv")["line"].tolist() == [2, 5, 6, 9]
