import numpy as np
import pytest
import tensorflow as tf

from kfusion.heatmaps import (decode_heatmaps, decode_heatmaps_tf, from_heatmap_coords,
                              render_heatmaps, render_heatmaps_tf, to_heatmap_coords)


def _joints(shape, size=32, margin=2.0, seed=0):
    return np.random.default_rng(seed).uniform(margin, size - margin, size=shape + (2,))


@pytest.mark.parametrize("sigma", [0.7, 1.0, 2.0])
def test_render_decode_round_trip_is_sub_pixel(sigma):
    joints = _joints((5, 16), seed=int(sigma * 10))
    maps = render_heatmaps(joints, 32, sigma)
    assert maps.shape == (5, 32, 32, 16) and maps.dtype == np.float32
    decoded, conf = decode_heatmaps(maps)
    assert decoded.shape == (5, 16, 2) and conf.shape == (5, 16)
    # The log-parabola fit is exact for a Gaussian: float32 rounding is the only error.
    assert np.abs(decoded - joints).max() < 1e-3
    # Plain arg-max would be off by up to half a pixel; the refinement must matter.
    argmax_only = np.floor(joints) + 0.5
    assert np.abs(argmax_only - joints).max() > 0.3
    assert np.all(conf > np.exp(-1.0 / sigma**2)) and np.all(conf <= 1.0)


def test_corner_convention_and_peak_value():
    maps = render_heatmaps([[3.5, 5.5], [0.0, 0.0]], 8, sigma=1.0)
    assert maps[5, 3, 0] == pytest.approx(1.0)
    assert np.unravel_index(np.argmax(maps[..., 0]), (8, 8)) == (5, 3)
    # A joint on the corner of pixel (0, 0) lies sqrt(0.5) from its centre.
    assert maps[0, 0, 1] == pytest.approx(np.exp(-0.25), rel=1e-6)


def test_invisible_joint_gives_zero_map_and_zero_confidence():
    joints = _joints((2, 4))
    joints[1, 2] = np.nan  # coordinates of an invisible joint are ignored
    vis = np.ones((2, 4))
    vis[0, 1] = 0
    vis[1, 2] = 0
    for maps in (render_heatmaps(joints, 32, 1.0, visibility=vis),
                 render_heatmaps_tf(joints, 32, 1.0, visibility=vis).numpy()):
        assert np.all(maps[0, ..., 1] == 0) and np.all(maps[1, ..., 2] == 0)
        assert maps[0, ..., 0].max() > 0.5 and np.all(np.isfinite(maps))
        _, conf = decode_heatmaps(maps)
        assert conf[0, 1] == 0 and conf[1, 2] == 0 and conf[0, 0] > 0.5
    with pytest.raises(ValueError, match="non-finite"):
        render_heatmaps(joints, 32, 1.0)


def test_numpy_and_tf_agree_and_batch_shapes():
    joints = _joints((2, 3, 16), seed=3)
    maps = render_heatmaps(joints, 32, 1.5)
    maps_tf = render_heatmaps_tf(tf.constant(joints, tf.float32), 32, 1.5).numpy()
    assert maps.shape == maps_tf.shape == (2, 3, 32, 32, 16)
    np.testing.assert_allclose(maps, maps_tf, atol=1e-5)
    joints_np, conf_np = decode_heatmaps(maps)
    joints_tf, conf_tf = decode_heatmaps_tf(maps)
    assert joints_tf.shape == (2, 3, 16, 2) and conf_tf.shape == (2, 3, 16)
    np.testing.assert_allclose(joints_np, joints_tf.numpy(), atol=1e-5)
    np.testing.assert_allclose(conf_np, conf_tf.numpy(), atol=1e-5)
    # Unbatched (H, W, J) works too.
    assert decode_heatmaps(maps[0, 0])[0].shape == (16, 2)
    assert decode_heatmaps_tf(maps[0, 0])[0].shape == (16, 2)


def test_border_peak_is_not_refined_out_of_the_map():
    maps = render_heatmaps([[0.2, 31.9]], 32, 1.0)
    decoded, _ = decode_heatmaps(maps)
    decoded_tf, _ = decode_heatmaps_tf(maps)
    # No neighbour outside the map: the estimate stays at the border pixel centre.
    np.testing.assert_allclose(decoded[0], [0.5, 31.5])
    np.testing.assert_allclose(decoded_tf.numpy()[0], [0.5, 31.5])


def test_tf_versions_in_tf_data_graph_and_tflite():
    joints = _joints((6, 16), seed=4).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices(joints).map(lambda j: render_heatmaps_tf(j, 32, 1.0)).batch(3)
    maps = np.concatenate([m.numpy() for m in ds])
    np.testing.assert_allclose(maps, render_heatmaps(joints, 32, 1.0), atol=1e-5)

    @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 16], tf.float32)])
    def decode(h):
        return decode_heatmaps_tf(h)

    lite = tf.lite.TFLiteConverter.from_concrete_functions([decode.get_concrete_function()], decode).convert()
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=lite)
    inp = interp.get_input_details()[0]["index"]
    interp.resize_tensor_input(inp, maps.shape)
    interp.allocate_tensors()
    interp.set_tensor(inp, maps)
    interp.invoke()
    outs = sorted((interp.get_tensor(o["index"]) for o in interp.get_output_details()), key=np.ndim)
    np.testing.assert_allclose(outs[1], joints, atol=1e-3)
    np.testing.assert_allclose(outs[0], decode_heatmaps(maps)[1], atol=1e-5)


def test_coordinate_helpers():
    pts = np.array([[0.0, 256.0], [128.0, 64.0]])
    hm = to_heatmap_coords(pts, input_size=256, heatmap_size=64)
    np.testing.assert_allclose(hm, [[0.0, 64.0], [32.0, 16.0]])
    np.testing.assert_allclose(from_heatmap_coords(hm, input_size=256, heatmap_size=64), pts)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"shape \(4, 3\)"):
        render_heatmaps(np.zeros((4, 3)), 32)
    with pytest.raises(ValueError, match="sigma"):
        render_heatmaps(np.zeros((4, 2)), 32, sigma=0)
    with pytest.raises(ValueError, match="visibility"):
        render_heatmaps(np.zeros((4, 2)), 32, visibility=np.ones(3))
