"""A run length in wall-clock seconds (kfusion.train.budget): the cosine of the fraction of the run
done, the stop at the end of the budget's batch, the fusion point settled on the way."""
import csv
import dataclasses
import itertools

import numpy as np
import pytest

from conftest import make_cache, tiny_config


def test_progress_cosine_is_keras_cosine_decay_at_the_same_fraction_of_the_run():
    import keras

    from kfusion.train.budget import ProgressCosine

    steps, lr = 40, 3e-3
    keras_cosine = keras.optimizers.schedules.CosineDecay(lr, steps, alpha=0.01)
    ours = ProgressCosine(lr)
    for k in (0, 7, 20, 33, 40, 55):
        ours.progress.assign(min(k / steps, 1.0))
        assert float(ours(k)) == pytest.approx(float(keras_cosine(k)), rel=1e-5)
    assert float(ours(0)) == pytest.approx(0.01 * lr, rel=1e-5)  # the end of the run: 1 %


def tiny_fusion_stage(tmp_path, settle_at=0.5):
    from kfusion import config as config_mod
    from kfusion.train import stages

    cfg = config_mod.override(tiny_config(tmp_path, epochs=3, settle_at=settle_at), "train.steps_per_epoch", 5)
    stage = stages.fusion_stage(cfg, make_cache(32, seed=0), None)
    return cfg, dataclasses.replace(stage, schedule="cosine")  # the fusion stage's rate is constant otherwise


def test_the_budget_stops_training_cleanly_with_the_rate_at_its_end_and_the_fusion_point_settled(tmp_path):
    from kfusion.models.fusion import fusion_weights
    from kfusion.train import budget, driver

    cfg, stage = tiny_fusion_stage(tmp_path)
    ticks = itertools.count()  # a clock that advances 1 s at each reading: 4 s are 4 batches
    limit = budget.TimeBudget(4.0, stage.steps() * stage.epochs, learning_rate=stage.learning_rate,
                              settle_at=stage.settle_epoch / stage.epochs, clock=lambda: float(next(ticks)))
    network = driver.train(stage, cfg, tmp_path / "fusion", callbacks=[limit], verbose=0)
    assert limit.stopped and limit.steps == 4 < stage.steps() * stage.epochs == 15
    assert int(limit.model.optimizer.iterations) == 4
    assert float(limit.model.optimizer.learning_rate) == pytest.approx(0.01 * stage.learning_rate, rel=1e-5)
    beta = fusion_weights(network)["beta"]  # settled at 2/3 of the budget: the middle of its block
    assert beta - np.floor(beta) == pytest.approx(0.5)
    with open(tmp_path / "fusion" / "log.csv") as f:  # the cut epoch was closed: logged, model saved
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [0]
    assert (tmp_path / "fusion" / "model.keras").is_file()


def test_a_budget_that_is_not_spent_lets_the_stage_run_its_steps(tmp_path):
    from kfusion.train import budget, driver

    cfg, stage = tiny_fusion_stage(tmp_path, settle_at=None)
    limit = budget.for_stage(stage, 3600.0)
    assert limit.schedule is not None and limit.settle_at is None
    driver.train(stage, cfg, tmp_path / "fusion", callbacks=[limit], verbose=0)
    assert not limit.stopped and limit.steps == stage.steps() * stage.epochs == 15
    assert 0 < limit.seconds < 3600
    assert float(limit.schedule.progress) == pytest.approx(1.0)  # the steps' bound: the cosine ran to its end
