"""Training losses and metrics.

The pose loss is the authors' (official-code-notes.md): ``0.5 * mean over the batch of the sum over
the 3J coordinates of (y_hat - y)^2``, in mm^2, so that lambda = 5e3 in ``lambda / alpha^2`` keeps
the paper's balance between the data term and the sharpness penalty.

A fusion network that also learns from photographs with 2D joints only (``fusion.extra_records``)
gets packed targets (``kfusion.data.cache.pack_targets``: per joint x, y, z, w3, u, v, w2, wt). For those
the loss is the 3D term where the pose has 3D, and a *projection* term where it has 2D: the
predicted pose (camera frame) projected by the scaled orthographic camera that fits the labelled
joints best (least squares, the camera of ``kfusion.geometry.fit_orthographic``), its residuals
measured in mm of a person of nominal size (``NOMINAL_SPREAD_MM``). The term does not change when
the photograph's 2D joints are scaled or shifted (a crop) nor when the predicted pose is scaled,
so it teaches the shape of the pose, and the renders' 3D term its size and depth. Nothing in a
photograph's 2D says how long a bone is in depth, so photos also get a symmetry term
(``symmetry_loss``): a person's left and right bones are of equal length. Where a teacher's 3D is at
hand (``kfusion.data.teacher``, ``fusion.teacher_weight``: an eighth channel ``wt`` per joint), a
*teacher* term (``teacher_loss``) compares the predicted pose with it after centring both on the taught
joints and scaling the prediction: the teacher teaches the pose, depth included, not its body's size.
"""
import keras
from keras import ops

# Root-mean-square distance of the (x, y) of a Human3.6M-size pose's joints from their mean (447 mm
# over the renders' 17 joints): the projection term's residuals are scaled from the photograph's
# spread (px) to this, so that they weigh as much as 3D errors of a body of that size.
NOMINAL_SPREAD_MM = 450.0
# fewer labelled joints than this and the photograph adds nothing (a fit of 2 points is exact)
MIN_PROJECTION_JOINTS = 4


@keras.saving.register_keras_serializable(package="kfusion")
def pose_loss(y_true, y_pred, mirrored_bones=None):
    """0.5 * sum of squared coordinate errors per pose (mm^2): (B, J, 3) -> (B,); Keras averages over B.

    With packed targets (B, J, 7) (the module docstring): ``w3`` times that, plus the projection term
    and, for the poses without 3D, the symmetry term of ``mirrored_bones`` (the skeleton's
    ``mirrored_bones``; None: none). (B, J, 8): also the teacher term of the poses whose ``x, y, z``
    are a teacher's (``wt`` > 0).
    """
    y_true, y_pred = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
    if y_true.shape[-1] == 3:
        return 0.5 * ops.sum(ops.square(y_pred - y_true), axis=(-2, -1))
    pose, has_3d = y_true[..., :3], y_true[:, 0, 3]
    loss = has_3d * 0.5 * ops.sum(ops.square(y_pred - pose), axis=(-2, -1)) + \
        projection_loss(y_true[..., 4:6], y_true[..., 6], y_pred)
    if mirrored_bones:
        loss = loss + (1.0 - has_3d) * symmetry_loss(y_pred, mirrored_bones)
    if y_true.shape[-1] >= 8:
        loss = loss + (1.0 - has_3d) * teacher_loss(pose, y_true[..., 7], y_pred)
    return loss


def teacher_loss(teacher, weights, pose):
    """0.5 * sum over the taught joints of ``weights`` (B, J) times the squared distance (mm^2) between
    the ``teacher``'s pose (B, J, 3) and the predicted ``pose`` (B, J, 3), both centred on the taught
    joints' weighted mean and the prediction scaled by the least-squares factor onto the teacher's -> (B,);
    0 where nothing is taught."""
    w = weights[..., None]
    total = ops.maximum(ops.sum(w, axis=1, keepdims=True), 1e-6)
    Pc = pose - ops.sum(w * pose, axis=1, keepdims=True) / total
    Tc = teacher - ops.sum(w * teacher, axis=1, keepdims=True) / total
    s = ops.sum(w * Pc * Tc, axis=(1, 2)) / ops.maximum(ops.sum(w * Pc * Pc, axis=(1, 2)), 1e-6)
    return 0.5 * ops.sum(w * ops.square(s[:, None, None] * Pc - Tc), axis=(1, 2))


def symmetry_loss(pose, mirrored_bones):
    """0.5 * sum over mirrored bone pairs of (|left| - |right|)^2, mm^2: (B, J, 3) -> (B,)."""
    def lengths(side):  # (B, pairs): the bones of one side of each pair
        parent = [pair[side][0] for pair in mirrored_bones]
        child = [pair[side][1] for pair in mirrored_bones]
        d = ops.take(pose, child, axis=1) - ops.take(pose, parent, axis=1)
        return ops.sqrt(ops.sum(ops.square(d), axis=-1) + 1e-6)

    return 0.5 * ops.sum(ops.square(lengths(0) - lengths(1)), axis=-1)


def projection_loss(uv, weights, pose):
    """0.5 * sum over labelled joints of the squared residual of the best scaled orthographic
    projection of ``pose`` (B, J, 3) onto ``uv`` (B, J, 2) px, ``weights`` (B, J) 1 = labelled, in mm
    of a nominal body (module docstring) -> (B,); 0 for a pose with fewer than
    ``MIN_PROJECTION_JOINTS`` labelled joints."""
    w = weights[..., None]
    n = ops.sum(weights, axis=-1)
    safe_n = ops.maximum(n, 1.0)[:, None, None]
    P, x = pose[..., :2], uv
    Pc = P - ops.sum(w * P, axis=1, keepdims=True) / safe_n
    xc = x - ops.sum(w * x, axis=1, keepdims=True) / safe_n
    s = ops.sum(w * Pc * xc, axis=(1, 2)) / ops.maximum(ops.sum(w * Pc * Pc, axis=(1, 2)), 1e-6)
    spread = ops.sqrt(ops.sum(w * xc * xc, axis=(1, 2)) / ops.maximum(n, 1.0))  # px
    to_mm = NOMINAL_SPREAD_MM / ops.maximum(spread, 1e-3)
    residual = (s[:, None, None] * Pc - xc) * to_mm[:, None, None]
    loss = 0.5 * ops.sum(w * ops.square(residual), axis=(1, 2))
    return ops.where(n >= MIN_PROJECTION_JOINTS, loss, 0.0)


@keras.saving.register_keras_serializable(package="kfusion")
def heatmap_loss(y_true, y_pred):
    """Mean squared error over the heatmap pixels and joints: (B, h, h, J) -> (B,).

    A target map filled with -1 marks a joint without a label (occluded in a photograph, or not in
    the dataset's skeleton): its pixels add nothing (``make_dataset(mask_unlabelled=True)``).
    """
    y_true = ops.cast(y_true, "float32")
    d = ops.cast(y_pred, "float32") - y_true
    return ops.mean(ops.where(y_true >= 0, ops.square(d), 0.0), axis=(1, 2, 3))


def mpjpe_per_pose(y_true, y_pred, dtype="float32"):
    """Mean per-joint position error of each pose, mm: (..., J, 3) -> (...). The one MPJPE of kfusion
    (``kfusion.eval.metrics.mpjpe`` is this on numpy arrays, in float64)."""
    d = ops.cast(y_pred, dtype) - ops.cast(y_true, dtype)
    return ops.mean(ops.sqrt(ops.sum(ops.square(d), axis=-1)), axis=-1)


@keras.saving.register_keras_serializable(package="kfusion")
class MPJPE(keras.metrics.Mean):
    """Mean per-joint position error in mm over (B, J, 3) poses (root-relative targets)."""

    def __init__(self, name="mpjpe", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if y_true.shape[-1] != 3:  # packed targets (pose_loss): the poses that have 3D
            has_3d = ops.cast(y_true[:, 0, 3], "float32")
            sample_weight = has_3d if sample_weight is None else has_3d * ops.cast(sample_weight, "float32")
            y_true = y_true[..., :3]
        return super().update_state(mpjpe_per_pose(y_true, y_pred), sample_weight=sample_weight)
