"""Protocol tables on fabricated predictions with known errors."""
import numpy as np
import pytest

from kfusion import geometry, skeletons
from kfusion.datasets import h36m
from kfusion.eval import protocols


def _poses(n, j, seed=0):
    return np.random.default_rng(seed).normal(0, 300, size=(n, j, 3)) + [0, 0, 4000]


def _unit_offsets(n, j, seed=1):
    u = np.random.default_rng(seed).normal(size=(n, j, 3))
    return u / np.linalg.norm(u, axis=-1, keepdims=True)


def test_h36m_tables_known_errors():
    actions, errors = [], {}
    gt, pred = [], []
    for i, a in enumerate(h36m.ACTIONS[:-1]):  # "Walking Pair" left out: shown as "-"
        d = 10.0 * (i + 1)
        errors[a] = d * 16 / 17  # every joint but the root is off by d mm
        g = _poses(3, 17, i)
        off = d * _unit_offsets(3, 17, i)
        off[:, 0] = 0
        gt.append(g)
        pred.append(g + off + [100.0, -50.0, 30.0])  # a global shift: removed by root alignment
        actions += ["Phoning 1" if a == "Phone Talk" else a] * 3
    gt, pred = np.concatenate(gt), np.concatenate(pred)
    out = protocols.h36m_tables(pred, gt, actions, subjects=["S9"] * len(gt))
    t1 = out["table1"]
    for a, e in errors.items():
        assert t1["mpjpe"][a] == pytest.approx(e)
    assert t1["mpjpe"]["Walking Pair"] is None and out["missing"] == ["Walking Pair"]
    assert t1["avg_all"] == pytest.approx(np.mean(list(errors.values())))
    assert t1["avg_6"] == pytest.approx(np.mean([errors[a] for a in h36m.SIX_ACTIONS]))
    header = out["markdown"].splitlines()[2]
    assert header.split(" | ")[1:4] == ["Directions", "Discussion", "Eating"]
    assert header.rstrip(" |").endswith("Avg. (All) | Avg. (6 Actions)") and "| - |" in out["markdown"]
    # PA-MPJPE: a rotated, scaled, shifted copy of the truth has zero error
    R = geometry.rotation_matrix([0, 1, 0.3], 0.8)
    out2 = protocols.h36m_tables(1.3 * gt @ R.T + 5.0, gt, actions)
    assert out2["table2"]["avg_all"] == pytest.approx(0.0, abs=1e-6)
    assert out2["table1"]["avg_all"] > 10


def test_humaneva_table_walking_per_subject():
    gt = _poses(6, 15)
    R = geometry.rotation_matrix([1, 0.2, 0], 0.5)
    pred = gt @ R.T + [10.0, 20.0, 30.0]  # rigid motion: zero error after alignment
    pred[2:4] = gt[2:4] * 1.2  # S2: a scaled pose, not removable by a rigid alignment
    pred[4:] = gt[4:] + 999.0 * _unit_offsets(2, 15)  # Jog of S1: must not count
    subjects = ["Validate/S1", "S1", "S2", "S2", "S1", "S1"]
    actions = ["Walking 1 chunk0", "Walking_1", "Walking", "Walking 1", "Jog 1", "Jog 1"]
    out = protocols.humaneva_table(pred, gt, subjects, actions)
    assert out["errors"]["S1"] == pytest.approx(0.0, abs=1e-6) and out["counts"]["S1"] == 2
    assert out["errors"]["S2"] > 1.0 and out["errors"]["S3"] is None
    assert out["average"] == pytest.approx(out["errors"]["S2"] / 2)
    assert "| Method | S1 | S2 | S3 | Average |" in out["markdown"]


def test_kth_table_pcp_both_forms():
    gt = _poses(4, 14)
    pred = gt.copy()
    skel = skeletons.LSP14
    w = skel.index("r_wrist")
    length = np.linalg.norm(gt[:, w] - gt[:, skel.index("r_elbow")], axis=-1)
    # r_wrist off by 0.8 x the lower-arm length: right in the mean-endpoint form, wrong in the strict one
    pred[:, w] += (0.8 * length)[:, None] * np.array([1.0, 0, 0])
    out = protocols.kth_table(pred, gt)
    assert out["rows"] == ["Pelvis", "Torso", "Upper arms", "Lower arms", "Upper legs", "Lower legs", "All parts"]
    assert out["pcp"]["Lower arms"] == pytest.approx(100.0)  # (0 + 0.8 L) / 2 <= 0.5 L
    assert out["pcp_strict"]["Lower arms"] == pytest.approx(50.0)  # 0.8 L > 0.5 L for the wrist
    assert out["pcp_strict"]["All parts"] == pytest.approx(100 * 10 / 11)  # 11 parts (head too), one wrong
    assert out["pcp"]["Upper arms"] == 100.0 and "| Lower arms | 100.0 | 50.0 |" in out["markdown"]


def test_label_count_mismatch_is_an_error():
    with pytest.raises(ValueError, match="one per pose"):
        protocols.h36m_tables(_poses(2, 17), _poses(2, 17), ["Eating"])


def test_write_protocol_report_each_protocol(tmp_path):
    import json

    import numpy as np

    from kfusion.eval.protocols import write_protocol_report

    rng = np.random.default_rng(0)
    gt17 = rng.normal(scale=300, size=(6, 17, 3))
    meta = {"action": np.array(["Walking", "Eating"] * 3), "subject": np.array(["S9", "S11"] * 3)}
    md = write_protocol_report("h36m", gt17 + 10.0 * (np.arange(17) > 0)[:, None], gt17, meta, tmp_path / "a")
    assert "Walking" in md and json.loads((tmp_path / "a" / "evaluation.json").read_text())
    gt14 = rng.normal(scale=300, size=(4, 14, 3))
    md = write_protocol_report("kth", gt14, gt14, {"action": ["x"] * 4, "subject": ["P2"] * 4}, tmp_path / "b")
    assert "100" in md
    with pytest.raises(ValueError, match="expected h36m, humaneva or kth"):
        write_protocol_report("lsp", gt14, gt14, meta, tmp_path / "c")
