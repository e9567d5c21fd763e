"""The one training step (kfusion/train/step.py): two optimizers, alpha's growth, exact pruning."""
import numpy as np
import pytest

from conftest import make_cache, tiny_config


def _compiled(cfg, main, fusion):
    from kfusion.train import stages
    from kfusion.models.losses import pose_loss
    from kfusion.train.step import TrainingModel

    model = TrainingModel(stages.build_fusion_from_config(cfg))
    model.compile(optimizer=main, fusion_optimizer=fusion, loss=pose_loss)
    return model


def _batch(n=16):
    from kfusion.data.cache import fusion_dataset

    cache = make_cache(n, seed=0)
    cfg = tiny_config(".")
    return next(iter(fusion_dataset(cache, cfg, training=False, batch_size=n)))


def _state(model):
    from kfusion.models.fusion import find_fusion_weights_layer

    layer = find_fusion_weights_layer(model.network)
    weights = [np.array(v) for v in model.trainable_variables if not any(v is w for w in layer.trainable_variables)]
    return float(layer.alpha_value()), float(layer.beta_value()), weights


@pytest.mark.parametrize("frozen", ["weights", "fusion"])
def test_each_optimizer_updates_only_its_own_variables(tmp_path, frozen):
    """An optimizer with learning rate 0 leaves exactly its own variables unchanged: alpha (the
    penalty's variable) on the fusion optimizer, beta and every weight on the main one. Swapping the
    groups fails here."""
    import keras

    cfg = tiny_config(tmp_path)
    still, moving = keras.optimizers.SGD(0.0), keras.optimizers.Adam(1e-2)
    main, fusion = (still, moving) if frozen == "weights" else (moving, still)
    model = _compiled(cfg, main, fusion)
    x, y = _batch()
    a0, b0, w0 = _state(model)
    model.update(x, y)
    a1, b1, w1 = _state(model)
    weights_moved = any(not np.array_equal(p, q) for p, q in zip(w0, w1)) or b1 != b0  # beta: a weight
    alpha_moved = a1 != a0
    assert (weights_moved, alpha_moved) == ((False, True) if frozen == "weights" else (True, False))


def test_without_a_fusion_optimizer_one_optimizer_updates_everything(tmp_path):
    import keras

    model = _compiled(tiny_config(tmp_path), keras.optimizers.Adam(1e-2), None)
    x, y = _batch()
    a0, b0, w0 = _state(model)
    model.update(x, y)
    a1, b1, w1 = _state(model)
    assert a1 != a0 and b1 != b0 and any(not np.array_equal(p, q) for p, q in zip(w0, w1))
    assert model.variable_groups()[1] == []


def _alpha_after(tmp_path, name, **fusion):
    import json

    from kfusion.train import driver

    cfg = tiny_config(tmp_path / name, epochs=3, **fusion)
    driver.train_fusion(cfg, make_cache(64, seed=0), None, tmp_path / name / "fusion", verbose=0)
    trace = json.loads((tmp_path / name / "fusion" / "fusion_trace.json").read_text())["epochs"]
    return [r["alpha"] for r in trace]


def test_alpha_grows_several_times_faster_than_with_the_papers_setting(tmp_path):
    """12 steps from alpha 0.1: the paper's one Adam moves alpha by about 12 x 1e-3; kfusion's own Adam
    for alpha and beta (step 0.01, beta_2 0.9) by about ten times that."""
    paper = _alpha_after(tmp_path, "paper", alpha_optimizer="shared", learning_rate=1e-3)
    ours = _alpha_after(tmp_path, "ours", learning_rate=1e-3)
    assert paper[0] == ours[0] == pytest.approx(0.1)
    assert ours[-1] - ours[0] > 5 * (paper[-1] - paper[0]) > 0


def test_prune_of_a_trained_sharp_model_is_exact(tmp_path):
    """Trained until its weights are binary (the fusion point settled from epoch 3 on, alpha growing),
    the pruned network computes what the trained one does."""
    from kfusion.models.fusion import fusion_weights
    from kfusion.models.pruning import prune
    from kfusion.data.cache import fusion_dataset
    from kfusion.train import driver

    cfg = tiny_config(tmp_path, epochs=10, alpha_learning_rate=2.0, alpha_beta_2=0.5, penalty=5e11, settle_at=0.3)
    model = driver.train_fusion(cfg, make_cache(64, seed=0), None, tmp_path / "fusion", verbose=0)
    w = np.asarray(fusion_weights(model)["weights"])
    assert np.all(np.minimum(w, 1 - w) < 1e-3), w  # binary
    pruned = prune(model)
    assert pruned.count_params() < model.count_params()
    x, _ = next(iter(fusion_dataset(make_cache(32, seed=1), cfg, training=False, batch_size=32)))
    diff = np.abs(np.asarray(pruned(x, training=False)) - np.asarray(model(x, training=False))).max()
    assert diff < 1e-3, diff  # mm


def test_settling_holds_beta_in_the_middle_of_its_block(tmp_path):
    """From the settle epoch on, beta is floor(beta) + 0.5 at every epoch end; before, it learns."""
    import json

    from kfusion.train import driver

    cfg = tiny_config(tmp_path, epochs=4, alpha_learning_rate=0.5, settle_at=0.5, beta_init=2.9)
    driver.train_fusion(cfg, make_cache(64, seed=0), None, tmp_path / "fusion", verbose=0)
    trace = json.loads((tmp_path / "fusion" / "fusion_trace.json").read_text())["epochs"]
    betas = [r["beta"] for r in trace]  # epoch 0 (before training) .. 4
    assert betas[1] != pytest.approx(2.9, abs=1e-6)  # learning before the settle epoch (2)
    assert betas[3] == pytest.approx(np.floor(betas[2]) + 0.5, abs=1e-6) == pytest.approx(betas[4], abs=1e-6)
