"""The label sets (issues, stances, their descriptions and indicative terms), read from data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

TAXONOMY_FILE = "taxonomy.json"


@dataclass(frozen=True)
class Issue:
    id: str
    name: str
    description: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    issues: tuple[Issue, ...]
    stances: tuple[tuple[str, str], ...]
    furniture_issue: str
    furniture_stance: str

    @property
    def issue_ids(self) -> list[str]:
        return [i.id for i in self.issues]

    @property
    def stance_ids(self) -> list[str]:
        return [s for s, _ in self.stances]

    @property
    def claim_stances(self) -> list[str]:
        """Stances that make a sentence a claim (all but the neutral one)."""
        return [s for s in self.stance_ids if s != self.furniture_stance]

    @property
    def topical_issues(self) -> list[Issue]:
        """The issues reports are about (all but the catch-all)."""
        return [i for i in self.issues if i.id != self.furniture_issue]

    def issue(self, issue_id: str) -> Issue:
        return next(i for i in self.issues if i.id == issue_id)


def load_taxonomy(labels_dir: Path) -> Taxonomy:
    """Read ``labels/taxonomy.json``; a malformed file is named in the error."""
    path = Path(labels_dir) / TAXONOMY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        issues = tuple(
            Issue(i["id"], i.get("name", i["id"]), i.get("description", ""), tuple(i.get("terms", ())))
            for i in data["issues"]
        )
        stances = tuple((s["id"], s.get("description", "")) for s in data["stances"])
        furniture = data.get("furniture_label", {"issue": "other", "stance": "neutral"})
    except FileNotFoundError:
        raise ValueError(f"{path}: the taxonomy file is missing") from None
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a valid taxonomy ({err!r})") from None
    ids = [i.id for i in issues]
    if len(set(ids)) != len(ids) or furniture["issue"] not in ids or furniture["stance"] not in [s for s, _ in stances]:
        raise ValueError(f"{path}: issue ids must be unique and furniture_label must name a listed issue and stance")
    return Taxonomy(issues, stances, furniture["issue"], furniture["stance"])
