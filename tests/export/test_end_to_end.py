"""The end-to-end model: shapes, exact resizes, decode consistency, safe save/load."""
import numpy as np
import pytest
import tensorflow as tf

from kfusion.heatmaps import decode_heatmaps
from kfusion.models.end_to_end import antialias_resize_matrix


@pytest.mark.parametrize("n_in,n_out", [(128, 64), (32, 20), (20, 32), (37, 11)])
def test_antialias_matrix_equals_tf_resize(n_in, n_out):
    eye = tf.eye(n_in)[:, None, :]
    ref = tf.image.resize(eye, (n_out, 1), antialias=True)[:, 0, :].numpy()
    np.testing.assert_allclose(antialias_resize_matrix(n_in, n_out), ref, atol=1e-6)


def test_outputs_shapes_and_consistency(tiny_keras, rng):
    from kfusion.export.saved_model import load_end_to_end

    model = load_end_to_end(tiny_keras)
    img = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    out = {k: v.numpy() for k, v in model(img).items()}
    assert out["pose_3d"].shape == (3, 17, 3) and out["pose_2d"].shape == (3, 16, 2)
    assert out["confidence"].shape == (3, 16) and out["heatmaps"].shape == (3, 8, 8, 16)
    assert 10 < np.abs(out["pose_3d"]).mean() < 1e4  # mm magnitudes
    # pose_2d is the numpy decode of the returned maps, scaled from heatmap (8) to input (32) pixels
    uv, conf = decode_heatmaps(np.maximum(out["heatmaps"], 1e-4))
    np.testing.assert_allclose(out["pose_2d"], uv * 4.0, atol=1e-3)
    np.testing.assert_allclose(out["confidence"], conf, atol=1e-5)
    # inference: a plain call never applies the fusion network's dropout
    np.testing.assert_array_equal(model(img)["pose_3d"].numpy(), out["pose_3d"])


def test_image_path_matches_training_preprocessing(tiny_keras, rng):
    """The fusion inputs inside the model equal the training cache's (antialias image, bilinear maps)."""
    import keras

    from kfusion.export.saved_model import load_end_to_end

    model = load_end_to_end(tiny_keras)
    sub = keras.Model(model.input, [model.get_layer("image_resize").output, model.get_layer("maps_resize").output])
    img = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    image_f, maps_f = sub(img)
    ref = tf.image.resize(img.astype(np.float32) / 255.0, (20, 20), antialias=True)
    np.testing.assert_allclose(image_f.numpy(), ref.numpy(), atol=1e-5)
    maps = model(img)["heatmaps"]
    np.testing.assert_allclose(maps_f.numpy(), tf.image.resize(maps, (20, 20)).numpy(), atol=1e-5)


def test_unsafe_keras_file_is_refused(tmp_path):
    import keras

    import kfusion
    from kfusion.errors import KfusionError

    inp = keras.Input((32, 32, 3), dtype="uint8", name="image")
    x = keras.layers.Lambda(lambda t: keras.ops.cast(t, "float32") * 2.0)(inp)
    model = keras.Model(inp, {"pose_3d": keras.layers.Reshape((1, 3))(keras.layers.GlobalAveragePooling2D()(x))})
    path = tmp_path / "evil.keras"
    model.save(path)
    with pytest.raises(KfusionError, match="refused|unreadable"):
        kfusion.load(path, backend="keras")
