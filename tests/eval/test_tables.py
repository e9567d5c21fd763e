import json
import math

import numpy as np
import pytest

from kfusion.eval.tables import comparison_table, markdown_table, per_action_table


def _fabricated():
    # Walking: 3 poses (10, 20, 30) -> 20; Eating: 1 pose (100) -> 100.
    actions = ["Walking", "Eating", "Walking", "Walking"]
    subjects = ["S9", "S11", "S11", "S9"]
    errors = {"MPJPE": [10.0, 100.0, 20.0, 30.0], "PA-MPJPE": [5.0, 50.0, 5.0, 5.0]}
    return errors, actions, subjects


def test_per_action_table_rows_columns_and_averages():
    errors, actions, subjects = _fabricated()
    table = per_action_table(errors, actions, action_order=["Walking", "Eating"], subjects=subjects)
    assert table.rows == ["MPJPE", "PA-MPJPE"] and table.columns == ["Walking", "Eating"]
    assert table.values["MPJPE"] == {"Walking": 20.0, "Eating": 100.0}
    # Avg. (All) = mean of the action means (60), not the per-pose mean (40).
    assert table.average["MPJPE"] == pytest.approx(60.0)
    assert table.pose_mean["MPJPE"] == pytest.approx(40.0)
    assert table.average["PA-MPJPE"] == pytest.approx(27.5)
    assert table.counts == {"Walking": 3, "Eating": 1}
    assert table.per_subject["MPJPE"] == {"S11": 60.0, "S9": 20.0}
    md = table.to_markdown()
    lines = md.strip().splitlines()
    assert lines[0] == "| Metric | Walking | Eating | Avg. (All) | Per-pose mean |"
    assert lines[2] == "| MPJPE | 20.00 | 100.00 | 60.00 | 40.00 |"
    assert lines[3] == "| PA-MPJPE | 5.00 | 50.00 | 27.50 | 16.25 |"
    assert len(lines) == 4
    assert json.loads(table.to_json()) == table.as_dict()
    assert table.as_dict()["values"]["PA-MPJPE"]["Eating"] == 50.0


def test_default_order_missing_action_and_unlisted_action():
    errors, actions, _ = _fabricated()
    assert per_action_table(errors, actions).columns == ["Eating", "Walking"]
    table = per_action_table(errors, actions, action_order=["Walking", "Eating", "Sitting"])
    assert math.isnan(table.values["MPJPE"]["Sitting"]) and math.isnan(table.average["MPJPE"])
    assert "| MPJPE | 20.00 | 100.00 | - | - | 40.00 |" in table.to_markdown()
    assert table.as_dict()["average"]["MPJPE"] is None
    json.loads(table.to_json())  # NaN must not leak into the JSON
    with pytest.raises(ValueError, match=r"\['Eating'\] have poses but are not in action_order"):
        per_action_table(errors, actions, action_order=["Walking"])


def test_per_action_table_bad_input():
    errors, actions, _ = _fabricated()
    with pytest.raises(ValueError, match=r"errors\['MPJPE'\] has shape \(3,\) but actions has shape \(4,\)"):
        per_action_table({"MPJPE": [1.0, 2.0, 3.0]}, actions)
    with pytest.raises(ValueError, match="NaN"):
        per_action_table({"MPJPE": [1.0, np.nan, 3.0, 4.0]}, actions)
    with pytest.raises(ValueError, match="subjects"):
        per_action_table(errors, actions, subjects=["S9"])


def test_comparison_table():
    rows = {"Image-Only": {"MPJPE": 124.13}, "Trainable Fusion": {"MPJPE": 69.734, "PA-MPJPE": 50.12}}
    md = comparison_table(rows).strip().splitlines()
    assert md[0] == "| Method | MPJPE | PA-MPJPE |"
    assert md[2] == "| Image-Only | 124.13 | - |"
    assert md[3] == "| Trainable Fusion | 69.73 | 50.12 |"
    md = comparison_table(rows, columns=["PA-MPJPE"]).strip().splitlines()
    assert md[0] == "| Method | PA-MPJPE |" and md[3] == "| Trainable Fusion | 50.12 |"


def test_markdown_table_aligns_columns_as_asked():
    default = markdown_table(["stage", "rate"], [["a", "1"]])
    assert default.splitlines()[1] == "|---|---:|"
    text = markdown_table(["stage", "rate", "unit"], [["a", "1", "img/s"]], align="lrl")
    assert text == "| stage | rate | unit |\n|---|---:|---|\n| a | 1 | img/s |\n"
    with pytest.raises(ValueError, match="align"):
        markdown_table(["a", "b"], [], align="l")
