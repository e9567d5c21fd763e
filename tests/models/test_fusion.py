"""Fusion network: the equivalences between fusion settings, the penalty, gradients, save/load."""
import numpy as np
import pytest
import tensorflow as tf

import keras

from kfusion.models.fusion import PRESETS, STRATEGIES, build_fusion_network, fusion_weights
from kfusion.models.fusion_layer import FusionWeights
from kfusion.models.summary import count_flops, fusion_summary

SIZE = PRESETS["tiny"]["input_size"]
L = len(PRESETS["tiny"]["blocks"]) + 1


def _inputs(batch=3, seed=1):
    rng = np.random.default_rng(seed)
    return {"image": rng.random((batch, SIZE, SIZE, 3), dtype=np.float32),
            "heatmaps": rng.random((batch, SIZE, SIZE, 16), dtype=np.float32)}


def _perturb(model, prefixes, seed=5):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.name.startswith(prefixes):
            layer.set_weights([w + rng.normal(0, 1, w.shape).astype(w.dtype) for w in layer.get_weights()])


def _copy_block_weights(src, dst, src_prefix, dst_prefix):
    for layer in src.layers:
        if layer.name.startswith(src_prefix) and layer.get_weights():
            dst.get_layer(dst_prefix + layer.name[len(src_prefix):]).set_weights(layer.get_weights())


def _fusion_stream_alone(model, x):
    """The fusion stream of ``model`` run by hand on concat(image, heatmaps), no data streams."""
    h = tf.concat([x["image"], x["heatmaps"]], axis=-1)
    for layer in model.layers:
        if layer.name.startswith("fusion") and layer.name != "fusion_weights":
            h = layer(h, training=False)
    return model.get_layer("pose_3d")(h)


def test_early_fusion_ignores_data_streams_and_equals_fusion_stream_alone():
    model = build_fusion_network("tiny", "early", seed=0)
    assert fusion_weights(model)["weights"] == [1.0] * L
    x = _inputs()
    before = model(x, training=False).numpy()
    np.testing.assert_array_equal(before, _fusion_stream_alone(model, x).numpy())
    _perturb(model, ("image", "heatmaps"))
    np.testing.assert_array_equal(model(x, training=False).numpy(), before)
    _perturb(model, ("fusion1_",))  # and it does depend on the fusion stream
    assert not np.allclose(model(x, training=False).numpy(), before)


def test_late_fusion_equals_hand_built_fuse_after_last_data_block():
    model = build_fusion_network("tiny", "late", seed=0)
    assert fusion_weights(model)["weights"] == [0.0] * L
    x = _inputs()
    img = build_fusion_network("tiny", "image_only", seed=1)
    hm = build_fusion_network("tiny", "cm_only", seed=2)
    _copy_block_weights(model, img, "image", "image")
    _copy_block_weights(model, hm, "heatmaps", "heatmaps")
    # features after the last data block (L - 2) of each stream, then the output FC on their concatenation
    feat_i = keras.Model(img.input, img.get_layer(f"image{L - 2}_relu").output)(x, training=False)
    feat_h = keras.Model(hm.input, hm.get_layer(f"heatmaps{L - 2}_relu").output)(x, training=False)
    out = model.get_layer(f"fusion{L - 1}_dense")(tf.concat([feat_i, feat_h], axis=-1))
    out = model.get_layer(f"fusion{L - 1}_to_mm")(out)
    expected = model.get_layer("pose_3d")(out).numpy()
    np.testing.assert_allclose(model(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-4)
    # the fusion stream's hidden blocks are dead: perturbing them changes nothing
    _perturb(model, tuple(f"fusion{l}_" for l in range(L - 1)))
    np.testing.assert_allclose(model(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("beta", [0, 2])
def test_fixed_fusion_layer_weights_are_indicator(beta):
    model = build_fusion_network("tiny", "fixed", fusion_layer=beta, seed=0)
    assert fusion_weights(model)["weights"] == [float(l > beta) for l in range(L)]
    assert not model.get_layer("fusion_weights").trainable_weights
    model(_inputs(), training=False)
    assert model.losses == []


def test_fixed_needs_a_valid_fusion_layer():
    with pytest.raises(ValueError, match="fusion_layer"):
        build_fusion_network("tiny", "fixed")
    with pytest.raises(ValueError, match="fusion_layer is 9"):
        build_fusion_network("tiny", "fixed", fusion_layer=9)
    with pytest.raises(ValueError, match="strategy"):
        build_fusion_network("tiny", "middle")


@pytest.mark.parametrize("alpha_squared", [False, True])
def test_penalty_is_lambda_over_alpha_squared_and_gradients_reach_alpha_beta(alpha_squared):
    model = build_fusion_network("tiny", "trainable", alpha_init=0.7, beta_init=2.3, penalty=5e3,
                                 alpha_squared=alpha_squared, seed=0)
    layer = model.get_layer("fusion_weights")
    slope = 0.7 ** 2 if alpha_squared else 0.7
    expected_w = 1 / (1 + np.exp(-slope * (np.arange(L) - 2.3)))
    np.testing.assert_allclose(fusion_weights(model)["weights"], expected_w, rtol=1e-6)
    x, y = _inputs(), np.random.default_rng(0).normal(0, 100, (3, 17, 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        pred = model(x, training=True)
        data_loss = 0.5 * tf.reduce_mean(tf.reduce_sum(tf.square(pred - y), axis=[1, 2]))
        assert len(model.losses) == 1
        loss = data_loss + tf.add_n(model.losses)
    alpha = np.float32(0.7)
    assert model.losses[0].numpy() == np.float32(5e3) / (alpha * alpha)
    grads = tape.gradient(loss, [layer.alpha, layer.beta])
    assert all(g is not None and np.isfinite(g.numpy()) and g.numpy() != 0 for g in grads)
    assert layer.alpha.dtype == "float32" and layer.beta.dtype == "float32"


def test_weights_stay_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_fusion_network("tiny", "trainable", seed=0)
        layer = model.get_layer("fusion_weights")
        assert layer.alpha.dtype == "float32" and layer.beta.dtype == "float32"
        out = model(_inputs(), training=False)
        assert out.dtype == "float32" and model.losses[0].dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_free_weights_are_learnable_and_unpenalised():
    model = build_fusion_network("tiny", "free", seed=0)
    layer = model.get_layer("fusion_weights")
    assert [v.name for v in layer.trainable_weights] == ["logits"]
    x = _inputs()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(model(x, training=True)))
    assert model.losses == []
    assert np.any(tape.gradient(loss, layer.logits).numpy() != 0)


def test_fit_with_both_inputs_also_for_single_stream_models():
    x = _inputs(batch=8)
    y = np.zeros((8, 17, 3), np.float32)
    for strategy in ("trainable", "image_only"):
        model = build_fusion_network("tiny", strategy, seed=0)
        assert model.output_names == ["pose_3d"]
        model.compile("adam", loss="mse")
        history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_save_load_reproduces_outputs_bit_for_bit(strategy, tmp_path):
    model = build_fusion_network("tiny", strategy, fusion_layer=1, seed=0)
    x = _inputs()
    path = tmp_path / f"{strategy}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded(x, training=False).numpy(), model(x, training=False).numpy())
    if strategy not in ("image_only", "cm_only"):
        assert fusion_weights(loaded) == fusion_weights(model)


def test_fusion_weights_layer_config_round_trip():
    layer = FusionWeights(6, mode="trainable", alpha_init=0.3, beta_init=2.6, penalty=10.0, alpha_squared=True)
    clone = FusionWeights.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="mode"):
        FusionWeights(6, mode="soft")


def test_summary_shows_streams_blocks_and_weights():
    model = build_fusion_network("tiny", "trainable", seed=0)
    text = fusion_summary(model)
    assert "conv 3x3 3->4" in text and "conv 3x3 16->4" in text and "conv 3x3 19->8" in text
    assert "fc 16->51" in text and "alpha 0.1000" in text and "beta 3.1000" in text
    assert len([line for line in text.splitlines() if line[:1].isdigit()]) == L


def test_paper_preset_has_122_9_million_parameters_and_count_flops():
    model = build_fusion_network("paper", "trainable")
    assert abs(model.count_params() - 122.9e6) / 122.9e6 < 0.01
    # conv 9x9 3->36 on 112 -> 104: 2 * 104^2 * 81 * 3 * 36 FLOPs, the first of many
    assert count_flops(model) > 2 * 104 * 104 * 81 * 3 * 36
    tiny = build_fusion_network("tiny", "image_only")
    expected = 2 * (18 * 18 * 9 * 3 * 4 + 7 * 7 * 9 * 4 * 4 + 36 * 16 + 16 * 8 + 8 * 51)
    assert count_flops(tiny) == expected


def test_gpu_preset_has_the_papers_input_and_depth_in_1_4_million_parameters():
    """scripts/gpu_recipe.py's fusion network: 112 px, L = 7, its last convolution down to 1 x 1."""
    model = build_fusion_network("gpu", "trainable")
    assert 1.3e6 <= model.count_params() <= 1.45e6
    assert model.input["image"].shape[1:] == (112, 112, 3) and len(PRESETS["gpu"]["blocks"]) + 1 == 7
    assert model.get_layer("fusion3_relu").output.shape[1:] == (1, 1, 256)  # the fusion stream: twice the filters


def test_people_preset_is_the_cpu_network_twice_as_wide():
    """configs/people.yaml's 3D network: the cpu preset's input, depth (so its fusion points and beta mean
    the same blocks) and strides, with every block's filters and units doubled."""
    cpu, people = PRESETS["cpu"], PRESETS["people"]
    assert people["input_size"] == cpu["input_size"] and len(people["blocks"]) == len(cpu["blocks"])
    for narrow, wide in zip(cpu["blocks"], people["blocks"]):
        width = "filters" if narrow["kind"] == "conv" else "units"
        assert wide == {**narrow, width: 2 * narrow[width]}
    model = build_fusion_network("people", "trainable")
    assert model.get_layer("fusion2_relu").output.shape[1:] == (3, 3, 128)
    assert 2.5e6 <= model.count_params() <= 2.8e6


def test_presets_build_and_bad_specs_are_refused():
    cpu = build_fusion_network("cpu", "trainable")
    assert cpu.get_layer("fusion2_relu").output.shape[1:] == (3, 3, 64)  # 64 -> 31 -> 15 -> 7 -> 3
    assert cpu.get_layer("image0_conv").strides == (2, 2)
    with pytest.raises(ValueError, match="block 1 has kind 'pool'"):
        build_fusion_network("tiny", blocks=[{"kind": "conv", "kernel": 3, "filters": 4}, {"kind": "pool"}])
    with pytest.raises(ValueError, match="shrinks to nothing"):
        build_fusion_network("tiny", input_size=6)
    with pytest.raises(ValueError, match="conv after an fc"):
        build_fusion_network("tiny", blocks=[{"kind": "fc", "units": 4}, {"kind": "conv", "kernel": 1, "filters": 2}])


def test_a_file_saved_with_a_fusion_rate_loads_with_its_true_alpha_and_beta(tmp_path):
    """kfusion <= 0.1 saved FusionWeights(rate=r) whose variables held alpha / r and beta / r: such a
    file loads with alpha and beta multiplied back, and computes the same weights as when it was saved."""
    import json
    import zipfile

    from kfusion.models import load_model, save_model
    from kfusion.models.fusion import fusion_weights

    model = build_fusion_network("tiny", "trainable", seed=0)
    layer = model.get_layer("fusion_weights")
    layer.alpha.assign(0.35)  # as a rate-10 file stored alpha 3.5 and beta 2.2
    layer.beta.assign(0.22)
    path = tmp_path / "new.keras"
    save_model(model, path)
    legacy = tmp_path / "legacy.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(legacy, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                for entry in config["config"]["layers"]:
                    if entry["class_name"] == "FusionWeights":
                        entry["config"]["rate"] = 10.0
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    back = fusion_weights(load_model(legacy))
    assert back["alpha"] == pytest.approx(3.5) and back["beta"] == pytest.approx(2.2)
    assert "rate" not in load_model(legacy).get_layer("fusion_weights").get_config()
