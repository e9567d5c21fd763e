"""Shared test set-up: deterministic seeds, quiet TensorFlow, headless matplotlib."""
import os
import random
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    yield


# Modules whose PRESETS dicts are data every test shares: a test changes them only through
# ``monkeypatch.setitem`` on a copy (undone before the check below runs).
PRESET_MODULES = ("kfusion.models.fusion", "kfusion.models.hourglass", "kfusion.models.lifting",
                  "kfusion.experiments.reproduce")
_PRESETS_AS_WRITTEN = {}


def presets_as_written(module):
    """The ``PRESETS`` literal of ``module``'s source (read once; never the live, maybe changed, dict)."""
    import ast
    import importlib.util

    if module not in _PRESETS_AS_WRITTEN:
        tree = ast.parse(open(importlib.util.find_spec(module).origin, encoding="utf-8").read())
        (node,) = [n for n in tree.body if isinstance(n, ast.Assign)
                   and any(getattr(t, "id", None) == "PRESETS" for t in n.targets)]
        _PRESETS_AS_WRITTEN[module] = ast.literal_eval(node.value)
    return _PRESETS_AS_WRITTEN[module]


@pytest.fixture(autouse=True)
def _presets_unchanged():
    """Fail a test that leaves a shared preset changed (modules it has not imported are not
    imported here: that would load TensorFlow for every test)."""
    yield
    changed = [m for m in PRESET_MODULES if m in sys.modules and sys.modules[m].PRESETS != presets_as_written(m)]
    assert not changed, (f"this test left {', '.join(changed)}.PRESETS changed; use monkeypatch.setitem "
                         "with a copy of the preset")


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


@pytest.fixture(scope="session")
def tiny_export(tiny_keras, tmp_path_factory):
    """``tiny_keras`` exported once per session (tests/export and tests/runtime): (folder, parity report)."""
    from kfusion.export.package import export_model

    out = tmp_path_factory.mktemp("export") / "kf-tiny"
    # float16 is left out here to keep the suite fast; `kfusion export` writes all three
    report = export_model(tiny_keras, out, num_parity=4, speed_repeats=2, variants=("float32", "int8"))
    return out, report


@pytest.fixture
def rng():
    return np.random.default_rng(0)
