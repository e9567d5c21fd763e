"""Training losses and metrics.

The pose loss is the authors' (official-code-notes.md): ``0.5 * mean over the batch of the sum over
the 3J coordinates of (y_hat - y)^2``, in mm^2, so that lambda = 5e3 in ``lambda / alpha^2`` keeps
the paper's balance between the data term and the sharpness penalty.
"""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kfusion")
def pose_loss(y_true, y_pred):
    """0.5 * sum of squared coordinate errors per pose (mm^2): (B, J, 3) -> (B,); Keras averages over B."""
    d = ops.cast(y_pred, "float32") - ops.cast(y_true, "float32")
    return 0.5 * ops.sum(ops.square(d), axis=(-2, -1))


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
        return super().update_state(mpjpe_per_pose(y_true, y_pred), sample_weight=sample_weight)
