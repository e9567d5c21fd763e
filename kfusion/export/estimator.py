"""Loading exported kfusion models: `.keras` files (safe mode) and SavedModel folders."""
from pathlib import Path

from kfusion.errors import KfusionError


def load_keras_or_saved(path):
    """A callable model from a ``.keras`` file (loaded with Keras ``safe_mode``) or a SavedModel.

    A SavedModel folder may be the TF Serving layout ``NAME/<version>/saved_model.pb``; the newest
    version is used. The callable maps a uint8 image batch to a dict with ``pose_3d``.
    """
    path = Path(path)
    if path.suffix == ".keras":
        if not path.is_file():
            raise KfusionError(f"{path}: model file not found (expected a .keras file)")
        import keras

        import kfusion.models  # noqa: F401  (registers kfusion's custom layers)

        return keras.saving.load_model(str(path), safe_mode=True)
    saved = find_saved_model(path)
    import tensorflow as tf

    loaded = tf.saved_model.load(str(saved))
    fn = loaded.signatures["serving_default"]
    input_name = list(fn.structured_input_signature[1])[0]

    def call(images, training=False):
        return {k: v for k, v in fn(**{input_name: tf.convert_to_tensor(images)}).items()}

    call.inputs = [fn.structured_input_signature[1][input_name]]
    return call


def find_saved_model(path):
    """The SavedModel folder at ``path`` or its newest numeric version sub-folder."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    versions = sorted((p for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").is_file()),
                      key=lambda p: int(p.name)) if path.is_dir() else []
    if not versions:
        raise KfusionError(f"{path}: not a model (expected a .keras file, a SavedModel folder with "
                           "saved_model.pb, or a TF Serving folder NAME/<version>/saved_model.pb)")
    return versions[-1]
