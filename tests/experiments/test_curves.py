"""`kfusion reproduce --curves`: claims judged at twice the standard error, the epoch the fusion weights
turn binary, and a tiny run stopped after its first budget and continued."""
import csv
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from kfusion.cli.main import main
from kfusion.errors import KfusionError
from kfusion.experiments import curves, reproduce

from conftest import make_cache

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "synthetic.yaml")


def _row(values):
    v = np.asarray(values, float)
    return {"mpjpe": float(v.mean()), "mpjpe_std": float(v.std(ddof=1)) if len(v) > 1 else None,
            "mpjpe_seeds": list(v)}


def _verdicts(rows, claims):
    return {c["claim"]: c["verdict"] for c in reproduce.paper_claims(rows, claims)}


def test_claims_at_twice_the_standard_error_on_hand_made_numbers():
    rows = {"Trainable Fusion": _row([100, 101, 99]),  # std 1
            "Early Fusion": _row([110, 111, 109]),  # 10 mm worse; 2 SE = 2 sqrt(2 / 3) = 1.6
            "Late Fusion": _row([100.5, 103.5, 97.5]),  # 0.5 mm worse, std 3: 2 SE = 3.7
            "Trainable, no penalty (free w)": _row([95, 96, 94])}  # 5 mm better
    claims = (("beats early", "Trainable Fusion", ("Early Fusion",)),
              ("beats late", "Trainable Fusion", ("Late Fusion",)),
              ("beats free", "Trainable Fusion", ("Trainable, no penalty (free w)",)),
              ("beats both", "Trainable Fusion", ("Early Fusion", "Late Fusion")),
              ("beats a row not run", "Trainable Fusion", ("Image-Only",)))
    judged = reproduce.paper_claims(rows, claims)
    assert {c["claim"]: c["verdict"] for c in judged} == {
        "beats early": "holds", "beats late": "cannot be told at this noise", "beats free": "fails",
        "beats both": "cannot be told at this noise"}  # a claim with no row to compare with is left out
    early = judged[0]["comparisons"][0]
    assert early["difference"] == pytest.approx(10.0) and early["two_se"] == pytest.approx(2 * np.sqrt(2 / 3))
    # the standard error takes each row's own number of seeds: 2 SE = 2 sqrt(1/3 + 9/2) = 4.4 > 4 mm
    # (with the better row's 3 seeds for both, 2 sqrt(10/3) = 3.7 < 4, it would wrongly hold)
    uneven = {"Trainable Fusion": _row([100, 101, 99]), "Early Fusion": _row([101.879, 106.121])}
    assert uneven["Early Fusion"]["mpjpe_std"] == pytest.approx(3.0, abs=1e-3)
    assert _verdicts(uneven, claims[:1]) == {"beats early": "cannot be told at this noise"}
    # one seed: never told
    assert _verdicts({"Trainable Fusion": _row([50]), "Early Fusion": _row([150])}, claims[:1]) == {
        "beats early": "cannot be told at this noise"}
    # the learning-curve report judges the paper's claims and part 2's questions at every budget
    judged = curves.judge({12: rows, 36: {}})
    assert [c["claim"] for c in judged[12]["claims"]] == [
        c[0] for c in reproduce.CLAIMS if c[1] in rows and any(w in rows for w in c[2])]
    assert judged[36] == {"claims": [], "questions": []}


def test_binary_epoch_on_a_hand_made_trace():
    soft, sharp = [0.3, 0.5, 0.7], [0.0, 0.995, 1.0]
    trace = [{"epoch": e, "weights": w} for e, w in
             [(0, soft), (1, soft), (3, sharp), (2, sharp), (4, [0.0, 0.98, 1.0]), (5, sharp), (6, sharp)]]
    assert reproduce.binary_epoch(trace) == 5  # binary at 2 and 3, not at 4 (0.98 is 0.02 from 1): from 5 on
    assert reproduce.binary_epoch(trace, until=3) == 2  # the order of the records does not matter
    assert reproduce.binary_epoch(trace, until=4) is None
    assert reproduce.binary_epoch(trace, tol=0.05) == 2
    assert reproduce.binary_epoch([]) is None


def test_budgets_and_variants_are_checked():
    assert curves.parse_budgets("36, 12,72,12") == (12, 36, 72)
    for bad in ("", "0,12", "a,b"):
        with pytest.raises(KfusionError, match="--curves"):
            curves.parse_budgets(bad)
    assert [v[0] for v in curves.select_variants("paper,early")] == ["early", "paper"]
    with pytest.raises(KfusionError, match="settle-0.8"):
        curves.select_variants("early,sharp")
    assert main(["reproduce", "--until", "12"]) == 2  # curves-only options without --curves


def _setup(tmp_path):
    import keras

    from kfusion.models import save_model
    from kfusion.models.hourglass import build_hourglass

    keras.utils.set_random_seed(0)
    hourglass = tmp_path / "hourglass.keras"
    save_model(build_hourglass("tiny"), hourglass)
    old = time.time() - 3600  # older than the caches: they are used as they are, not predicted again
    os.utime(hourglass, (old, old))
    out = tmp_path / "run"
    make_cache(64, seed=0).save(out / "cache" / "train.npz")
    make_cache(32, seed=1).save(out / "cache" / "test.npz")
    records = tmp_path / "records"  # only its manifest is read: the renderer's name goes in the report
    records.mkdir()
    (records / "manifest.json").write_text(json.dumps({
        "format": "kfusion-records", "version": 1, "skeleton": "h36m17", "image_size": 64, "source": "synthetic",
        "splits": {"train": {"count": 64, "shards": 1}}, "generator": {"name": "kfusion.synthetic.benchmark",
                                                                      "version": "2"}}))
    return hourglass, out


def _argv(out, hourglass, *extra):
    return ["reproduce", "--curves", "1,2", "--preset", "smoke", "--config", CONFIG, "--out", str(out),
            "--variants", "early,trainable", "--hourglass", str(hourglass), "--set", "fusion.preset=tiny",
            "--set", "fusion.input_size=20", "--set", "fusion.batch_size=16", "--set", "augment.crop_prob=0.0",
            "--set", f"data.records={Path(out).parent / 'records'}", *extra]


def _epochs_logged(folder):
    with open(folder / "log.csv", newline="") as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


def test_curves_stop_after_the_first_budget_and_go_on(tmp_path):
    hourglass, out = _setup(tmp_path)
    assert main(_argv(out, hourglass, "--until", "1")) == 0
    early, trainable = out / "early" / "seed0", out / "trainable" / "seed0"
    first = {f: json.loads((f / "budgets.json").read_text()) for f in (early, trainable)}
    for folder, state in first.items():
        assert list(state["budgets"]) == ["1"] and _epochs_logged(folder) == [0]
        assert (folder / "checkpoints" / "budget-001.keras").is_file()
    report = (out / "learning-curves.md").read_text()
    assert "## After 2 epochs\n\nNot reached yet." in report
    assert "synthetic benchmark (`kfusion.synthetic.benchmark` version 2)" in report
    # the same command without --until goes on from epoch 1: budget 1 is kept as it was, not retrained
    assert main(_argv(out, hourglass)) == 0
    for folder, state in first.items():
        again = json.loads((folder / "budgets.json").read_text())
        assert again["budgets"]["1"] == state["budgets"]["1"] and sorted(again["budgets"]) == ["1", "2"]
        assert _epochs_logged(folder) == [0, 1]
    results = json.loads((out / "learning-curves.json").read_text())
    rows = results["budgets"]["2"]["rows"]
    assert list(rows) == ["Early Fusion", "Trainable Fusion"]
    t = rows["Trainable Fusion"]
    assert t["mpjpe_seeds"] == [json.loads((trainable / "budgets.json").read_text())["budgets"]["2"]["mpjpe"]]
    assert t["mpjpe_std"] is None and t["fusion_layer_seeds"][0] is not None
    assert rows["Early Fusion"]["binary_epoch_seeds"] == [0] and rows["Early Fusion"]["fusion_layer_seeds"] == [0]
    # fusion.epochs is the first budget: settle_at 0.5 of 1 epoch rounds to 0, beta settled from the start
    assert json.loads((trainable / "config.json").read_text())["fusion"]["epochs"] == 1
    assert t["beta"] % 1 == pytest.approx(0.5)
    claims = results["budgets"]["2"]["claims"]
    assert [c["claim"] for c in claims] == ["Trainable fusion beats early and late fusion"]
    assert claims[0]["verdict"] == "cannot be told at this noise"  # one seed
    assert "(one seed: no SE)" in (out / "learning-curves.md").read_text()
    parts = results["seconds"]["parts"]
    assert parts["1"]["cpu"] > 0 and parts["2"]["cpu"] == pytest.approx(results["seconds"]["variants"]["trainable"]["cpu"])
    report = (out / "learning-curves.md").read_text()
    for text in ("## After 1 epochs", "## After 2 epochs", "## The paper's claims at each budget",
                 "![learning curves](learning-curves.png)", "## Time", "`kfusion reproduce --curves 1,2 "):
        assert text in report
    assert "Not reached yet" not in report
    assert (out / "learning-curves.png").stat().st_size > 0
    # another variant in the same folder: trained alone, reported beside the earlier ones
    late = [a if a != "early,trainable" else "late" for a in _argv(out, hourglass, "--until", "1")]
    assert main(late) == 0
    results = json.loads((out / "learning-curves.json").read_text())
    assert results["plan"]["variants"] == ["early", "late", "trainable"]
    assert list(results["budgets"]["1"]["rows"]) == ["Early Fusion", "Late Fusion", "Trainable Fusion"]
    assert list(results["budgets"]["2"]["rows"]) == ["Early Fusion", "Trainable Fusion"]
    # the report alone, copied into a report folder
    assert main(_argv(out, hourglass, "--report-only", "--report-dir", str(tmp_path / "docs"))) == 0
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == [
        "learning-curves.json", "learning-curves.md", "learning-curves.png"]
