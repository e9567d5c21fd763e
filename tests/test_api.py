"""The public Python API: ``kfusion.models``, ``kfusion.data`` and ``kfusion.train`` import without
TensorFlow, and every name in their ``__all__`` resolves to what the package documents."""
import json
import subprocess
import sys

import pytest

PACKAGES = ("kfusion.models", "kfusion.data", "kfusion.train")

# In a fresh process: what importing the packages loaded, then every public name resolved.
PROBE = """
import importlib, inspect, json, sys
packages = [importlib.import_module(p) for p in sys.argv[1:]]
loaded = sorted(m for m in ("tensorflow", "keras", "keras_tuner") if m in sys.modules)
names = {p.__name__: list(p.__all__) for p in packages}
kinds = {}
for p in packages:
    for n in p.__all__:
        value = getattr(p, n)
        kinds[f"{p.__name__}.{n}"] = [inspect.isclass(value) or inspect.isfunction(value),
                                      getattr(value, "__module__", "").startswith("kfusion.")]
print(json.dumps({"loaded_by_import": loaded, "names": names, "kinds": kinds}))
"""


@pytest.fixture(scope="module")
def probe():
    done = subprocess.run([sys.executable, "-c", PROBE, *PACKAGES], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_api_packages_does_not_import_tensorflow(probe):
    assert probe["loaded_by_import"] == []


def test_every_public_name_resolves_to_a_kfusion_class_or_function(probe):
    expected = {"kfusion.models": {"build_hourglass", "build_fusion_network", "prune", "load_model", "save_model"},
                "kfusion.data": {"make_dataset", "fusion_dataset", "HeatmapCache", "predict_cache"},
                "kfusion.train": {"TrainingModel", "fusion_stage", "standard_callbacks", "FusionTrace",
                                  "pose_loss", "MPJPE"}}
    for package, names in expected.items():
        assert names <= set(probe["names"][package]), package
        assert len(set(probe["names"][package])) == len(probe["names"][package])  # no name twice
    assert probe["kinds"] and all(is_def and ours for is_def, ours in probe["kinds"].values()), probe["kinds"]


def test_lazy_names_leave_submodules_and_unknown_names_alone():
    import kfusion.data as data
    from kfusion.data import cache  # a submodule, not a re-exported name

    assert data.HeatmapCache is cache.HeatmapCache
    assert set(data.__all__) <= set(dir(data))
    with pytest.raises(AttributeError, match="no attribute 'no_such_dataset'"):
        data.no_such_dataset  # noqa: B018
    with pytest.raises(ImportError):
        from kfusion.train import no_such_name  # noqa: F401
