"""hourglass.checkpoint: a trained hourglass to start from, at its own input size or resized to another."""
import numpy as np
import pytest

from kfusion import config as config_mod
from kfusion.errors import KfusionError


@pytest.fixture
def records_dir(tmp_path):
    from conftest import write_tiny_records

    return write_tiny_records(tmp_path / "records", train=4, test=2, train_shards=1)


def _stage(records_dir, checkpoint, size, widen=1):
    from kfusion.train.stages import hourglass_stage

    cfg = config_mod.from_dict({"data": {"records": str(records_dir)},
                                "hourglass": {"preset": "tiny", "input_size": size, "widen": widen,
                                              "checkpoint": checkpoint and str(checkpoint)}})
    return hourglass_stage(cfg)


def test_a_checkpoint_of_another_input_size_starts_the_resized_network(tmp_path, records_dir):
    from kfusion.models import save_model
    from kfusion.models.hourglass import build_hourglass

    trained = build_hourglass("tiny", input_size=32)
    save_model(trained, tmp_path / "hg32.keras")
    same = _stage(records_dir, tmp_path / "hg32.keras", 32).build()
    bigger = _stage(records_dir, tmp_path / "hg32.keras", 48).build()
    assert same.input.shape[1:] == (32, 32, 3)
    assert bigger.input.shape[1:] == (48, 48, 3) and bigger.outputs[-1].shape[1:] == (12, 12, 16)
    for a, b in zip(bigger.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_checkpoint_that_cannot_run_at_the_size_is_named(tmp_path, records_dir):
    from kfusion.models import save_model
    from kfusion.models.hourglass import build_hourglass

    save_model(build_hourglass("tiny", input_size=32), tmp_path / "hg32.keras")
    with pytest.raises(KfusionError, match=r"hg32.keras \(32 px\) cannot run at hourglass.input_size 40: .*"
                                           "multiple of 16"):
        _stage(records_dir, tmp_path / "hg32.keras", 40).build()


def test_widen_continues_the_checkpoint_with_more_features_and_needs_one(tmp_path, records_dir):
    from kfusion.models import save_model
    from kfusion.models.hourglass import build_hourglass

    trained = build_hourglass("tiny", input_size=32)
    save_model(trained, tmp_path / "hg32.keras")
    wide = _stage(records_dir, tmp_path / "hg32.keras", 48, widen=2).build()  # resized, then widened
    assert wide.input.shape[1:] == (48, 48, 3) and wide.get_layer("hg0_lin_conv").kernel.shape[-1] == 16
    with pytest.raises(KfusionError, match="hourglass.widen is 2; it widens a trained network: set hourglass.checkpoint"):
        _stage(records_dir, None, 32, widen=2).build()
    with pytest.raises(KfusionError, match="'hourglass.widen' is 0"):
        _stage(records_dir, tmp_path / "hg32.keras", 32, widen=0)
