"""Lifting baseline: shapes, residual structure, save/load."""
import numpy as np

import keras

from kfusion.models.lifting import build_lifting_baseline


def test_paper_size_and_shapes():
    model = build_lifting_baseline()
    # Martinez et al.: 32 -> 1024, 4 x 1024 -> 1024, 1024 -> 51 (plus batch norms): about 4.3 M
    dense = 33 * 1024 + 4 * 1025 * 1024 + 1025 * 51
    assert model.count_params() == dense + 5 * 4 * 1024
    out = model(np.zeros((2, 16, 2), np.float32))
    assert out.shape == (2, 17, 3) and model.input.shape[1:] == (16, 2)
    assert build_lifting_baseline(preset="cpu").count_params() < model.count_params() / 10


def test_save_load_bit_for_bit(tmp_path):
    model = build_lifting_baseline(14, 14, preset="tiny", seed=3)
    model.compile("adam", "mse")
    x = np.random.default_rng(0).normal(size=(16, 14, 2)).astype(np.float32)
    model.fit(x, np.ones((16, 14, 3), np.float32), epochs=1, verbose=0)  # moves the BN statistics
    model.save(tmp_path / "lift.keras")
    loaded = keras.saving.load_model(tmp_path / "lift.keras")
    np.testing.assert_array_equal(loaded(x, training=False).numpy(), model(x, training=False).numpy())
    assert loaded.output.shape[1:] == (14, 3)
