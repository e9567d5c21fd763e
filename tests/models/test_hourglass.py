"""Stacked hourglass: shapes, intermediate supervision, size of the paper network, save/load."""
import numpy as np
import pytest

import keras

from kfusion import skeletons
from kfusion.heatmaps import decode_heatmaps, render_heatmaps
from kfusion.models.hourglass import (CentralZoom, build_hourglass, inner_hourglass, resized, widened, with_flip_test,
                                     with_test_augmentation, zoom_matrix)


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


def test_gpu_preset_is_larger_than_the_shipped_network_and_small_enough_to_travel():
    """scripts/gpu_recipe.py's hourglass: 128 px in, 32x32 maps, 3 stacks; ~2 M parameters (8 MB in
    float32, under the 16 MiB a file that comes back from the lent machine may have)."""
    model = build_hourglass("gpu")
    shipped = build_hourglass("cpu", input_size=96)
    assert 1.9e6 <= model.count_params() <= 2.1e6 and model.count_params() > 20 * shipped.count_params()
    assert model.input.shape[1:] == (128, 128, 3) and model.outputs[-1].shape[1:] == (32, 32, 16)
    assert len(model.outputs) == 3


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


@pytest.mark.parametrize("zoom", [None, 0.875], ids=["flip", "flip+zoom"])
def test_tested_hourglass_saves_and_loads_in_safe_mode(tmp_path, zoom):
    from kfusion.models import load_model, save_model

    tested = with_test_augmentation(build_hourglass("tiny"), skeletons.get("mpii16").flip_permutation, zoom=zoom)
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


def _trained_tiny():
    """A tiny hourglass whose weights and batch-norm statistics are all different from their inits."""
    model = build_hourglass("tiny", stacks=2, modules=1)
    rng = np.random.default_rng(7)
    for v in model.weights:
        shape = tuple(v.shape)
        v.assign(rng.uniform(0.5, 1.5, shape) if "variance" in v.path else rng.normal(0, 0.3, shape))
    return model


def test_widened_computes_the_same_maps_with_more_features():
    model = _trained_tiny()
    wide = widened(model, 2, seed=1)
    assert wide.output_names == model.output_names and wide.count_params() > 3 * model.count_params()
    assert wide.get_layer("hg0_lin_conv").kernel.shape == (1, 1, 16, 16)  # 8 features -> 16
    assert wide.get_layer("heatmaps_stack1").kernel.shape[-1] == 16  # the joints stay
    x = np.random.default_rng(3).random((3, 32, 32, 3), dtype=np.float32)
    for training in (False, True):  # moving statistics and batch statistics alike
        for a, b in zip(wide(x, training=training), model(x, training=training)):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4 * np.abs(b.numpy()).max())
    # the copies of a feature differ (else they would learn alike forever), their sum is the narrow weight
    k = wide.get_layer("hg0_d1_low1_conv1").kernel.numpy()  # input: 16 channels, the copies of 8
    assert not np.allclose(k[:, :, :8], k[:, :, 8:])
    np.testing.assert_allclose(k[:, :, :8] + k[:, :, 8:], np.tile(model.get_layer("hg0_d1_low1_conv1").kernel.numpy(),
                                                                  (1, 1, 1, 2)), atol=1e-6)
    assert widened(model, 1) is model


def test_widened_refuses_a_fraction_and_a_network_without_maps():
    with pytest.raises(ValueError, match="factor is 1.5; expected an integer >= 1"):
        widened(build_hourglass("tiny"), 1.5)
    plain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)])
    with pytest.raises(ValueError, match="no 'heatmaps_stack' outputs"):
        widened(plain, 2)


def test_inner_hourglass_finds_the_hourglass_inside_an_end_to_end_model():
    """A shipped model's hourglass can feed a new fusion network: it sits inside the end-to-end model,
    inside its test-time views."""
    from kfusion.models.end_to_end import build_end_to_end
    from kfusion.models.fusion import build_fusion_network

    hg = build_hourglass("tiny")
    assert inner_hourglass(hg) is hg
    fusion = build_fusion_network("tiny", "early", seed=0)
    e2e = build_end_to_end(with_flip_test(hg, skeletons.MPII16.flip_permutation), fusion, prune_fusion=False)
    found = inner_hourglass(e2e)
    assert found is hg
    with pytest.raises(ValueError, match="no stacked hourglass and holds none"):
        inner_hourglass(fusion)


def test_zoom_matrix_samples_about_the_centre_in_the_corner_convention():
    m = zoom_matrix(8, 0.75)  # output pixel o reads input coordinate (o + 0.5) * 0.75 + 1 (corner convention)
    np.testing.assert_allclose(m[0, :2], [0.125, 0.875])
    np.testing.assert_allclose(m.sum(axis=1), 1.0)
    back = zoom_matrix(8, 1 / 0.75)  # the 8 zoomed pixels shrink into the central 6: the outermost see none
    assert back[0].sum() == 0 and back[-1].sum() == 0
    np.testing.assert_allclose(back[1, :2], [5 / 6, 1 / 6], atol=1e-6)
    np.testing.assert_allclose(zoom_matrix(5, 1.0), np.eye(5))
    with pytest.raises(ValueError, match="zoom 0.0"):
        zoom_matrix(4, 0.0)


def test_maps_of_a_zoomed_crop_put_back_peak_where_the_joints_are():
    h, zoom = 16, 0.75
    joints = np.array([[[5.3, 7.9], [10.6, 4.2], [8.0, 11.5]]], np.float32)  # base-crop map px, corner convention
    in_zoomed = (joints - h * (1 - zoom) / 2) / zoom  # where the enlarged centre shows them
    maps = render_heatmaps(in_zoomed, h, sigma=1.0).astype(np.float32)
    back = CentralZoom(1 / zoom)(maps).numpy()
    found, _ = decode_heatmaps(back)
    np.testing.assert_allclose(found, joints, atol=0.15)


def test_zoom_test_is_the_mean_over_the_views_that_see_each_pixel():
    hourglass = build_hourglass("tiny")
    tested = with_test_augmentation(hourglass, zoom=0.5)  # no mirror: the crop and its central half
    x = np.random.default_rng(5).random((2, 32, 32, 3), dtype=np.float32)
    Z, B = zoom_matrix(32, 0.5), zoom_matrix(8, 2.0)
    direct = hourglass(x, training=False)[-1].numpy()
    zoomed = hourglass(np.einsum("ij,njkc,lk->nilc", Z, x, Z).astype(np.float32), training=False)[-1].numpy()
    cover = 1 + np.outer(B.sum(1), B.sum(1))[None, :, :, None]
    np.testing.assert_allclose(tested(x).numpy(), (direct + np.einsum("ij,njkc,lk->nilc", B, zoomed, B)) / cover,
                               atol=1e-5)
    np.testing.assert_allclose(tested(x).numpy()[:, 0], direct[:, 0], atol=1e-6)  # the border: the crop alone


def test_test_augmentation_refuses_a_zoom_out_and_nothing_to_add():
    with pytest.raises(ValueError, match="zoom is 1.2; expected a fraction in"):
        with_test_augmentation(build_hourglass("tiny"), zoom=1.2)
    with pytest.raises(ValueError, match="nothing to add"):
        with_test_augmentation(build_hourglass("tiny"))
