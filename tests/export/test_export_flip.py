"""An end-to-end model whose hourglass is tested with its mirror image (``hourglass.flip_test``):
it says so in its metadata, and Keras, SavedModel and TFLite compute the same maps and poses."""
import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def flip_tested(tmp_path_factory):
    """``(.keras path, the end-to-end model, its plain hourglass)``."""
    import keras

    from kfusion import skeletons
    from kfusion.models import save_model, uncompiled
    from kfusion.models.end_to_end import build_end_to_end
    from kfusion.models.fusion import build_fusion_network
    from kfusion.models.hourglass import build_hourglass, with_flip_test

    keras.utils.set_random_seed(0)
    hourglass = build_hourglass("tiny")
    model = build_end_to_end(with_flip_test(hourglass, skeletons.get("mpii16").flip_permutation),
                             build_fusion_network("tiny", "early", seed=0))
    path = tmp_path_factory.mktemp("flip") / "end_to_end.keras"
    save_model(uncompiled(model), path)
    return path, model, hourglass


def _images(n=4):
    from kfusion.export.package import parity_inputs

    return parity_inputs(32, n)[0]


def test_the_models_maps_are_the_mean_of_the_crops_and_the_mirrors(flip_tested):
    from kfusion import skeletons
    from kfusion.export.saved_model import load_end_to_end, model_info

    path, _, hourglass = flip_tested
    loaded = load_end_to_end(path)
    assert model_info(loaded)["flip_test"] is True
    images = _images()
    x = images.astype(np.float32) / 255.0
    perm = skeletons.get("mpii16").flip_permutation
    direct = hourglass(x, training=False)[-1].numpy()
    back = hourglass(np.ascontiguousarray(x[:, :, ::-1]), training=False)[-1].numpy()[:, :, ::-1][..., perm]
    np.testing.assert_allclose(loaded(images)["heatmaps"].numpy(), 0.5 * (direct + back), atol=1e-5)


@pytest.mark.slow
def test_exported_flip_tested_model_matches_keras(flip_tested, tmp_path):
    import tensorflow as tf

    from kfusion.export.package import export_model
    from kfusion.export.tflite import TFLiteRunner

    path, model, _ = flip_tested
    out = tmp_path / "kf-flip"
    export_model(path, out, num_parity=4, speed_repeats=1, variants=("float32",))
    assert json.loads((out / "kfusion.json").read_text())["flip_test"] is True
    images = _images()
    ref = {k: v.numpy() for k, v in model(images).items()}
    served = tf.saved_model.load(str(out / "1")).signatures["serving_default"](image=tf.constant(images))
    tfl = TFLiteRunner(out / "tflite" / "kfusion_float32.tflite")(images)
    for got in (served, tfl):
        np.testing.assert_allclose(np.asarray(got["heatmaps"]), ref["heatmaps"], atol=1e-4)
        np.testing.assert_allclose(np.asarray(got["pose_2d"]), ref["pose_2d"], atol=0.05)  # crop px
        np.testing.assert_allclose(np.asarray(got["pose_3d"]), ref["pose_3d"], atol=1e-2)  # mm
