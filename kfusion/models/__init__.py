"""Keras layers and model builders: hourglass, fusion network, lifting baseline, pruning."""
import importlib

# Modules that register kfusion's Keras layers (imported before any model is loaded).
LAYER_MODULES = ("fusion_layer", "fusion", "hourglass", "lifting", "end_to_end")


def load_model(path, *, compile=False):
    """Load a kfusion ``.keras`` model with Keras ``safe_mode`` (no lambdas, no arbitrary code).

    kfusion's custom layers are registered first. ``compile=False``: the model is for inference or
    is compiled again by the trainer.
    """
    import keras

    for name in LAYER_MODULES:
        importlib.import_module(f"kfusion.models.{name}")
    return keras.saving.load_model(str(path), compile=compile, safe_mode=True)
