"""Keras layers and model builders: hourglass, fusion network, lifting baseline, pruning.

The public API (``__all__``) is re-exported lazily (PEP 562): ``import kfusion.models`` does not
import TensorFlow; ``kfusion.models.build_fusion_network`` imports it on first use::

    from kfusion import models

    hourglass = models.build_hourglass("cpu")                  # RGB (64, 64, 3) -> maps per stack
    fusion = models.build_fusion_network("cpu", "trainable")   # {"image", "heatmaps"} -> pose_3d mm
"""
import importlib
from pathlib import Path

from kfusion.errors import KfusionError, one_line
from kfusion.lazy import lazy_exports

# public name -> the module that defines it (imported when the name is first used)
_LAZY = {
    "build_hourglass": "kfusion.models.hourglass",
    "build_fusion_network": "kfusion.models.fusion",
    "fusion_weights": "kfusion.models.fusion",
    "build_lifting_baseline": "kfusion.models.lifting",
    "prune": "kfusion.models.pruning",
    "build_end_to_end": "kfusion.models.end_to_end",
}
__all__ = list(_LAZY) + ["load_model", "save_model", "uncompiled"]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

# Modules that register kfusion's Keras layers (imported before any model is loaded).
LAYER_MODULES = ("fusion_layer", "fusion", "hourglass", "lifting", "end_to_end")
# The losses and metrics, by module name: a model saved while compiled (an older run's model.keras or
# end_to_end.keras whose nested network kept its compile config) names them.
TRAINING_MODULES = ("kfusion.models.losses",)


def load_model(path, *, compile=False):
    """Load a kfusion ``.keras`` model with Keras ``safe_mode`` (no lambdas, no arbitrary code).

    kfusion's custom layers, losses and metrics are registered first. ``compile=False``: the model is
    for inference or is compiled again by the trainer. A file that is not a Keras zip, that safe mode
    refuses, or whose model has no defined inputs (a Sequential never called) raises KfusionError
    naming it.
    """
    import zipfile

    if not Path(path).is_file():
        raise KfusionError(f"{path}: model file not found (expected a .keras file)")
    if not zipfile.is_zipfile(path):  # checked before Keras is imported: a quick refusal
        raise KfusionError(f"{path}: not a .keras model (expected the zip archive that keras.Model.save writes)")
    import keras

    for name in LAYER_MODULES + TRAINING_MODULES:
        importlib.import_module(name if "." in name else f"kfusion.models.{name}")
    try:
        model = keras.saving.load_model(str(path), compile=compile, safe_mode=True)
    except (ValueError, TypeError, KeyError, OSError, zipfile.BadZipFile) as e:
        raise KfusionError(f"{path}: refused or unreadable .keras ({one_line(e, 80)})") from None
    try:  # a Sequential saved before it was ever called has no inputs: Keras raises AttributeError on use
        model.inputs
    except AttributeError:
        raise KfusionError(f"{path}: a Keras {type(model).__name__} with no defined inputs (never built or "
                           "called); expected a kfusion model with an input (keras.Input)") from None
    return model


def uncompiled(model):
    """A copy of ``model`` (same weights) without any training set-up, nested networks included.

    ``clone_model`` keeps a nested network's compile config, and loading such a file needs kfusion's
    training losses: a deployable model must load with its layers alone.
    """
    copy = type(model).from_config(_drop_compile_configs(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy


def _drop_compile_configs(config):
    if isinstance(config, dict):
        return {k: _drop_compile_configs(v) for k, v in config.items() if k != "compile_config"}
    if isinstance(config, list):
        return [_drop_compile_configs(v) for v in config]
    return config


def save_model(model, path):
    """``model.save`` to a temporary ``.keras`` beside ``path``, then rename (nothing half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(str(tmp))
    tmp.replace(path)
