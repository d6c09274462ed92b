"""Pandera contracts between the stages: documents, sentences, labels, predictions.

Label sets are not written here: ``checked`` adds them from the taxonomy, so adding an issue
is a data change. Every check runs lazily and all failures are reported at once.
"""

from __future__ import annotations

import copy
from typing import Optional

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from pipeline.taxonomy import Taxonomy

_DATE = r"^(\d{4}-\d{2}-\d{2})?$"
_YEAR = r"^(\d{4})?$"


def _year_of_date(df: pd.DataFrame) -> Series[bool]:
    """A year agrees with the date, when both are given."""
    return (df["date"] == "") | (df["year"] == "") | (df["date"].str[:4] == df["year"])


class DocumentSchema(pa.DataFrameModel):
    """One row per document read from the input folder."""

    doc_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1})
    path: Series[str]
    title: Series[str]
    date: Series[str] = pa.Field(str_matches=_DATE)
    #: the document's year: its date's, or one read alone (from a file name, metadata); "" when unknown
    year: Series[str] = pa.Field(str_matches=_YEAR)
    speaker: Series[str]
    source: Series[str]
    sha256: Series[str] = pa.Field(str_matches=r"^[0-9a-f]{64}$")
    text: Series[str] = pa.Field(str_length={"min_value": 1})

    class Config:
        strict = True

    @pa.dataframe_check(error="a dated document's year is its date's year")
    def year_of_date(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["date"] == "") | (df["date"].str[:4] == df["year"])


class MetadataSchema(pa.DataFrameModel):
    """One row of ``metadata.csv`` per document, with the metadata file and line it was read from."""

    path: Series[str]
    line: Series[int] = pa.Field(ge=1)
    file: Series[str] = pa.Field(str_length={"min_value": 1})
    date: Series[str] = pa.Field(str_matches=_DATE)
    year: Series[str] = pa.Field(str_matches=_YEAR)
    speaker: Series[str]
    source: Series[str]
    title: Series[str]

    class Config:
        strict = True

    @pa.dataframe_check(error="year must be the date's year when both are given")
    def year_of_date(cls, df: pd.DataFrame) -> Series[bool]:
        return _year_of_date(df)

    @pa.check("file", error="a file described on two lines (which one is meant?)")
    def described_once(cls, file: Series[str]) -> Series[bool]:
        return ~file.duplicated(keep=False)

    @pa.check("date", error="date must be a real date (YYYY-MM-DD)")
    def real_date(cls, date: Series[str]) -> Series[bool]:
        return (date == "") | pd.to_datetime(date, format="%Y-%m-%d", errors="coerce").notna()


class SentenceSchema(pa.DataFrameModel):
    """One row per sentence or furniture line; offsets point into the document's text."""

    doc_id: Series[str] = pa.Field(str_length={"min_value": 1})
    sentence_id: Series[int] = pa.Field(ge=0)
    start: Series[int] = pa.Field(ge=0)
    end: Series[int] = pa.Field(ge=0)
    paragraph: Series[int] = pa.Field(ge=0)
    text: Series[str] = pa.Field(str_length={"min_value": 1})
    speaker: Series[str]
    role: Series[str] = pa.Field(isin=["main", "question", "narration", "other", "furniture"])
    is_furniture: Series[bool]
    furniture_reason: Series[str]

    class Config:
        strict = True
        unique = ["doc_id", "sentence_id"]

    @pa.dataframe_check(error="end must be greater than start")
    def end_after_start(cls, df: pd.DataFrame) -> Series[bool]:
        return df["end"] > df["start"]

    @pa.dataframe_check(error="furniture rows carry a reason and other rows none")
    def furniture_has_reason(cls, df: pd.DataFrame) -> Series[bool]:
        return df["is_furniture"] == (df["furniture_reason"] != "")


class LabelSchema(pa.DataFrameModel):
    """A person's reading of one sentence under the codebook."""

    file: Series[str] = pa.Field(str_length={"min_value": 1})
    start: Optional[Series[int]] = pa.Field(ge=0, nullable=True)
    end: Optional[Series[int]] = pa.Field(ge=0, nullable=True)
    text: Series[str] = pa.Field(str_length={"min_value": 1})
    context: Series[str] = pa.Field(nullable=True)
    issue: Series[str]
    stance: Series[str]
    #: the claim's target (codebook "target"); empty for neutral sentences, for `other`, and
    #: for claims labelled before targets existed
    target: Optional[Series[str]] = pa.Field(nullable=True)

    class Config:
        strict = "filter"

    @pa.check("text", error="text must not be blank")
    def text_not_blank(cls, text: Series[str]) -> Series[bool]:
        return text.str.strip().str.len() > 0


class PredictionSchema(SentenceSchema):
    """A sentence row with its labels and their confidences."""

    issue: Series[str]
    stance: Series[str]
    issue_confidence: Series[float] = pa.Field(ge=0, le=1)
    stance_confidence: Series[float] = pa.Field(ge=0, le=1)
    #: what a claim is for or against; "" for sentences that are not claims on an issue
    target: Series[str]
    target_confidence: Series[float] = pa.Field(ge=0, le=1)


class TextInputSchema(pa.DataFrameModel):
    """Sentences an analyst brings to ``predict``: a non-empty ``text``, other columns kept."""

    text: Series[str]
    context: Optional[Series[str]]

    class Config:
        strict = False

    @pa.check("text", error="text must not be empty")
    def text_not_blank(cls, text: Series[str]) -> Series[bool]:
        return text.str.strip().str.len() > 0


class ContractError(ValueError):
    """Data broke a stage's contract; the message names file, row, column and rule."""


def _with_label_sets(schema: pa.DataFrameSchema, taxonomy: Taxonomy) -> pa.DataFrameSchema:
    updates = {}
    for column, allowed in (("issue", taxonomy.issue_ids), ("stance", taxonomy.stance_ids)):
        if column in schema.columns:
            checks = [*schema.columns[column].checks, pa.Check.isin(allowed, error=f"{column} must be one of {allowed}")]
            updates[column] = {"checks": checks}
    schema = schema.update_columns(updates) if updates else schema
    if "target" in schema.columns:
        allowed_pairs = {(i, t) for i in taxonomy.issue_ids for t in taxonomy.target_ids(i)}
        claims = set(taxonomy.claim_stances)

        def target_fits(df: pd.DataFrame) -> pd.Series | bool:
            if "target" not in df.columns:
                return True
            target = df["target"].fillna("").astype(str)
            pairs = pd.Series(list(zip(df["issue"], target)), index=df.index)
            is_claim = df["stance"].isin(claims) & df["issue"].map(lambda i: bool(taxonomy.target_ids(i)))
            # a claim's target is one of its issue's (or empty, not yet labelled); others have none
            return (target == "") | (is_claim & pairs.isin(allowed_pairs))

        schema = copy.deepcopy(schema)
        schema.checks = [*schema.checks, pa.Check(target_fits, error="target must be one of the issue's targets, and only on claims")]
    return schema


def checked(df: pd.DataFrame, model: type[pa.DataFrameModel], stage: str, taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """``df`` validated against ``model`` (with the taxonomy's label sets), or a ContractError
    that lists every failure: file, row, column, rule and the offending value."""
    schema = model.to_schema()
    if taxonomy is not None:
        schema = _with_label_sets(schema, taxonomy)
    try:
        return schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        raise ContractError(_describe(err.failure_cases, df, model.__name__, stage)) from None


def _describe(failures: pd.DataFrame, df: pd.DataFrame, schema: str, stage: str) -> str:
    file_column = next((c for c in ("path", "doc_id", "file") if c in df.columns), None)
    failures = failures.copy()
    # a check over whole rows fails once per column; report it once per row
    table_level = failures["schema_context"] == "DataFrameSchema"
    failures.loc[table_level, "column"] = None
    failures.loc[table_level, "failure_case"] = None
    failures = failures.drop_duplicates(subset=["index", "column", "check"])
    lines = [f"{stage}: {len(failures)} problem(s) against {schema}:"]
    for _, f in failures.head(50).iterrows():
        index = f["index"]
        where = ""
        if file_column is not None and index is not None and not pd.isna(index) and index in df.index:
            where = f"{df.at[index, file_column]}, "
            if "line" in df.columns:
                where += f"line {df.at[index, 'line']}, "
        row = "" if index is None or pd.isna(index) else f"row {index}, "
        if f["column"] is None or pd.isna(f["column"]):
            lines.append(f"  {where}{row}failed {f['check']}")
        else:
            lines.append(f"  {where}{row}column {f['column']}: failed {f['check']} (value: {f['failure_case']!r})")
    if len(failures) > 50:
        lines.append(f"  ... and {len(failures) - 50} more")
    return "\n".join(lines)
