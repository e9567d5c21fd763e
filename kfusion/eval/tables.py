"""Protocol tables: per-action errors (the paper's Table 1) and method comparisons (Table 5).

``per_action_table`` averages per-pose errors within each action, then averages the action means
("Avg. (All)", as Human3.6M papers do, so every action weighs the same); the per-pose mean over
all poses is kept beside it. Markdown numbers have 2 decimals; missing values print as ``-``.
"""
import json
import math
from dataclasses import dataclass, field

import numpy as np

AVERAGE_LABEL = "Avg. (All)"
POSE_MEAN_LABEL = "Per-pose mean"


def format_value(value, digits=2):
    """A table cell: ``-`` for missing/NaN, whole numbers for counts, else ``digits`` decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))  # counts (parameters, poses) print whole
    return f"{value:.{digits}f}"


def markdown_table(header, rows, align=None):
    """Markdown table: ``header`` cells, then ``rows`` of cell strings.

    ``align``: one letter a column, ``l`` (left) or ``r`` (right); default the first column left and
    the others (numbers) right.
    """
    align = align or "l" + "r" * (len(header) - 1)
    if len(align) != len(header) or set(align) - {"l", "r"}:
        raise ValueError(f"align {align!r}: expected one of 'l' or 'r' for each of the {len(header)} columns")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


@dataclass
class Table:
    """Per-action means of one or more per-pose error arrays (rows: metrics or methods).

    Attributes:
      rows: row names (the keys of the ``errors`` dict).
      columns: action names, in column order.
      values: row -> action -> mean error (NaN where the action has no poses).
      average: row -> mean of the action means (NaN if any column has no poses).
      pose_mean: row -> mean over all poses.
      counts: action -> number of poses.
      per_subject: row -> subject -> mean over that subject's poses (empty without ``subjects``).
    """

    rows: list
    columns: list
    values: dict
    average: dict
    pose_mean: dict
    counts: dict
    per_subject: dict = field(default_factory=dict)

    def as_dict(self):
        """Plain dict (JSON-ready; NaN becomes None)."""
        clean = lambda v: None if isinstance(v, float) and math.isnan(v) else v  # noqa: E731
        return {
            "rows": list(self.rows),
            "columns": list(self.columns),
            "values": {r: {c: clean(self.values[r][c]) for c in self.columns} for r in self.rows},
            "average": {r: clean(self.average[r]) for r in self.rows},
            "pose_mean": {r: clean(self.pose_mean[r]) for r in self.rows},
            "counts": dict(self.counts),
            "per_subject": {r: {s: clean(v) for s, v in d.items()} for r, d in self.per_subject.items()},
        }

    def to_json(self):
        return json.dumps(self.as_dict(), indent=2)

    def to_markdown(self, row_label="Metric", include_pose_mean=True):
        """One row per metric/method, one column per action, then ``Avg. (All)`` (and the per-pose mean)."""
        header = [row_label, *self.columns, AVERAGE_LABEL] + ([POSE_MEAN_LABEL] if include_pose_mean else [])
        body = []
        for r in self.rows:
            cells = [format_value(self.values[r][c]) for c in self.columns] + [format_value(self.average[r])]
            if include_pose_mean:
                cells.append(format_value(self.pose_mean[r]))
            body.append([str(r), *cells])
        return markdown_table(header, body)


def per_action_table(errors, actions, action_order=None, subjects=None):
    """Build the per-action table of per-pose errors.

    Args:
      errors: dict row name (metric or method) -> (N,) per-pose errors (e.g. mm).
      actions: (N,) action label of each pose.
      action_order: column order; actions listed here without poses get an empty (``-``) column
        and make the average NaN. Default: sorted actions present. An action present in the data
        but not listed is an error.
      subjects: optional (N,) subject label of each pose, for the per-subject means.

    Returns:
      ``Table``.
    """
    actions = np.asarray(actions).astype(str)
    if actions.ndim != 1:
        raise ValueError(f"actions has shape {actions.shape}; expected (N,)")
    if not errors:
        raise ValueError("errors is empty; expected a dict name -> (N,) per-pose errors")
    arrays = {}
    for name, e in errors.items():
        e = np.asarray(e, dtype=np.float64)
        if e.shape != actions.shape:
            raise ValueError(f"errors[{name!r}] has shape {e.shape} but actions has shape {actions.shape}")
        if not np.all(np.isfinite(e)):
            raise ValueError(f"errors[{name!r}] has NaN or inf values")
        arrays[str(name)] = e
    present = sorted(set(actions.tolist()))
    columns = present if action_order is None else [str(a) for a in action_order]
    unlisted = sorted(set(present) - set(columns))
    if unlisted:
        raise ValueError(f"actions {unlisted} have poses but are not in action_order {columns}")
    counts = {c: int(np.sum(actions == c)) for c in columns}
    values, average, pose_mean, per_subject = {}, {}, {}, {}
    for name, e in arrays.items():
        values[name] = {c: float(e[actions == c].mean()) if counts[c] else math.nan for c in columns}
        average[name] = float(np.mean(list(values[name].values()))) if columns else math.nan
        pose_mean[name] = float(e.mean()) if e.size else math.nan
    if subjects is not None:
        subjects = np.asarray(subjects).astype(str)
        if subjects.shape != actions.shape:
            raise ValueError(f"subjects has shape {subjects.shape} but actions has shape {actions.shape}")
        for name, e in arrays.items():
            per_subject[name] = {s: float(e[subjects == s].mean()) for s in sorted(set(subjects.tolist()))}
    return Table(rows=list(arrays), columns=columns, values=values, average=average,
                 pose_mean=pose_mean, counts=counts, per_subject=per_subject)


def _number(value):
    if value is None or isinstance(value, (int, np.integer)):
        return value
    return float(value)


def comparison_table(rows, columns=None, row_label="Method"):
    """Markdown table of methods against metrics (the paper's Table 5 style).

    Args:
      rows: dict method -> dict metric -> value (missing or None/NaN prints ``-``).
      columns: metric names in order; default: every metric, in first-seen order.
    Returns: markdown string.
    """
    if columns is None:
        columns = list(dict.fromkeys(m for metrics in rows.values() for m in metrics))
    body = [[str(method), *(format_value(_number(metrics.get(c))) for c in columns)]
            for method, metrics in rows.items()]
    return markdown_table([row_label, *map(str, columns)], body)
