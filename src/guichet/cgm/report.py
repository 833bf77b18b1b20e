"""The alerts answer: each alert with its evidence, the episodes it is scored against, the scores overall, by
level and by subgroup, and each subject's scores and flags. Plain data, ready for JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guichet.cgm.episodes import LEVELS, Episode, episodes
from guichet.cgm.metrics import SubjectMetrics, subject_metrics
from guichet.cgm.readings import Recording, Subject
from guichet.cgm.rules import Alert, Rule
from guichet.cgm.scoring import DEFAULT_HORIZON_MIN, Scores, score_subject
from guichet.cgm.tails import Flag, subject_flags

NO_GROUP = "(none)"
SCORING = ("An alert predicts an episode of its subject when it fires in [start - horizon, start) and outside "
           "every level 1 episode of that subject. scores: against the level 1 episodes (every level 2 episode "
           "lies inside one); by_level: against each level's episodes. sensitivity = predicted episodes / "
           "episodes; ppv = alerts predicting at least one episode / alerts; false_alerts_per_day = the other "
           "alerts / days of CGM data (readings x grid step); median_lead_time_min = median over predicted "
           "episodes of start - earliest predicting alert.")


@dataclass(frozen=True)
class SubjectResult:
    subject: Subject
    metrics: SubjectMetrics
    alerts: list[Alert]
    episodes: list[Episode]
    scores: dict[int, Scores]  # by level; level 1 is every hypoglycaemia episode

    @property
    def overall(self) -> Scores:
        return self.scores[1]


@dataclass(frozen=True)
class AlertReport:
    recording: Recording
    rule: Rule
    horizon_min: float
    results: list[SubjectResult]
    flags: dict[str, list[Flag]]

    def overall(self, level: int = 1) -> Scores:
        return Scores.pooled(r.scores[level] for r in self.results)

    def by_subgroup(self) -> dict[str, Scores]:
        if self.recording.group_column is None:
            return {}
        groups: dict[str, list[Scores]] = {}
        for r in self.results:
            groups.setdefault(r.subject.group or NO_GROUP, []).append(r.overall)
        return {g: Scores.pooled(parts) for g, parts in sorted(groups.items())}

    def to_dict(self, plots: dict[int, str] | None = None) -> dict[str, Any]:
        alerts = [_alert_dict(r.subject, a, self.rule) for r in self.results for a in r.alerts]
        if plots:
            for n, path in plots.items():
                alerts[n]["plot"] = path
        return {
            "dataset": self.recording.dataset, "layout": self.recording.layout, "unit": "mg/dL",
            "file_unit": self.recording.unit,
            "rule": {"name": self.rule.name, "kind": self.rule.kind, "definition": self.rule.definition(),
                     "parameters": self.rule.parameters()},
            "scoring": {"horizon_min": self.horizon_min, "levels": {str(k): v for k, v in LEVELS.items()},
                        "definition": SCORING},
            "alerts": alerts,
            "episodes": [e.to_dict(r.subject) for r in self.results for e in r.episodes],
            "scores": self.overall().to_dict(),
            "by_level": {str(level): self.overall(level).to_dict() for level in LEVELS},
            "subgroup_column": self.recording.group_column,
            "by_subgroup": {g: s.to_dict() for g, s in self.by_subgroup().items()},
            "subjects": [_subject_dict(r, self.flags[r.subject.id]) for r in self.results],
        }


def _alert_dict(subject: Subject, alert: Alert, rule: Rule) -> dict[str, Any]:
    lo, hi = alert.window
    return {
        "id": subject.id, "time": subject.local_time(alert.index), rule.kind: rule.name,
        "inputs": alert.inputs,
        "segment": [{"time": subject.local_time(i), "glucose_mgdl": float(subject.glucose[i])}
                    for i in range(lo, hi + 1)],
    }


def _subject_dict(r: SubjectResult, flags: list[Flag]) -> dict[str, Any]:
    return {
        "id": r.subject.id, "group": r.subject.group, "days_of_data": r.subject.observed_days(),
        "active_percent": r.metrics.active_percent, "alerts": len(r.alerts),
        "episodes": {str(level): s.episodes for level, s in r.scores.items()},
        "scores": r.overall.to_dict(), "flags": [f.to_dict() for f in flags],
    }


def analyse(recording: Recording, rule: Rule, horizon_min: float = DEFAULT_HORIZON_MIN) -> AlertReport:
    results = []
    for subject in recording.subjects:
        found = episodes(subject)
        alerts = rule.scan(subject)
        level1 = [e for e in found if e.level == 1]
        by_level = {level: score_subject(subject, alerts, [e for e in found if e.level == level], level1, horizon_min)
                    for level in LEVELS}
        results.append(SubjectResult(subject, subject_metrics(recording.dataset, subject), alerts, found, by_level))
    flags = subject_flags({r.subject.id: r.metrics for r in results}, {r.subject.id: r.overall for r in results})
    return AlertReport(recording, rule, horizon_min, results, flags)
