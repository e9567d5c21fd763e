"""One deployable model: an RGB crop (uint8) in, the 3D pose, 2D joints and confidences out.

    image uint8 (N, S, S, 3)
      -> /255 -> hourglass -> last confidence maps (N, h, h, Jh)
           -> decode (arg-max + log-parabola)  -> pose_2d (N, Jh, 2) crop px, confidence (N, Jh)
           -> bilinear resize to Sf            -> heatmaps input of the fusion network
      -> antialiased resize to Sf              -> image input of the fusion network
      -> (pruned) fusion network               -> pose_3d (N, J, 3) mm, root-relative

The sub-models are called with ``training=False`` (recorded in the graph) because the model is for
inference: ``model(x)`` is deterministic (without it a plain call of the functional model applied
the fusion network's dropout). Pass ``training=True`` only to fine-tune, at your own risk.

The resizes reproduce the training pipeline exactly (``kfusion.data.cache.predict_cache`` and
``fusion_dataset``: ``tf.image.resize`` with ``antialias=True`` for the image, plain bilinear for the
maps). The antialiased resize is written as two matrix products so that TFLite converts it with
builtin ops (TF's ``ScaleAndTranslate`` kernel has no TFLite counterpart).
"""
import warnings

import keras
import numpy as np

from kfusion.heatmaps import decode_heatmaps_tf, last_stack
from kfusion.models.hourglass import Mirror, separable_resample

OUTPUTS = ("pose_3d", "pose_2d", "confidence", "heatmaps")

def antialias_resize_matrix(n_in, n_out):
    """(n_out, n_in) float32 matrix of a 1D ``tf.image.resize(..., antialias=True)`` (bilinear).

    TensorFlow's ``ScaleAndTranslate`` with the triangle kernel: output sample ``o`` sits at input
    coordinate ``x = (o + 0.5) n_in / n_out`` (corner convention); when shrinking, the kernel is
    widened by ``n_in / n_out``; weights are renormalised over the input pixels that exist.
    """
    n_in, n_out = int(n_in), int(n_out)
    if n_in < 1 or n_out < 1:
        raise ValueError(f"antialias_resize_matrix: sizes {n_in} -> {n_out}; expected >= 1")
    inv_scale = n_in / n_out
    kernel_scale = max(inv_scale, 1.0)
    out = np.zeros((n_out, n_in), dtype=np.float64)
    centres = np.arange(n_in) + 0.5
    for o in range(n_out):
        x = (o + 0.5) * inv_scale
        w = np.maximum(0.0, 1.0 - np.abs(centres - x) / kernel_scale)
        total = w.sum()
        if total > 1e3 * np.finfo(np.float32).eps:
            out[o] = w / total
    return out.astype(np.float32)


@keras.saving.register_keras_serializable(package="kfusion")
class AntialiasResize(keras.layers.Layer):
    """Antialiased bilinear resize (N, H, W, C) -> (N, size, size, C), as two matrix products.

    Equal (to float32 round-off) to ``tf.image.resize(x, (size, size), antialias=True)``; made of
    transposes, reshapes and matmuls, which TFLite converts to builtin ops.
    """

    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)

    def build(self, input_shape):
        _, h, w, c = input_shape
        if h is None or w is None or c is None:
            raise ValueError(f"AntialiasResize: input shape {input_shape}; expected static H, W, C")
        self._rows = antialias_resize_matrix(h, self.size).T.copy()  # (H, size)
        self._cols = antialias_resize_matrix(w, self.size).T.copy()  # (W, size)
        self.built = True

    def call(self, x):
        return separable_resample(x, self._rows, self._cols)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@keras.saving.register_keras_serializable(package="kfusion")
class HeatmapDecode(keras.layers.Layer):
    """Confidence maps (N, h, h, J) -> joints (N, J, 2) in *input* pixels and confidences (N, J).

    ``kfusion.heatmaps.decode_heatmaps_tf`` (arg-max and log-parabola refinement), then scaled by
    ``input_size / h`` (corner convention, ARCHITECTURE.md). Map values are first floored at
    ``MAP_FLOOR`` (1e-4): the decoder's own log floor (1e-30) is 0 in float16, and the float16
    TFLite variant stores constants in float16, where log(0) would give NaN joints. A floor that
    small changes the refinement only for maps sharper than any Gaussian of sigma >= 0.3 px, and
    a confidence below it reads as 1e-4.
    """

    MAP_FLOOR = 1e-4

    def __init__(self, input_size, **kwargs):
        super().__init__(**kwargs)
        self.input_size = int(input_size)

    def call(self, heatmaps):
        h = int(heatmaps.shape[1])
        joints, confidence = decode_heatmaps_tf(keras.ops.maximum(heatmaps, self.MAP_FLOOR))
        return joints * (self.input_size / h), confidence

    def compute_output_shape(self, input_shape):
        n, _, _, j = input_shape
        return (n, j, 2), (n, j)

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size}


def _last_maps(hourglass, x):
    maps = last_stack(hourglass(x, training=False))
    return keras.layers.Activation("linear", dtype="float32", name="heatmaps")(maps)


def _input_size(model, name="image"):
    inputs = model.inputs if isinstance(model.inputs, (list, tuple)) else [model.inputs]
    named = [t for t in inputs if name in getattr(t, "name", "")] or inputs[:1]
    shape = named[0].shape
    if shape[1] is None or shape[1] != shape[2]:
        raise ValueError(f"model {model.name!r}: input {name!r} has shape {shape}; expected (None, S, S, C)")
    return int(shape[1])


def prune_or_keep(fusion):
    """The pruned fusion network, or ``fusion`` itself (with a warning) when it cannot be pruned."""
    try:
        from kfusion.models.pruning import prune
    except ImportError as e:  # pruning is optional for building; the network is then used as is
        warnings.warn(f"kfusion.models.pruning is not available ({e}); using the unpruned fusion network",
                      stacklevel=3)
        return fusion
    try:
        return prune(fusion)
    except ValueError as e:  # e.g. fusion weights not binary (0/1) yet
        warnings.warn(f"fusion network {fusion.name!r} kept unpruned: {e}", stacklevel=3)
        return fusion


@keras.saving.register_keras_serializable(package="kfusion")
class MirrorPose(keras.layers.Layer):
    """The 3D pose (N, J, 3) of the mirror image: x negated (camera frame), left and right joints
    relabelled with ``permutation`` (the 3D skeleton's ``flip_permutation``)."""

    def __init__(self, permutation, **kwargs):
        super().__init__(**kwargs)
        self.permutation = [int(i) for i in permutation]
        if sorted(self.permutation) != list(range(len(self.permutation))):
            raise ValueError(f"MirrorPose: permutation {self.permutation} is not a permutation of 0..J-1")

    def call(self, pose):
        o = keras.ops
        swapped = o.take(pose, o.convert_to_tensor(np.asarray(self.permutation, np.int32)), axis=1)
        return swapped * o.convert_to_tensor(np.array([-1.0, 1.0, 1.0], np.float32), dtype=pose.dtype)

    def get_config(self):
        return {**super().get_config(), "permutation": self.permutation}


def build_end_to_end(hourglass, fusion, *, prune_fusion=True, mirror_3d=None, name="kfusion"):
    """One Keras model from an RGB crop to 3D and 2D pose.

    Args:
        hourglass: ``build_hourglass`` model, input (S, S, 3) float in [0, 1], outputs one map
            tensor (h, h, Jh) per stack (the last is used).
        fusion: ``build_fusion_network`` model with inputs ``image`` (Sf, Sf, 3) and ``heatmaps``
            (Sf, Sf, Jh), output ``pose_3d`` (J, 3) mm.
        prune_fusion: replace ``fusion`` by ``kfusion.models.pruning.prune(fusion)`` (the compact
            test-time network); falls back to ``fusion`` with a warning if it cannot be pruned.
        mirror_3d: ``(maps permutation, 3D permutation)`` (the skeletons' ``flip_permutation``): the
            3D pose is the mean of the fusion network's on the crop and, mirrored back
            (``MirrorPose``), on the mirrored crop and maps (one more fusion pass; the maps are not
            computed again: the hourglass's mirror- and zoom-tested maps of a mirrored crop are
            its maps mirrored). None: the crop alone.

    Returns:
        ``keras.Model`` with input ``image`` uint8 (N, S, S, 3) and a dict of outputs:
        ``pose_3d`` float32 (N, J, 3) mm root-relative (camera frame), ``pose_2d`` float32 (N, Jh, 2)
        crop pixels of the S x S input, ``confidence`` float32 (N, Jh) (peak map values),
        ``heatmaps`` float32 (N, h, h, Jh) (the last stack's confidence maps).
    """
    size = _input_size(hourglass)
    fusion_size = _input_size(fusion, "image")
    if prune_fusion:
        fusion = prune_or_keep(fusion)
    image = keras.Input((size, size, 3), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="to_unit_range")(image)
    maps = _last_maps(hourglass, x)
    pose_2d, confidence = HeatmapDecode(size, name="decode")(maps)
    maps_f = keras.layers.Resizing(fusion_size, fusion_size, interpolation="bilinear", name="maps_resize")(maps)
    image_f = AntialiasResize(fusion_size, name="image_resize")(x)
    pose_3d = _pose(fusion({"image": image_f, "heatmaps": maps_f}, training=False))
    if mirror_3d is not None:
        perm_maps, perm_3d = mirror_3d
        mirrored = fusion({"image": Mirror(name="mirror_image_f")(image_f),
                           "heatmaps": Mirror(perm_maps, name="mirror_maps_f")(maps_f)}, training=False)
        back = MirrorPose(perm_3d, name="mirror_pose")(_pose(mirrored))
        pose_3d = keras.layers.Average(name="pose_mirror_mean")([pose_3d, back])
    return keras.Model(image, _named(pose_3d, pose_2d, confidence, maps), name=name)


def _pose(out):
    return out["pose_3d"] if isinstance(out, dict) else out


def build_end_to_end_lifting(hourglass, lifting, *, name="kfusion_lifting"):
    """The lifting baseline end to end: crop -> hourglass -> decoded 2D joints -> MLP -> 3D pose.

    ``lifting`` takes ``joints_2d`` (Jh, 2) normalised to [-1, 1] over the crop (as
    ``kfusion.data.cache.lifting_inputs``). Same inputs and outputs as :func:`build_end_to_end`.
    """
    size = _input_size(hourglass)
    image = keras.Input((size, size, 3), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="to_unit_range")(image)
    maps = _last_maps(hourglass, x)
    pose_2d, confidence = HeatmapDecode(size, name="decode")(maps)
    normalised = keras.layers.Rescaling(2.0 / size, offset=-1.0, name="normalise_2d")(pose_2d)
    lift_input = lifting.inputs[0] if isinstance(lifting.inputs, (list, tuple)) else lifting.inputs
    input_name = getattr(lift_input, "name", "joints_2d").split(":")[0]
    pose_3d = lifting({input_name: normalised} if isinstance(lifting.input, dict) else normalised, training=False)
    return keras.Model(image, _named(pose_3d, pose_2d, confidence, maps), name=name)


def _named(pose_3d, pose_2d, confidence, maps):
    pose_3d = _pose(pose_3d)
    ident = lambda n: keras.layers.Activation("linear", dtype="float32", name=n)  # noqa: E731
    return {"pose_3d": ident("pose_3d")(pose_3d), "pose_2d": ident("pose_2d")(pose_2d),
            "confidence": ident("confidence")(confidence), "heatmaps": maps}
