"""A tiny exported model shared by the export tests (exported once per session; ``tiny_keras``
is in tests/conftest.py)."""
import numpy as np
import pytest


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
