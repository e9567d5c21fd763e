"""Exporting a *pruned* end-to-end model: binary fusion weights (alpha large, beta between two
blocks) make ``build_end_to_end(prune_fusion=True)`` swap in the compact network; what is
exported computes the unpruned network's pose_3d with fewer parameters."""
import json

import numpy as np
import pytest

ALPHA, BETA = 50.0, 2.5  # tiny preset: L = 5 blocks; w_l = sigmoid(50 (l - 2.5)) is 0 or 1 to 1e-11


def _binary_fusion():
    import keras

    from kfusion.models.fusion import build_fusion_network, fusion_weights

    keras.utils.set_random_seed(0)
    fusion = build_fusion_network("tiny", "trainable", seed=0)
    layer = fusion.get_layer("fusion_weights")
    layer.alpha.assign(ALPHA)
    layer.beta.assign(BETA)
    w = fusion_weights(fusion)["weights"]
    assert all(v < 1e-9 for v in w[1:3]) and all(v > 1 - 1e-9 for v in w[3:])
    return fusion


@pytest.fixture(scope="module")
def pruned_and_unpruned(tmp_path_factory):
    """``(pruned .keras path, unpruned end-to-end keras.Model)`` sharing hourglass and weights."""
    from kfusion.models import save_model, uncompiled
    from kfusion.models.end_to_end import build_end_to_end
    from kfusion.models.hourglass import build_hourglass

    fusion = _binary_fusion()
    hourglass = build_hourglass("tiny")
    unpruned = build_end_to_end(hourglass, fusion, prune_fusion=False)
    pruned = build_end_to_end(hourglass, fusion, prune_fusion=True)
    path = tmp_path_factory.mktemp("pruned") / "end_to_end.keras"
    save_model(uncompiled(pruned), path)
    return path, unpruned


def _images(n=4):
    from kfusion.export.package import parity_inputs

    return parity_inputs(32, n)[0]


def _inner_params(model):
    import keras

    return {layer.name: layer.count_params() for layer in model.layers if isinstance(layer, keras.Model)}


def test_pruned_end_to_end_is_the_unpruned_one_with_fewer_parameters(pruned_and_unpruned):
    from kfusion.export.saved_model import load_end_to_end, model_info

    path, unpruned = pruned_and_unpruned
    loaded = load_end_to_end(path)
    assert model_info(loaded)["fusion_pruned"] and not model_info(unpruned)["fusion_pruned"]
    assert loaded.count_params() < unpruned.count_params()
    inner = _inner_params(loaded)
    assert any(name.endswith("_pruned") for name in inner)
    images = _images()
    got, ref = loaded(images)["pose_3d"].numpy(), unpruned(images)["pose_3d"].numpy()
    assert np.abs(ref).mean() > 10  # mm magnitudes: the bound below is not vacuous
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-3)  # mm


@pytest.mark.slow
def test_exported_pruned_model_matches_the_unpruned_keras_model(pruned_and_unpruned, tmp_path):
    import tensorflow as tf

    from kfusion.export.package import export_model
    from kfusion.export.saved_model import load_end_to_end
    from kfusion.export.tflite import TFLiteRunner

    path, unpruned = pruned_and_unpruned
    out = tmp_path / "kf-pruned"
    report = export_model(path, out, num_parity=4, speed_repeats=1, variants=("float32",))
    meta = json.loads((out / "kfusion.json").read_text())
    assert meta["fusion_pruned"] is True
    images = _images()
    ref = unpruned(images)["pose_3d"].numpy()
    exported = load_end_to_end(out / "end_to_end.keras")
    assert exported.count_params() < unpruned.count_params()
    np.testing.assert_allclose(exported(images)["pose_3d"].numpy(), ref, rtol=0, atol=1e-3)
    served = tf.saved_model.load(str(out / "1")).signatures["serving_default"]
    np.testing.assert_allclose(served(image=tf.constant(images))["pose_3d"].numpy(), ref, rtol=0, atol=1e-3)
    tfl = TFLiteRunner(out / "tflite" / "kfusion_float32.tflite")(images)["pose_3d"]
    np.testing.assert_allclose(tfl, ref, rtol=0, atol=1e-3)
