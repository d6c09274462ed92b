"""The label sets (issues, their targets, stances; descriptions, indicative terms, and how
reports show them), read from data: renaming or adding a label is an edit of
``labels/taxonomy.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

TAXONOMY_FILE = "taxonomy.json"


@dataclass(frozen=True)
class Target:
    """What a claim on an issue is for or against (the codebook's "target")."""

    id: str
    name: str
    description: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Issue:
    id: str
    name: str
    description: str
    terms: tuple[str, ...]
    targets: tuple[Target, ...] = ()


@dataclass(frozen=True)
class Stance:
    id: str
    description: str
    #: how reports say it: "the speaker {verb} X", "{n} {adjective} claims"
    verb: str = ""
    adjective: str = ""
    #: +1 for support, -1 for opposition, 0 for no stance: the sign of "net stance"
    direction: int = 0
    colour: str = "#5e81ac"
    background: str = "#eeeeee"


@dataclass(frozen=True)
class Taxonomy:
    issues: tuple[Issue, ...]
    stances: tuple[Stance, ...]
    furniture_issue: str
    furniture_stance: str
    #: the target of a claim that no target of its issue fits
    other_target: str = "other"

    @property
    def issue_ids(self) -> list[str]:
        return [i.id for i in self.issues]

    @property
    def stance_ids(self) -> list[str]:
        return [s.id for s in self.stances]

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

    def stance(self, stance_id: str) -> Stance:
        return next(s for s in self.stances if s.id == stance_id)

    def stance_with_direction(self, direction: int) -> Stance | None:
        """The stance that counts for (+1) or against (-1), if the taxonomy has one."""
        return next((s for s in self.stances if s.direction == direction), None)

    def target_ids(self, issue_id: str) -> list[str]:
        """The targets a claim on ``issue_id`` may take, ``other_target`` last."""
        own = [t.id for t in self.issue(issue_id).targets] if issue_id in self.issue_ids else []
        return [*own, self.other_target] if own else []

    def target_name(self, issue_id: str, target_id: str) -> str:
        issue = self.issue(issue_id) if issue_id in self.issue_ids else None
        found = next((t for t in issue.targets if t.id == target_id), None) if issue else None
        return found.name if found else ("other" if target_id == self.other_target else target_id)

    @property
    def target_labels(self) -> list[str]:
        """Every (issue, target) pair as one label ``issue:target``, for the target model."""
        return [f"{i.id}:{t}" for i in self.issues for t in self.target_ids(i.id)]


def _terms(raw) -> tuple[str, ...]:
    return tuple(str(t) for t in (raw or ()))


def load_taxonomy(labels_dir: Path) -> Taxonomy:
    """Read ``labels/taxonomy.json``; a malformed file is named in the error."""
    path = Path(labels_dir) / TAXONOMY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        issues = tuple(
            Issue(i["id"], i.get("name", i["id"]), i.get("description", ""), _terms(i.get("terms")),
                  tuple(Target(t["id"], t.get("name", t["id"]), t.get("description", ""), _terms(t.get("terms")))
                        for t in i.get("targets", ())))
            for i in data["issues"]
        )
        stances = tuple(
            Stance(s["id"], s.get("description", ""), s.get("verb", s["id"]), s.get("adjective", s["id"]),
                   int(s.get("direction", 0)), s.get("colour", "#5e81ac"), s.get("background", "#eeeeee"))
            for s in data["stances"]
        )
        furniture = data.get("furniture_label", {"issue": "other", "stance": "neutral"})
        other_target = str(data.get("other_target", "other"))
    except FileNotFoundError:
        raise ValueError(f"{path}: the taxonomy file is missing") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a valid taxonomy ({err!r})") from None
    ids = [i.id for i in issues]
    stance_ids = [s.id for s in stances]
    if len(set(ids)) != len(ids) or furniture["issue"] not in ids or furniture["stance"] not in stance_ids:
        raise ValueError(f"{path}: issue ids must be unique and furniture_label must name a listed issue and stance")
    for issue in issues:
        target_ids = [t.id for t in issue.targets]
        if len(set(target_ids)) != len(target_ids) or other_target in target_ids:
            raise ValueError(f"{path}: the targets of issue {issue.id!r} must be unique and not {other_target!r}")
    return Taxonomy(issues, stances, furniture["issue"], furniture["stance"], other_target)
