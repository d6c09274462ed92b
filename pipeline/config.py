"""The one configuration object. Defaults serve the seeds; command-line flags override them."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.segment import DEFAULT_FURNITURE


LOCAL_LABELS = Path("labels")


def installed_labels() -> Path | None:
    """The labels that come with the package: ``pipeline/bundled_labels`` in an installed copy,
    the project's ``labels/`` beside the package in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "bundled_labels", here.parent / "labels"):
        if (candidate / "taxonomy.json").is_file():
            return candidate
    return None


def default_labels_dir() -> Path:
    """``labels/`` in the current folder when it holds a taxonomy (a checkout of this project,
    or an analyst's own labels), else the labels installed with the package, so the installed
    command works from any folder."""
    if (LOCAL_LABELS / "taxonomy.json").is_file():
        return LOCAL_LABELS
    return installed_labels() or LOCAL_LABELS


def default_model_dir() -> Path:
    """``models/`` beside a local ``labels/`` folder; elsewhere a per-user folder
    (``$XDG_DATA_HOME/stance-pipeline/models``, by default ``~/.local/share/...``), never the
    folder one happens to stand in."""
    if (LOCAL_LABELS / "taxonomy.json").is_file():
        return Path("models")
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "stance-pipeline" / "models"


@dataclass(frozen=True)
class Config:
    input_dir: Path = Path("seeds")
    output_dir: Path = Path("reports")
    labels_dir: Path = field(default_factory=default_labels_dir)
    model_dir: Path = field(default_factory=default_model_dir)
    language: str = "en"
    #: the document's main speaker when neither metadata nor the text names one
    main_speaker: str = ""
    #: a CSV of metadata anywhere (as the input folder's metadata.csv, which it overrides)
    metadata_file: Path | None = None
    #: speaker and year (or date) read out of file names: "{speaker}_{session}_{year}" reads
    #: CHN_70_2015.txt; below metadata, above what the text states
    name_pattern: str | None = None
    #: how many preceding sentences a sentence's context holds
    context_sentences: int = 2
    #: documents per segmentation task and sentences per classification task
    documents_per_batch: int = 200
    sentences_per_batch: int = 10000
    #: claims quoted as evidence per issue in the summary
    top_claims: int = 5
    #: below this confidence a label is marked as uncertain in reports
    low_confidence: float = 0.5
    #: whole-line regular expressions for page furniture, with the reason shown to people
    furniture: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FURNITURE))
    #: report.html: most sentence rows in its table, most documents shown in full
    max_table_rows: int = 5000
    max_documents_shown: int = 200
    #: run the tasks on a local Dask cluster of this many worker processes (None: threads in this process)
    workers: int | None = None
    #: or on an existing Dask cluster at this address (tcp://HOST:PORT)
    dask_address: str | None = None
    #: the stance model reads each sentence's static embedding (vectors fitted to all-mpnet-base-v2,
    #: bundled); --no-embeddings trains and uses a model without it, kept apart
    sentence_embeddings: bool = True
    #: folds of the grouped cross-validation ``retrain`` reports on the model card (by document;
    #: 0 skips it: the development set still scores the model, and retraining is about 6x faster)
    cv_folds: int = 5
    #: the classifier's hyperparameters (``pipeline.model.StatementClassifier``)
    issue_C: float = 4.0
    stance_C: float = 2.0
    target_C: float = 2.0
    target_context_weight: float = 1.0
    context_weight: float = 0.6
    stance_context_weight: float = 0.3
    #: the issue of a sentence read with its document: a CRF over the document's sentences, on
    #: the sentence model's issue probabilities (``pipeline.sequence``; False: each sentence
    #: alone; so is every sentence when an issue is labelled in fewer than three documents). Its
    #: L2 penalty, and the power of the issues' frequencies it divides by so rare issues keep
    #: their share (both chosen on grouped cross-validation)
    passages: bool = True
    passage_c2: float = 0.3
    passage_prior_weight: float = 0.3
    #: stance is read with its document the same way (``passages`` turns both on or off), with
    #: its own power of the stances' frequencies (chosen on grouped cross-validation; stance
    #: macro-F1 development set 0.748 -> 0.752, cross-validation 0.717 -> 0.725)
    stance_passage_prior_weight: float = 0.6
    #: a claim's target also reads the claims on its issue within this many sentences of it in
    #: its document, at this weight (0: off; development set 0.664 off, 0.708 on)
    target_passage: int = 3
    target_passage_weight: float = 0.3
    #: character 4-grams in the stance model (0: off, the default; they bought nothing measurable,
    #: development set 0.745 with them and without, and took about a third of classifying)
    char_weight: float = 0.0
    embedding_weight: float = 0.5
    #: largest input file read, in bytes
    max_file_bytes: int = 50_000_000
    #: a document with a longer line is set aside as not running text (bounded time and memory)
    max_line_chars: int = 1_000_000

    @property
    def models_folder(self) -> Path:
        """Models with and without sentence embeddings are kept apart, each with its own current
        version and history, so turning embeddings off never swaps the other model out."""
        return self.model_dir if self.sentence_embeddings else self.model_dir / "no-embeddings"

    def model_params(self) -> dict:
        """The parameters of ``StatementClassifier`` this configuration sets."""
        return {"issue_C": self.issue_C, "stance_C": self.stance_C, "target_C": self.target_C, "target_context_weight": self.target_context_weight,
                "context_weight": self.context_weight, "stance_context_weight": self.stance_context_weight,
                "passages": self.passages, "passage_c2": self.passage_c2, "passage_prior_weight": self.passage_prior_weight,
                "stance_passage_prior_weight": self.stance_passage_prior_weight,
                "target_passage": self.target_passage, "target_passage_weight": self.target_passage_weight,
                "char_weight": self.char_weight, "embedding_weight": self.embedding_weight,
                "embeddings": self.sentence_embeddings}

    def settings(self) -> dict:
        """The settings as plain JSON values (for ``run.json``)."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_toml(cls, path: Path) -> "Config":
        """The defaults, with the fields a TOML file sets (any field of this class, by name)."""
        import tomllib

        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"config file {path} does not exist") from None
        except IsADirectoryError:
            raise ValueError(f"config file {path} is a folder, not a file") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"config file {path}: not valid TOML: {err}") from None
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"config file {path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(fields)}")
        default = cls()
        for key, value in data.items():
            expected = type(getattr(default, key))
            if isinstance(getattr(default, key), Path):
                expected = Path
            if key in ("workers", "dask_address"):
                expected = int if key == "workers" else str
            if expected is Path:
                expected = str
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ValueError(f"config file {path}: {key} must be a {expected.__name__}, not {value!r}")
        return default.replace(**data)

    def replace(self, **changes) -> "Config":
        """A copy with ``changes``; ``None`` values (flags not given) keep the default."""
        given = {k: v for k, v in changes.items() if v is not None}
        for key in ("input_dir", "output_dir", "labels_dir", "model_dir", "metadata_file"):
            if key in given:
                given[key] = Path(given[key])
        return dataclasses.replace(self, **given)


def check_folders(config: Config) -> None:
    """Refuse an output folder inside (or equal to) the input folder: the next run would read
    its own reports as documents."""
    source, output = Path(config.input_dir).resolve(), Path(config.output_dir).resolve()
    if output == source or source in output.parents:
        raise ValueError(f"the output folder {config.output_dir} is inside the input folder {config.input_dir}: "
                         "the next run would read the reports as documents; choose an output folder outside it")
