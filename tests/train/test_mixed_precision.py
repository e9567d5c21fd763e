"""Fast single-device training: mixed precision (bfloat16 on CPU), XLA, the profiler switch."""
import json
import math

import numpy as np
import pytest

from conftest import make_cache, tiny_config


@pytest.fixture
def bfloat16_policy():
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_fusion_parameters_and_output_stay_float32_under_mixed_bfloat16(bfloat16_policy):
    import keras

    from kfusion.models.fusion import build_fusion_network, find_fusion_weights_layer

    model = build_fusion_network("tiny", "trainable", seed=0)
    layer = find_fusion_weights_layer(model)
    assert layer.alpha.dtype == "float32" and layer.beta.dtype == "float32"
    conv = model.get_layer("fusion0_conv")
    assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"  # the policy is in force
    x = {"image": np.random.rand(2, 20, 20, 3).astype("float32"),
         "heatmaps": np.random.rand(2, 20, 20, 16).astype("float32")}
    out = model(x, training=False)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    (penalty,) = model.losses
    assert keras.backend.standardize_dtype(penalty.dtype) == "float32"
    assert float(penalty) == pytest.approx(5e3 / 0.1 ** 2, rel=1e-6)  # exact: no bfloat16 rounding


def test_one_fit_step_under_mixed_bfloat16_is_finite_and_trains_alpha(tmp_path, bfloat16_policy):
    from kfusion import config as config_mod
    from kfusion.models.fusion import fusion_weights
    from kfusion.train import driver

    cfg = config_mod.override(tiny_config(tmp_path, epochs=1, learning_rate=0.01), "train.steps_per_epoch", 2)
    cfg = config_mod.override(cfg, "train.mixed_precision", "mixed_bfloat16")
    model = driver.train_fusion(cfg, make_cache(32, seed=0), None, tmp_path / "fusion", verbose=0)
    state = fusion_weights(model)
    assert state["alpha"] != pytest.approx(0.1) and math.isfinite(state["alpha"])
    loss = (tmp_path / "fusion" / "log.csv").read_text().splitlines()[1].split(",")[1]
    assert math.isfinite(float(loss))


def test_distributed_loop_step_under_mixed_bfloat16(tmp_path, bfloat16_policy):
    import tensorflow as tf

    from kfusion import config as config_mod
    from kfusion.train import distributed, driver

    cfg = config_mod.override(tiny_config(tmp_path, epochs=1), "train.steps_per_epoch", 1)
    model = driver.train_fusion(cfg, make_cache(16, seed=0), None, tmp_path / "fusion",
                                     strategy=tf.distribute.get_strategy(), verbose=0)
    history = json.loads((tmp_path / "fusion" / "train_summary.json").read_text())["history"]
    assert math.isfinite(history["loss"][0]) and history["loss"][0] > 5e3 / 0.1 ** 2 * 0.99  # data + penalty
    alpha = [w for w in model.weights if w.name == "alpha"]
    assert len(alpha) == 1 and alpha[0].dtype == "float32"


@pytest.mark.slow  # two XLA compilations: ~40 s on a loaded 2-core CPU
def test_xla_compiled_fit_matches_the_plain_one(tmp_path, monkeypatch):
    """``train.jit_compile`` changes how a step runs, not what it computes."""
    from kfusion import config as config_mod
    from kfusion.train import driver

    import kfusion.models.fusion as F

    # dropout draws differ between the two runs: compare a copy of the preset without it
    tiny = {**F.PRESETS["tiny"], "blocks": [{k: v for k, v in b.items() if k != "dropout"}
                                            for b in F.PRESETS["tiny"]["blocks"]]}
    monkeypatch.setitem(F.PRESETS, "tiny", tiny)
    losses = []
    for jit in (False, True):
        cfg = config_mod.override(tiny_config(tmp_path, epochs=1), "train.steps_per_epoch", 2)
        cfg = config_mod.override(cfg, "train.jit_compile", jit)
        cfg = config_mod.override(cfg, "fusion.preset", "tiny")
        driver.train_fusion(cfg, make_cache(32, seed=0), None, tmp_path / f"jit{jit}", verbose=0)
        losses.append(float((tmp_path / f"jit{jit}" / "log.csv").read_text().splitlines()[1].split(",")[1]))
    assert losses[1] == pytest.approx(losses[0], rel=1e-4)


def test_profile_flag_asks_tensorboard_for_batches_2_to_4(tmp_path):
    import keras

    from kfusion.train.callbacks import standard_callbacks

    def board(profile):
        (cb,) = [c for c in standard_callbacks(tmp_path, profile=profile) if isinstance(c, keras.callbacks.TensorBoard)]
        return cb

    on, off = board(True), board(False)
    assert (on._start_batch, on._stop_batch) == (2, 4)
    assert off._start_batch == 0 and off._stop_batch == 0
