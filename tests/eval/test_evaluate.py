import numpy as np

from kfusion.eval import evaluate


def test_oracle_reports_zero_and_offsets_report_their_size(tmp_path):
    rng = np.random.default_rng(0)
    gt = rng.normal(scale=300, size=(40, 17, 3))
    actions = np.array(["walk", "sit"] * 20)
    summary, table = evaluate.summarize(gt.copy(), gt, actions)
    assert summary["overall"]["mpjpe"] < 1e-9 and summary["overall"]["pa_mpjpe"] < 1e-6
    assert summary["overall"]["pck3d"] == 100.0 and summary["overall"]["auc3d"] >= 100 * 30 / 31  # 0 mm threshold: float noise
    # a 30 mm shift of every non-root joint of the 'sit' poses only
    pred = gt.copy()
    pred[actions == "sit", 1:, 0] += 30.0
    summary, table = evaluate.summarize(pred, gt, actions)
    t = table.as_dict()
    assert abs(t["values"]["mpjpe"]["walk"]) < 1e-9
    assert abs(t["values"]["mpjpe"]["sit"] - 30.0 * 16 / 17) < 1e-9
    md = evaluate.write_report(summary, table, tmp_path)
    assert "| mpjpe |" in md and (tmp_path / "evaluation.json").is_file()


def test_root_translation_is_ignored():
    gt = np.random.default_rng(1).normal(scale=300, size=(5, 17, 3))
    errors = evaluate.pose_metrics(gt + np.array([100.0, -50.0, 2000.0]), gt)
    assert np.allclose(errors["mpjpe"], 0, atol=1e-9)
