"""Pruning: the compact network computes what the unpruned one does, with fewer parameters."""
import numpy as np
import pytest

from kfusion.models.fusion import PRESETS, build_fusion_network, fusion_weights
from kfusion.models.pruning import fusion_point, prune

SIZE = PRESETS["tiny"]["input_size"]
L = len(PRESETS["tiny"]["blocks"]) + 1


def _inputs(batch=3, seed=1):
    rng = np.random.default_rng(seed)
    return {"image": rng.random((batch, SIZE, SIZE, 3), dtype=np.float32),
            "heatmaps": rng.random((batch, SIZE, SIZE, 16), dtype=np.float32)}


def _sharpen(model, alpha, beta):
    layer = model.get_layer("fusion_weights")
    layer.alpha.assign(alpha)
    layer.beta.assign(beta)


@pytest.mark.parametrize("beta", [0.5, 1.5, 2.5, 3.5])
def test_pruned_trainable_equals_unpruned_with_fewer_parameters(beta):
    model = build_fusion_network("tiny", "trainable", seed=0)
    _sharpen(model, 60.0, beta)
    pruned = prune(model)
    x = _inputs()
    np.testing.assert_allclose(pruned(x, training=False).numpy(), model(x, training=False).numpy(),
                               rtol=1e-5, atol=1e-5)
    assert pruned.count_params() < model.count_params()
    b = int(np.ceil(beta)) - 1  # w_l = 1 for l > beta: fusion at layer floor(beta)
    names = {layer.name for layer in pruned.layers}
    assert {f"image{l}_conv" for l in range(min(b, 2))} <= names and f"image{b}_conv" not in names
    assert f"fusion{b - 1}_conv" not in names and f"fusion{L - 1}_dense" in names
    assert "fusion_weights" not in names and pruned.losses == []
    # the weights were copied: changing the original afterwards leaves the pruned model as it was
    before = pruned(x, training=False).numpy()
    model.get_layer(f"fusion{L - 1}_dense").kernel.assign(
        model.get_layer(f"fusion{L - 1}_dense").kernel.numpy() + 1.0)
    np.testing.assert_array_equal(pruned(x, training=False).numpy(), before)


@pytest.mark.parametrize("strategy", ["early", "late"])
def test_pruned_early_and_late_keep_one_side(strategy):
    model = build_fusion_network("tiny", strategy, seed=0)
    pruned = prune(model)
    x = _inputs()
    np.testing.assert_allclose(pruned(x, training=False).numpy(), model(x, training=False).numpy(),
                               rtol=1e-5, atol=1e-5)
    names = {layer.name for layer in pruned.layers} - {"image", "heatmaps"}  # less the inputs
    if strategy == "early":
        assert not any(n.startswith(("image", "heatmaps")) for n in names)
    else:
        assert not any(n.startswith("fusion") for n in names if n not in (f"fusion{L - 1}_dense", f"fusion{L - 1}_to_mm"))


def test_refuses_soft_weights_naming_them():
    model = build_fusion_network("tiny", "trainable", seed=0)  # alpha 0.1: every w near 0.5
    with pytest.raises(ValueError, match=r"not within tol=0.001 of 0 or 1: w_1 = 0\.4"):
        prune(model)
    with pytest.raises(ValueError, match="no FusionWeights"):
        prune(build_fusion_network("tiny", "image_only", seed=0))


def test_fusion_point_rules():
    assert fusion_point([0.3, 0, 0, 1, 1]) == 2  # w_0 has no effect and is ignored
    assert fusion_point([1, 1, 1]) == 0 and fusion_point([0, 0, 0]) == 2
    with pytest.raises(ValueError, match="not monotone"):
        fusion_point([0, 1, 0, 1])
    with pytest.raises(ValueError, match="w_2 = 0.01"):
        fusion_point([0, 0, 0.01, 1], tol=1e-3)


def test_pruned_model_of_free_weights():
    model = build_fusion_network("tiny", "free", seed=0)
    model.get_layer("fusion_weights").logits.assign([-50.0, -50.0, 50.0, 50.0, 50.0])
    assert fusion_weights(model)["weights"][2] == 1.0
    pruned = prune(model)
    x = _inputs()
    np.testing.assert_allclose(pruned(x, training=False).numpy(), model(x, training=False).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_snap_prunes_soft_weights_at_floor_beta():
    from kfusion.models.pruning import snapped_fusion_point

    model = build_fusion_network("tiny", "trainable", seed=0)  # alpha 0.1: soft weights
    with pytest.raises(ValueError, match="not within"):
        prune(model)
    layer = model.get_layer("fusion_weights")
    for beta, b in ((1.7, 1), (2.0, 2), (-0.5, 0), (9.0, 4)):  # L = 5 blocks
        layer.beta.assign(beta)
        assert snapped_fusion_point(model) == b
    layer.beta.assign(1.5)
    layer.alpha.assign(60.0)  # now the weights are the indicator: snapped == checked pruning
    x = {"image": np.random.default_rng(0).random((2, 20, 20, 3), dtype=np.float32),
         "heatmaps": np.random.default_rng(1).random((2, 20, 20, 16), dtype=np.float32)}
    np.testing.assert_allclose(prune(model, snap=True)(x), prune(model)(x), rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(prune(model, snap=True)(x), model(x), rtol=1e-5, atol=1e-3)
