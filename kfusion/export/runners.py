"""Running kfusion's own artefacts: a Keras end-to-end model, an exported SavedModel (the TFLite
runner is ``kfusion.export.tflite.TFLiteRunner``), and loading a ``.keras`` or SavedModel for
``kfusion evaluate``.

A runner maps uint8 images (N, S, S, 3) to a dict of numpy outputs (``pose_3d``, ``pose_2d``, ...);
the export measures its parity and speed with them, and the runtime's estimator
(``kfusion.runtime.estimator``) predicts with them.
"""
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
        from kfusion.models import load_model

        model = load_model(path)  # kfusion's layers registered; safe_mode
        if len(model.inputs) != 1 or not _predicts_poses(model):
            raise KfusionError(f"{path}: a Keras model that does not output 3D poses; expected a kfusion "
                               "end-to-end (image -> pose_3d) or lifting model")
        return model
    saved = find_saved_model(path)
    import tensorflow as tf

    loaded = tf.saved_model.load(str(saved))
    fn = loaded.signatures["serving_default"]
    input_name = list(fn.structured_input_signature[1])[0]

    def call(images, training=False):
        return {k: v for k, v in fn(**{input_name: tf.convert_to_tensor(images)}).items()}

    call.inputs = [fn.structured_input_signature[1][input_name]]
    call.loaded = loaded  # the signature's variables live as long as the object that owns them
    return call


def _predicts_poses(model):
    """True for a model whose output is ``pose_3d``: a dict holding it, or one (None, J, 3) tensor."""
    if isinstance(model.output, dict):
        return "pose_3d" in model.output
    return len(model.outputs) == 1 and len(model.outputs[0].shape) == 3 and model.outputs[0].shape[-1] == 3


def find_saved_model(path):
    """The SavedModel folder at ``path`` or its newest numeric version sub-folder."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    versions = sorted((p for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").is_file()),
                      key=lambda p: int(p.name)) if path.is_dir() else []
    if not versions:
        raise KfusionError(f"{path}: not a model (expected a .keras or .tflite file, or a SavedModel folder)")
    return versions[-1]


def saved_model_runner(folder):
    """(``run(images)`` -> dict of numpy outputs, input side S px) for the SavedModel in ``folder``;
    ``images`` uint8 (N, S, S, 3)."""
    import tensorflow as tf

    fn = tf.saved_model.load(str(folder)).signatures["serving_default"]
    spec = fn.structured_input_signature[1]
    if "image" not in spec:
        raise KfusionError(f"{folder}: serving_default has inputs {sorted(spec)}; expected 'image'")

    def run(images):
        return {k: v.numpy() for k, v in fn(image=tf.constant(images, tf.uint8)).items()}

    return run, int(spec["image"].shape[1])


def keras_model_runner(model):
    """``run(images)`` -> dict of numpy outputs of a Keras end-to-end model; ``images`` uint8 (N, S, S, 3)."""
    import tensorflow as tf

    call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def run(images):
        return {k: v.numpy() for k, v in call(tf.constant(images, tf.uint8)).items()}

    return run


def keras_file_runner(path):
    """(``run(images)``, input side S px) for the end-to-end ``.keras`` at ``path`` (a file or a run
    folder; Keras safe mode)."""
    from kfusion.export.saved_model import load_end_to_end

    model = load_end_to_end(path)
    return keras_model_runner(model), int(model.inputs[0].shape[1])
