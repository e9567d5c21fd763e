"""Shared test set-up: deterministic seeds, quiet TensorFlow, headless matplotlib."""
import os
import random

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    yield


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
    from kfusion.models import save_model

    path = tmp_path_factory.mktemp("e2e") / "end_to_end.keras"
    save_model(make_tiny_end_to_end(), path)
    return path
