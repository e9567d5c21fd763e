"""An end-to-end model whose hourglass is tested with its mirror image (``hourglass.flip_test``) and
a zoomed view (``hourglass.zoom_test``): it says so in its metadata, and Keras, SavedModel and TFLite
compute the same maps and poses."""
import json

import numpy as np
import pytest


@pytest.fixture(scope="module", params=[None, 0.75], ids=["flip", "flip+zoom"])
def flip_tested(tmp_path_factory, request):
    """``(.keras path, the end-to-end model, its plain hourglass, zoom)``."""
    import keras

    from kfusion import skeletons
    from kfusion.models import save_model, uncompiled
    from kfusion.models.end_to_end import build_end_to_end
    from kfusion.models.fusion import build_fusion_network
    from kfusion.models.hourglass import build_hourglass, with_test_augmentation

    keras.utils.set_random_seed(0)
    hourglass = build_hourglass("tiny")
    tested = with_test_augmentation(hourglass, skeletons.get("mpii16").flip_permutation, zoom=request.param)
    # with the zoomed view, the 3D pose is mirror-tested too
    mirror = None if request.param is None else (skeletons.get("mpii16").flip_permutation,
                                                 skeletons.get("h36m17").flip_permutation)
    model = build_end_to_end(tested, build_fusion_network("tiny", "early", seed=0), mirror_3d=mirror)
    path = tmp_path_factory.mktemp("flip") / "end_to_end.keras"
    save_model(uncompiled(model), path)
    return path, model, hourglass, request.param


def _images(n=4):
    from kfusion.export.package import parity_inputs

    return parity_inputs(32, n)[0]


def test_the_models_maps_are_the_mean_of_the_crops_and_the_mirrors(flip_tested):
    from kfusion import skeletons
    from kfusion.export.saved_model import load_end_to_end, model_info
    from kfusion.models.hourglass import zoom_matrix

    path, _, hourglass, zoom = flip_tested
    loaded = load_end_to_end(path)
    assert model_info(loaded)["flip_test"] is True and model_info(loaded)["zoom_test"] == zoom
    images = _images()
    x = images.astype(np.float32) / 255.0
    perm = skeletons.get("mpii16").flip_permutation

    def views(x):
        direct = hourglass(x, training=False)[-1].numpy()
        back = hourglass(np.ascontiguousarray(x[:, :, ::-1]), training=False)[-1].numpy()[:, :, ::-1][..., perm]
        return direct + back

    expected = 0.5 * views(x)
    if zoom is not None:  # the central 24 px enlarged to 32, its 8x8 maps put back into the central 6x6
        Z, B = zoom_matrix(32, zoom), zoom_matrix(8, 1 / zoom)
        zoomed = views(np.einsum("ij,njkc,lk->nilc", Z, x, Z).astype(np.float32))
        cover = 2 + 2 * np.outer(B.sum(1), B.sum(1))[None, :, :, None]
        expected = (views(x) + np.einsum("ij,njkc,lk->nilc", B, zoomed, B)) / cover
        assert np.all(cover[0, 0, :] == 2) and np.all(cover[0, 2:6, 2:6] == 4)  # the edge has no zoomed view
    np.testing.assert_allclose(loaded(images)["heatmaps"].numpy(), expected, atol=1e-5)
    assert model_info(loaded)["pose_flip_test"] is (zoom is not None)


def test_a_mirror_tested_model_sees_a_mirrored_crop_as_the_mirror_image(flip_tested):
    """Maps mirror- (and zoom-) tested and the 3D pose mirror-tested: the mirrored crop's maps and
    3D pose are the crop's, mirrored (x negated, left and right swapped)."""
    from kfusion import skeletons
    from kfusion.export.saved_model import load_end_to_end

    path, _, _, zoom = flip_tested
    model = load_end_to_end(path)
    images = _images()
    out, mirrored = model(images), model(np.ascontiguousarray(images[:, :, ::-1]))
    perm = skeletons.get("mpii16").flip_permutation
    np.testing.assert_allclose(mirrored["heatmaps"].numpy(), out["heatmaps"].numpy()[:, :, ::-1][..., perm], atol=1e-5)
    if zoom is not None:
        expected = out["pose_3d"].numpy()[:, skeletons.get("h36m17").flip_permutation] * np.array([-1.0, 1.0, 1.0])
        np.testing.assert_allclose(mirrored["pose_3d"].numpy(), expected, atol=1e-3)


@pytest.mark.slow
def test_exported_flip_tested_model_matches_keras(flip_tested, tmp_path):
    import tensorflow as tf

    from kfusion.export.package import export_model
    from kfusion.export.tflite import TFLiteRunner

    path, model, _, zoom = flip_tested
    out = tmp_path / "kf-flip"
    export_model(path, out, num_parity=4, speed_repeats=1, variants=("float32",))
    info = json.loads((out / "kfusion.json").read_text())
    assert info["flip_test"] is True and info["zoom_test"] == zoom
    images = _images()
    ref = {k: v.numpy() for k, v in model(images).items()}
    served = tf.saved_model.load(str(out / "1")).signatures["serving_default"](image=tf.constant(images))
    tfl = TFLiteRunner(out / "tflite" / "kfusion_float32.tflite")(images)
    for got in (served, tfl):
        np.testing.assert_allclose(np.asarray(got["heatmaps"]), ref["heatmaps"], atol=1e-4)
        np.testing.assert_allclose(np.asarray(got["pose_2d"]), ref["pose_2d"], atol=0.05)  # crop px
        np.testing.assert_allclose(np.asarray(got["pose_3d"]), ref["pose_3d"], atol=1e-2)  # mm
