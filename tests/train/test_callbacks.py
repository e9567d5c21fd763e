"""BudgetEvaluation: measurements at exactly the budget epochs, kept and completed across a resume."""
import csv
import json

import keras
import numpy as np
import pytest

from kfusion.errors import KfusionError
from kfusion.models import load_model
from kfusion.models.fusion import fusion_weights
from kfusion.train import driver
from kfusion.train.callbacks import BudgetEvaluation

from conftest import tiny_config


def _alpha(network):
    return {"alpha": fusion_weights(network)["alpha"]}


def _logged_epochs(run):
    with open(run / "log.csv", newline="") as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


def test_budgets_are_measured_at_exactly_their_epochs(tmp_path, tiny_cache):
    train, val = tiny_cache
    cfg = tiny_config(tmp_path)
    run, calls = tmp_path / "run", []

    def measure(network):
        calls.append(network)
        return _alpha(network)

    budget = BudgetEvaluation(run / "budgets.json", (3, 1), measure, save_pattern=run / "budget-{epoch:03d}.keras")
    driver.train_fusion(cfg, train, val, run, epochs=4, verbose=0, callbacks=[budget])
    state = json.loads((run / "budgets.json").read_text())
    assert sorted(state["budgets"]) == ["1", "3"] and state["epochs_done"] == 4 and len(calls) == 2
    assert sorted(p.name for p in run.glob("budget-*.keras")) == ["budget-001.keras", "budget-003.keras"]
    trace = {r["epoch"]: r for r in json.loads((run / "fusion_trace.json").read_text())["epochs"]}
    for b in (1, 3):  # the network measured and saved is the one after epoch b, not before or after it
        entry = state["budgets"][str(b)]
        assert entry["epoch"] == b and entry["alpha"] == pytest.approx(trace[b]["alpha"], rel=1e-6)
        assert entry["alpha"] != pytest.approx(trace[b + 1]["alpha"], rel=1e-6)
        assert fusion_weights(load_model(run / f"budget-{b:03d}.keras"))["alpha"] == pytest.approx(entry["alpha"])
    assert not hasattr(calls[0], "settle_fusion_point")  # the plain network, not its training wrapper
    assert 0 < state["budgets"]["1"]["train_wall_seconds"] < state["budgets"]["3"]["train_wall_seconds"]
    assert state["seconds"]["train_cpu"] > 0


class _Kill(keras.callbacks.Callback):
    """Raise at the end of one epoch: a process killed after the budget's measurement, before the backup."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise RuntimeError("killed")


def test_a_run_killed_between_measurement_and_backup_measures_that_budget_again(tmp_path, tiny_cache):
    train, val = tiny_cache
    cfg = tiny_config(tmp_path)
    run, calls = tmp_path / "run", []

    def measure(network):
        calls.append(_alpha(network)["alpha"])
        return _alpha(network)

    def budget():
        return BudgetEvaluation(run / "budgets.json", (1, 2), measure)

    with pytest.raises(RuntimeError, match="killed"):
        driver.train_fusion(cfg, train, val, run, epochs=3, verbose=0, callbacks=[budget(), _Kill(2)])
    first = json.loads((run / "budgets.json").read_text())
    assert sorted(first["budgets"]) == ["1", "2"] and len(calls) == 2
    # the extra callbacks run before the backup: it holds epoch 1, so epoch 2 is trained and measured again
    driver.train_fusion(cfg, train, val, run, epochs=3, verbose=0, callbacks=[budget()])
    again = json.loads((run / "budgets.json").read_text())
    assert len(calls) == 3 and again["budgets"]["1"] == first["budgets"]["1"]
    assert again["budgets"]["2"]["alpha"] == calls[-1] and again["epochs_done"] == 3
    assert _logged_epochs(run) == [0, 1, 2]  # continued from the backup of epoch 1, not restarted
    assert again["seconds"]["train_wall"] > first["seconds"]["train_wall"]


def test_budgets_must_be_epoch_counts(tmp_path):
    with pytest.raises(KfusionError, match="budgets"):
        BudgetEvaluation(tmp_path / "b.json", (0, 3), lambda n: {})
    with pytest.raises(KfusionError, match="only"):
        cfg = tiny_config(tmp_path)
        cfg["train"]["distribute"] = "multiworker"
        driver.train(None, cfg, tmp_path, strategy=object(), callbacks=[object()])
