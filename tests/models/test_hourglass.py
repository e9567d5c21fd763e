"""Stacked hourglass: shapes, intermediate supervision, size of the paper network, save/load."""
import numpy as np
import pytest

import keras

from kfusion import skeletons
from kfusion.models.hourglass import build_hourglass, resized, with_flip_test


def test_tiny_outputs_one_heatmap_per_stack():
    model = build_hourglass("tiny", stacks=3)
    assert model.output_names == ["heatmaps_stack0", "heatmaps_stack1", "heatmaps_stack2"]
    outs = model(np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32))
    assert [tuple(o.shape) for o in outs] == [(2, 8, 8, 16)] * 3
    # stack 1 is fed from stack 0's heatmaps: its remap layer exists, none after the last stack
    names = {layer.name for layer in model.layers}
    assert {"hg0_remap_heatmaps", "hg1_remap_heatmaps"} <= names and "hg2_remap_heatmaps" not in names


def test_residual_uses_projection_only_when_channels_change():
    model = build_hourglass("tiny")
    names = {layer.name for layer in model.layers}
    assert "stem_res1_skip" in names and "stem_res3_skip" in names  # 2 -> 4 and 4 -> 8 channels
    assert "stem_res2_skip" not in names and "hg0_d2_up_skip" not in names
    assert model.get_layer("stem_res3_conv2").kernel.shape == (3, 3, 4, 4)  # bottleneck C/2


def test_paper_preset_has_25_to_26_million_parameters():
    model = build_hourglass("paper")
    assert 25e6 <= model.count_params() <= 26e6
    assert model.input.shape[1:] == (256, 256, 3) and model.outputs[-1].shape[1:] == (64, 64, 16)
    assert len(model.outputs) == 8


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="input_size is 30"):
        build_hourglass("tiny", input_size=30)
    with pytest.raises(ValueError, match="unknown option"):
        build_hourglass("tiny", stack=2)


def test_save_load_bit_for_bit(tmp_path):
    model = build_hourglass("tiny", num_joints=5)
    x = np.random.default_rng(1).random((2, 32, 32, 3), dtype=np.float32)
    model.save(tmp_path / "hg.keras")
    loaded = keras.saving.load_model(tmp_path / "hg.keras")
    for a, b in zip(loaded(x, training=False), model(x, training=False)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert loaded.outputs[-1].shape[-1] == 5


def test_flip_test_averages_the_mirror_images_maps_mirrored_back():
    hourglass = build_hourglass("tiny")
    perm = skeletons.get("mpii16").flip_permutation
    tested = with_flip_test(hourglass, perm)
    x = np.random.default_rng(2).random((2, 32, 32, 3), dtype=np.float32)
    out = tested(x).numpy()
    direct = hourglass(x, training=False)[-1].numpy()
    back = hourglass(x[:, :, ::-1], training=False)[-1].numpy()[:, :, ::-1][..., perm]
    np.testing.assert_allclose(out, 0.5 * (direct + back), atol=1e-6)
    # so the tested maps of a mirrored crop are its maps mirrored, left and right swapped
    mirrored = tested(np.ascontiguousarray(x[:, :, ::-1])).numpy()
    np.testing.assert_allclose(mirrored, out[:, :, ::-1][..., perm], atol=1e-5)


def test_flip_test_saves_and_loads_in_safe_mode(tmp_path):
    from kfusion.models import load_model, save_model

    tested = with_flip_test(build_hourglass("tiny"), skeletons.get("mpii16").flip_permutation)
    save_model(tested, tmp_path / "tested.keras")
    loaded = load_model(tmp_path / "tested.keras")
    x = np.random.default_rng(3).random((1, 32, 32, 3), dtype=np.float32)
    np.testing.assert_array_equal(loaded(x).numpy(), tested(x).numpy())


def test_flip_test_refuses_a_permutation_of_other_joints():
    with pytest.raises(ValueError, match="predicts 16 maps; the permutation has 14"):
        with_flip_test(build_hourglass("tiny"), skeletons.get("lsp14").flip_permutation)
    with pytest.raises(ValueError, match="not a permutation"):
        with_flip_test(build_hourglass("tiny"), [0] * 16)


def test_resized_keeps_the_weights_and_maps_at_a_quarter_of_the_new_size():
    model = build_hourglass("tiny")
    bigger = resized(model, 48)
    assert bigger.input.shape[1:] == (48, 48, 3) and bigger.output_names == model.output_names
    assert [tuple(o.shape[1:]) for o in bigger.outputs] == [(12, 12, 16)] * 2
    for a, b in zip(bigger.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # back at the trained size it is the same function, bit for bit
    x = np.random.default_rng(4).random((2, 32, 32, 3), dtype=np.float32)
    for a, b in zip(resized(bigger, 32)(x, training=False), model(x, training=False)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_resized_refuses_a_size_the_hourglass_cannot_halve_down():
    with pytest.raises(ValueError, match="input_size is 40; 'hourglass_tiny' needs a multiple of 16"):
        resized(build_hourglass("tiny"), 40)
    with pytest.raises(ValueError, match="needs a multiple of 32"):
        resized(build_hourglass("tiny", depth=3, input_size=64), 48)
