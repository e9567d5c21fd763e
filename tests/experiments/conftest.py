"""The tiny heatmap caches and configs of tests/train/conftest.py, for the experiments' tests."""
import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_train_conftest", Path(__file__).parents[1] / "train" / "conftest.py")
_train = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_train)
make_cache, tiny_config, tiny_cache = _train.make_cache, _train.tiny_config, _train.tiny_cache
