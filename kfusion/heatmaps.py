"""Gaussian confidence maps: render joints into heatmaps and decode heatmaps back to joints.

Conventions (``docs/ARCHITECTURE.md``):
- Joints are continuous *heatmap* pixels with the corner convention: the map spans
  ``[0, h] x [0, h]`` and pixel (row i, col j) has its centre at ``(j + 0.5, i + 0.5)``.
- A crop pixel ``u`` of an input of size ``S`` sits at heatmap coordinate ``u * h / S``.
- A joint's map is ``exp(-|p - joint|^2 / (2 sigma^2))`` with ``sigma`` in heatmap pixels, so the
  continuous peak is 1 at the joint; an invisible joint (visibility 0) has an all-zero map.
- Maps are channels last: ``(..., h, h, J)``.

Decoding takes the arg-max pixel and refines it with a parabola fitted to the *log* values of the
3x3 neighbourhood along x and along y. The log of a separable Gaussian is a quadratic in x on
any row, so this refinement is exact for maps made by ``render_heatmaps``.

The numpy and TensorFlow versions compute the same thing; the TF ones are graph-friendly
(usable in ``tf.data`` ``map``, in Keras models and in TFLite exports: only elementwise ops,
argmax, gather and reshapes).
"""
import numpy as np

# Floor for log(): a zero neighbour must not produce -inf (log(1e-30) is finite in float32).
_LOG_FLOOR = 1e-30


def last_stack(outputs):
    """The prediction among an hourglass's outputs: the last stack's maps of a list (one per stack),
    the last by name of a dict, or the one tensor of a network with a single output."""
    if isinstance(outputs, (list, tuple)):
        return outputs[-1]
    if isinstance(outputs, dict):
        return outputs[sorted(outputs)[-1]]
    return outputs


def to_heatmap_coords(points, input_size, heatmap_size):
    """Crop pixels (..., 2) of an ``input_size`` square -> heatmap pixels (``u * h / S``)."""
    return np.asarray(points, dtype=np.float64) * (float(heatmap_size) / float(input_size))


def from_heatmap_coords(points, input_size, heatmap_size):
    """Heatmap pixels (..., 2) -> crop pixels of an ``input_size`` square (``v * S / h``)."""
    return np.asarray(points, dtype=np.float64) * (float(input_size) / float(heatmap_size))


def _check_render_args(joints_2d, size, sigma, visibility):
    joints_2d = np.asarray(joints_2d, dtype=np.float64)
    if joints_2d.ndim < 2 or joints_2d.shape[-1] != 2:
        raise ValueError(f"joints_2d has shape {joints_2d.shape}; expected (..., J, 2)")
    if int(size) != size or size < 1:
        raise ValueError(f"size is {size!r}; expected a positive integer (heatmap pixels)")
    if not sigma > 0:
        raise ValueError(f"sigma is {sigma!r}; expected > 0 (heatmap pixels)")
    visible = visible_joints(visibility, joints_2d)
    bad = visible & ~np.all(np.isfinite(joints_2d), axis=-1)
    if np.any(bad):
        raise ValueError(f"joints_2d has non-finite coordinates at visible joints "
                         f"(indices {np.argwhere(bad)[:5].tolist()}); mark them invisible")
    return joints_2d, int(size), float(sigma), visible


def visible_joints(visibility, joints, name="joints_2d"):
    """Boolean (..., J) mask of the joints with visibility > 0 (all of them when ``visibility`` is
    None); ValueError naming both shapes when ``visibility`` is not ``joints.shape[:-1]``."""
    joints = np.asarray(joints)
    if visibility is None:
        return np.ones(joints.shape[:-1], dtype=bool)
    visibility = np.asarray(visibility)
    if visibility.shape != joints.shape[:-1]:
        raise ValueError(f"visibility has shape {visibility.shape} but {name} has shape "
                         f"{joints.shape}; expected {joints.shape[:-1]}")
    return visibility > 0


def render_heatmaps(joints_2d, size, sigma=1.0, visibility=None):
    """Gaussian confidence maps for joints given in heatmap pixels.

    Args:
      joints_2d: (..., J, 2) float, (x, y) heatmap pixels, corner convention.
      size: heatmap side ``h`` in pixels.
      sigma: Gaussian std in heatmap pixels.
      visibility: optional (..., J); joints with visibility 0 get an all-zero map (their
        coordinates may then be NaN).

    Returns:
      float32 (..., size, size, J), values in [0, 1], 1 at the joint's continuous position.
    """
    joints_2d, size, sigma, visible = _check_render_args(joints_2d, size, sigma, visibility)
    joints_2d = np.where(visible[..., None], joints_2d, 0.0)
    centres = np.arange(size, dtype=np.float64) + 0.5
    # Separable: g(x, y) = gx(x) * gy(y); each factor is (..., J, size).
    gx = np.exp(-((centres - joints_2d[..., 0:1]) ** 2) / (2.0 * sigma**2)) * visible[..., None]
    gy = np.exp(-((centres - joints_2d[..., 1:2]) ** 2) / (2.0 * sigma**2))
    gx = np.swapaxes(gx, -1, -2)  # (..., W, J)
    gy = np.swapaxes(gy, -1, -2)  # (..., H, J)
    return (gy[..., :, None, :] * gx[..., None, :, :]).astype(np.float32)


def render_heatmaps_tf(joints_2d, size, sigma, visibility=None):
    """TensorFlow version of ``render_heatmaps`` (any leading batch dims, graph-friendly).

    Args: joints_2d (..., J, 2) heatmap px; size python int; sigma float (heatmap px);
    visibility optional (..., J). Returns float32 tensor (..., size, size, J).
    """
    import tensorflow as tf

    joints_2d = tf.convert_to_tensor(joints_2d, dtype=tf.float32)
    if visibility is None:
        visible = tf.ones_like(joints_2d[..., 0])
    else:
        visible = tf.cast(tf.convert_to_tensor(visibility) > 0, tf.float32)
    # Zero the coordinates of invisible joints so a NaN there cannot leak (0 * NaN = NaN).
    joints_2d = tf.where(visible[..., None] > 0, joints_2d, tf.zeros_like(joints_2d))
    centres = tf.range(size, dtype=tf.float32) + 0.5
    two_var = 2.0 * float(sigma) ** 2
    gx = tf.exp(-tf.square(centres - joints_2d[..., 0:1]) / two_var) * visible[..., None]
    gy = tf.exp(-tf.square(centres - joints_2d[..., 1:2]) / two_var)
    gx = tf.linalg.matrix_transpose(gx)  # (..., W, J)
    gy = tf.linalg.matrix_transpose(gy)  # (..., H, J)
    return gy[..., :, None, :] * gx[..., None, :, :]


def _log_parabola_offset(left, centre, right, interior):
    """Vertex offset in [-0.5, 0.5] of the parabola through log values at -1, 0, +1 (numpy)."""
    lm, l0, lp = (np.log(np.maximum(v, _LOG_FLOOR)) for v in (left, centre, right))
    curvature = lm - 2.0 * l0 + lp
    ok = interior & (curvature < 0)
    offset = 0.5 * (lm - lp) / np.where(ok, curvature, -1.0)
    return np.where(ok, np.clip(offset, -0.5, 0.5), 0.0)


def decode_heatmaps(heatmaps):
    """Joint positions and confidences from confidence maps (numpy).

    Args:
      heatmaps: (..., H, W, J) float.

    Returns:
      joints_2d: float64 (..., J, 2), (x, y) heatmap pixels (corner convention), sub-pixel.
      confidence: float64 (..., J), the peak (arg-max) value; 0 for an all-zero map, whose
        position is then the first pixel's centre (0.5, 0.5).
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float64)
    if heatmaps.ndim < 3:
        raise ValueError(f"heatmaps has shape {heatmaps.shape}; expected (..., H, W, J)")
    *lead, H, W, J = heatmaps.shape
    maps = np.moveaxis(heatmaps, -1, -3).reshape(*lead, J, H * W)  # (..., J, H*W)
    flat = np.argmax(maps, axis=-1)  # (..., J)
    row, col = flat // W, flat % W

    def at(r, c):
        idx = np.clip(r, 0, H - 1) * W + np.clip(c, 0, W - 1)
        return np.take_along_axis(maps, idx[..., None], axis=-1)[..., 0]

    peak = at(row, col)
    dx = _log_parabola_offset(at(row, col - 1), peak, at(row, col + 1), (col > 0) & (col < W - 1))
    dy = _log_parabola_offset(at(row - 1, col), peak, at(row + 1, col), (row > 0) & (row < H - 1))
    joints = np.stack([col + 0.5 + dx, row + 0.5 + dy], axis=-1)
    return joints, peak


def decode_heatmaps_tf(heatmaps):
    """TensorFlow version of ``decode_heatmaps`` (graph-friendly, TFLite-exportable).

    Args: heatmaps (..., H, W, J) float tensor with static H, W, J.
    Returns: (joints_2d float32 (..., J, 2) heatmap px, confidence float32 (..., J)).
    """
    import tensorflow as tf

    heatmaps = tf.convert_to_tensor(heatmaps, dtype=tf.float32)
    H, W, J = (int(d) for d in heatmaps.shape[-3:])
    lead = tf.shape(heatmaps)[:-3]
    maps = tf.reshape(heatmaps, [-1, H * W, J])
    maps = tf.transpose(maps, [0, 2, 1])  # (B, J, H*W)
    flat = tf.argmax(maps, axis=-1, output_type=tf.int32)  # (B, J)
    row, col = flat // W, flat % W

    def at(r, c):
        idx = tf.clip_by_value(r, 0, H - 1) * W + tf.clip_by_value(c, 0, W - 1)
        return tf.gather(maps, idx, batch_dims=2)

    def offset(left, centre, right, interior):
        lm, l0, lp = (tf.math.log(tf.maximum(v, _LOG_FLOOR)) for v in (left, centre, right))
        curvature = lm - 2.0 * l0 + lp
        ok = tf.logical_and(interior, curvature < 0)
        off = 0.5 * (lm - lp) / tf.where(ok, curvature, -tf.ones_like(curvature))
        return tf.where(ok, tf.clip_by_value(off, -0.5, 0.5), tf.zeros_like(off))

    peak = at(row, col)
    dx = offset(at(row, col - 1), peak, at(row, col + 1),
                tf.logical_and(col > 0, col < W - 1))
    dy = offset(at(row - 1, col), peak, at(row + 1, col),
                tf.logical_and(row > 0, row < H - 1))
    x = tf.cast(col, tf.float32) + 0.5 + dx
    y = tf.cast(row, tf.float32) + 0.5 + dy
    joints = tf.reshape(tf.stack([x, y], axis=-1), tf.concat([lead, [J, 2]], axis=0))
    confidence = tf.reshape(peak, tf.concat([lead, [J]], axis=0))
    return joints, confidence
