"""SavedModel export in the TF Serving layout, and finding the end-to-end model to export.

Layout: ``NAME/<version>/saved_model.pb`` + ``variables/``, one ``serving_default`` signature:
input ``image`` uint8 (None, S, S, 3); outputs ``pose_3d`` (None, J, 3) mm root-relative,
``pose_2d`` (None, Jh, 2) crop px, ``confidence`` (None, Jh), ``heatmaps`` (None, h, h, Jh).
"""
import shutil
import tempfile
from pathlib import Path

from kfusion import skeletons
from kfusion.errors import KfusionError
from kfusion.io import replace_dir

SIGNATURE = "serving_default"
END_TO_END_NAMES = ("end_to_end.keras",)


def find_end_to_end(path):
    """The end-to-end ``.keras`` at ``path``: the file, or inside a run folder.

    A run folder is searched for ``fusion-trainable/end_to_end.keras``, then any
    ``*/end_to_end.keras`` and ``end_to_end.keras`` (newest first).
    """
    path = Path(path)
    if path.is_file():
        if path.suffix != ".keras":
            raise KfusionError(f"{path}: expected an end-to-end .keras model or a run folder")
        return path
    if path.is_dir():
        preferred = path / "fusion-trainable" / "end_to_end.keras"
        if preferred.is_file():
            return preferred
        found = sorted([*path.glob("end_to_end.keras"), *path.glob("*/end_to_end.keras")],
                       key=lambda p: p.stat().st_mtime, reverse=True)
        if found:
            return found[0]
    raise KfusionError(f"{path}: no end-to-end model (expected a .keras file or a run folder with "
                       "fusion-*/end_to_end.keras)")


def load_end_to_end(path):
    """Load an end-to-end ``.keras`` (Keras safe mode: no lambdas or arbitrary code)."""
    from kfusion.models import load_model

    path = find_end_to_end(path)
    model = load_model(path)  # KfusionError for a file that is not a .keras or that safe mode refuses
    check_end_to_end(model, path)
    return model


def check_end_to_end(model, origin="model"):
    """Raise KfusionError unless ``model`` maps uint8 (N, S, S, 3) to the end-to-end outputs."""
    inp = model.inputs[0]
    shape = tuple(inp.shape)
    if len(model.inputs) != 1 or len(shape) != 4 or shape[3] != 3 or shape[1] != shape[2] or shape[1] is None:
        raise KfusionError(f"{origin}: input shape {shape}; expected one image input (None, S, S, 3)")
    names = set(model.output.keys()) if isinstance(model.output, dict) else set()
    missing = {"pose_3d", "pose_2d", "confidence"} - names
    if missing:
        raise KfusionError(f"{origin}: outputs {sorted(names) or 'unnamed'} lack {sorted(missing)}; expected "
                           "an end-to-end model (kfusion.models.end_to_end.build_end_to_end)")


def model_info(model):
    """Sizes and skeletons of an end-to-end model (what ``kfusion.json`` records)."""
    import keras

    out = model.output
    size = int(model.inputs[0].shape[1])
    num_3d, num_2d = int(out["pose_3d"].shape[1]), int(out["pose_2d"].shape[1])
    info = {"input_size": size, "num_joints_3d": num_3d, "num_joints_2d": num_2d,
            "heatmap_size": int(out["heatmaps"].shape[1]) if "heatmaps" in out else None,
            "skeleton_3d": _skeleton_for(num_3d, "h36m17"), "skeleton_2d": _skeleton_for(num_2d, "mpii16"),
            "outputs": sorted(out)}
    # the 3D network inside: a fusion network (pruned or not) or the lifting baseline
    inner = [layer.name for layer in model.layers if isinstance(layer, keras.Model)]
    info["networks"] = inner
    info["fusion_pruned"] = any(n.endswith("_pruned") for n in inner)
    # the hourglass's test-time views: the maps averaged with the mirror image's, and a zoomed view's
    views = [layer for net in model.layers if isinstance(net, keras.Model) for layer in net.layers]
    info["flip_test"] = any(type(v).__name__ == "Mirror" for v in views)
    zooms = [v.zoom for v in views if type(v).__name__ == "CentralZoom" and v.zoom < 1.0]
    info["zoom_test"] = zooms[0] if zooms else None
    info["pose_flip_test"] = any(type(layer).__name__ == "MirrorPose" for layer in model.layers)  # 3D mirror mean
    info["joints_3d"] = _joint_names(info["skeleton_3d"], num_3d)
    info["joints_2d"] = _joint_names(info["skeleton_2d"], num_2d)
    return info


def _skeleton_for(n, preferred):
    if skeletons.get(preferred).num_joints == n:
        return preferred
    for name, s in skeletons.SKELETONS.items():
        if s.num_joints == n:
            return name
    return None


def _joint_names(skeleton, n):
    return list(skeletons.get(skeleton).joints) if skeleton else [f"joint{i}" for i in range(n)]


def write_saved_model(model, out_dir, outputs=None):
    """Write ``model`` as a SavedModel at ``out_dir`` (replaced atomically) with ``serving_default``.

    The signature's input is ``image`` uint8 (None, S, S, 3); its outputs are the model's dict
    outputs (``outputs`` restricts them). Returns ``out_dir``.
    """
    import keras
    import tensorflow as tf

    out_dir = Path(out_dir)
    size = int(model.inputs[0].shape[1])
    names = tuple(outputs or sorted(model.output))
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(image):
        result = model(image, training=False)
        return {k: result[k] for k in names}

    archive.add_endpoint("serve", serve,
                         input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8, name="image")])
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        archive.write_out(str(tmp / "sm"), verbose=False)
        replace_dir(tmp / "sm", out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def signature_summary(saved_dir):
    """Input/output names, dtypes and shapes of ``serving_default`` (``tf.saved_model.load``)."""
    import tensorflow as tf

    fn = tf.saved_model.load(str(saved_dir)).signatures[SIGNATURE]
    inputs = {k: (v.dtype.name, v.shape.as_list()) for k, v in fn.structured_input_signature[1].items()}
    outputs = {k: (v.dtype.name, v.shape.as_list()) for k, v in fn.structured_outputs.items()}
    return {"inputs": inputs, "outputs": outputs}
