"""kfusion.models.load_model: Keras files that load but are not usable models are refused in one line."""
import pytest

from kfusion.errors import KfusionError


def test_a_sequential_never_called_is_refused_naming_the_file(tmp_path):
    """A valid ``Sequential`` saved before it was ever built has no inputs: Keras would raise AttributeError
    at the first use (``kfusion evaluate`` did); kfusion says what the file is and what was expected."""
    import keras

    from kfusion.models import load_model

    path = tmp_path / "dense.keras"
    with pytest.warns(UserWarning, match="not yet been built"):
        keras.Sequential([keras.layers.Dense(3)]).save(path)
    with pytest.raises(KfusionError) as e:
        load_model(path)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"{path}: a Keras Sequential with no defined inputs")
    assert "expected a kfusion model with an input" in message
    built = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])  # the same, built: loads
    built.save(tmp_path / "built.keras")
    assert load_model(tmp_path / "built.keras").inputs[0].shape == (None, 4)


def _records(folder, n=2, size=32):
    import numpy as np

    from kfusion.data.records import write_manifest, write_records

    rng = np.random.default_rng(0)
    samples = [{"image": rng.integers(0, 255, (size, size, 3), dtype=np.uint8),
                "joints_2d": rng.uniform(4, 28, (17, 2)).astype(np.float32),
                "joints_3d": (rng.normal(0, 200, (17, 3)) + [0, 0, 4000]).astype(np.float32),
                "visibility": np.ones(17, np.float32), "intrinsics": np.eye(3, dtype=np.float32),
                "subject": "S1", "action": "walk", "camera": "c0", "source": "test", "frame": i} for i in range(n)]
    write_records(samples, folder, "test", num_shards=1, skeleton="h36m17")
    write_manifest(folder, skeleton="h36m17", image_size=size, splits={"test": {"count": n, "shards": 1}},
                   source="test")
    return folder


def test_cli_evaluate_of_a_sequential_never_called_ends_in_one_line(tmp_path, capsys):
    """``kfusion evaluate --model dense.keras`` on records and on photographs (issue 22: AttributeError)."""
    import keras

    from kfusion.cli.main import main

    path = tmp_path / "dense.keras"
    with pytest.warns(UserWarning):
        keras.Sequential([keras.layers.Dense(3)]).save(path)
    for protocol, data in (("synthetic", _records(tmp_path / "records")), ("lsp", tmp_path)):
        assert main(["evaluate", "--model", str(path), "--data", str(data), "--protocol", protocol,
                     "--out", str(tmp_path / "out")]) != 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "dense.keras: a Keras Sequential with no defined inputs" in err[0], err
    assert not (tmp_path / "out").exists()
