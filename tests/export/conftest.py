"""Tiny end-to-end models shared by the export tests (built and exported once per session)."""
import numpy as np
import pytest


def make_tiny_end_to_end(seed=0):
    """A tiny end-to-end model whose pose_3d has realistic magnitudes (hundreds of mm)."""
    import keras

    from kfusion.models.end_to_end import build_end_to_end
    from kfusion.models.fusion import build_fusion_network
    from kfusion.models.hourglass import build_hourglass

    keras.utils.set_random_seed(seed)
    fusion = build_fusion_network("tiny", "trainable", seed=seed)  # random init: ~100 mm outputs
    return build_end_to_end(build_hourglass("tiny"), fusion)


@pytest.fixture(scope="session")
def tiny_keras(tmp_path_factory):
    from kfusion.train.trainer import save_model

    path = tmp_path_factory.mktemp("e2e") / "end_to_end.keras"
    save_model(make_tiny_end_to_end(), path)
    return path


@pytest.fixture(scope="session")
def tiny_export(tiny_keras, tmp_path_factory):
    from kfusion.export.package import export_model

    out = tmp_path_factory.mktemp("export") / "kf-tiny"
    # float16 is left out here to keep the suite fast; `kfusion export` writes all three
    report = export_model(tiny_keras, out, num_parity=4, speed_repeats=2, variants=("float32", "int8"))
    return out, report


@pytest.fixture
def rng():
    return np.random.default_rng(0)
