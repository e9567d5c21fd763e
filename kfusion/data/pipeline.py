"""tf.data pipelines from record shards to ``(features, targets[, meta])`` batches.

Every geometric augmentation is one affine map ``A`` (3x3, record crop px -> input crop px,
corner convention) applied to the image and the 2D joints, and one orthogonal map ``M`` (3x3)
applied to the 3D joints (camera frame, mm). The intrinsics follow as ``K' = A K M^T``, so
``K' (M X) = A (K X)``: the augmented 3D pose projects exactly onto the augmented 2D joints.

- Crop/scale (with probability ``crop_prob``): a square window of side ``s * S`` (``s`` uniform in
  ``scale``, ``S`` the record size) whose centre moves by up to ``translate * S`` from the frame
  centre on each axis; otherwise the whole frame. The window is resized to ``input_size``. The 3D
  pose is unchanged (``M = I``): a crop only changes the intrinsics.
- Rotation by ``theta`` (uniform in ``+-rotate_deg``) of the image about the crop centre; the 3D
  pose rotates by ``theta`` about the camera's optical axis (z). A rotation about the principal
  point would be exactly this 3D rotation; rotating about another point adds an image
  translation, which ``K' = A K R_z^T`` absorbs into the principal point (for ``fx == fy`` the new
  K is again ``[[f', 0, c'x], [0, f', c'y], [0, 0, 1]]``; otherwise it gains off-diagonal terms
  and stays exact as a 3x3 projection).
- Horizontal flip: ``x -> S - x`` in the image, ``X -> -X`` in 3D (``cx -> S - cx``), and the
  left/right joints swap (``skeleton.flip_permutation``).
- Colour jitter (brightness, contrast, saturation, hue) on the image only.
- Joints that leave the crop get visibility 0.

The training pipeline batches decoded uint8 crops first and augments whole batches (one
``ImageProjectiveTransformV3`` warp per batch, batched matrix products for joints).
"""
import math

import numpy as np

from kfusion import config as _config
from kfusion import skeletons as _skeletons
from kfusion.data import records as _records
from kfusion.errors import KfusionError

# The authors' augmentation (official-code-notes.md): with probability 0.7 a random 112/128 crop,
# otherwise the whole frame; no flip, rotation or colour changes. The config's defaults, one copy.
DEFAULT_AUGMENT = _config.DEFAULTS["augment"]
COLOR_KEYS = ("brightness", "contrast", "saturation", "hue")
# Photographs differ from the training set in more than colour: camera response (gamma), black and
# white, focus and motion (blur), sensor noise in low light, JPEG blocks, light from one side or a
# dark room. Each key is a probability or a strength (see ``photometric``); a scalar ``p`` sets them all.
PHOTOMETRIC_KEYS = ("greyscale", "gamma", "blur", "noise", "jpeg", "lighting")
_PHOTOMETRIC_SCALE = {"greyscale": 0.3, "gamma": 1.0, "blur": 1.0, "noise": 1.0, "jpeg": 1.0, "lighting": 1.0}

_SHUFFLE_BUFFER = 1024


def _tf():
    import tensorflow as tf

    return tf


def _strengths(value, name, scale):
    """``augment.<name>``: a dict of some of ``scale``'s keys, or one strength ``c`` -> ``{key: c * scale[key]}``."""
    if isinstance(value, dict):
        bad = sorted(set(value) - set(scale))
        if bad:
            raise KfusionError(f"augment.{name} has unknown key(s) {bad}; allowed keys {list(scale)}")
        return {k: float(value.get(k, 0.0)) for k in scale}
    return {k: float(value) * f for k, f in scale.items()}


def check_augment(augment):
    """Validate an augmentation dict (missing keys take ``DEFAULT_AUGMENT``) -> normalised dict.

    Keys: ``crop_prob`` in [0, 1]; ``scale`` [lo, hi] crop side as a fraction of the record frame;
    ``translate`` max crop-centre shift as a fraction of the frame; ``rotate_deg`` max |angle| in
    degrees; ``flip`` bool (probability 0.5) or a probability; ``color`` a strength ``c``
    (brightness, contrast and saturation factors in ``[1 - c, 1 + c]``, hue shift ``+-c/4`` of a
    turn) or a dict with keys ``brightness``, ``contrast``, ``saturation``, ``hue``;
    ``photometric`` a strength ``p`` in [0, 1] or a dict of ``PHOTOMETRIC_KEYS`` (see
    :func:`photometric`); ``occlude`` the probability of one occluder per image (:func:`occlude`);
    ``part_crop`` the probability that the crop is of a part of the body (:func:`random_transforms`).
    """
    augment = {} if augment is None else dict(augment)
    unknown = sorted(set(augment) - set(DEFAULT_AUGMENT))
    if unknown:
        raise KfusionError(f"augment has unknown key(s) {unknown}; allowed keys {sorted(DEFAULT_AUGMENT)}")
    a = {**DEFAULT_AUGMENT, **augment}
    out = {}
    try:
        out["crop_prob"] = float(a["crop_prob"])
        lo, hi = (float(v) for v in a["scale"])
        out["scale"] = (lo, hi)
        out["translate"] = float(a["translate"])
        out["rotate_deg"] = float(a["rotate_deg"])
        out["flip"] = 0.5 if a["flip"] is True else 0.0 if a["flip"] is False else float(a["flip"])
        out["color"] = _strengths(a["color"], "color", {"brightness": 1.0, "contrast": 1.0, "saturation": 1.0,
                                                        "hue": 0.25})
        out["photometric"] = _strengths(a["photometric"], "photometric", _PHOTOMETRIC_SCALE)
        out["occlude"] = float(a["occlude"])
        out["part_crop"] = float(a["part_crop"])
    except (TypeError, ValueError) as e:
        if isinstance(e, KfusionError):
            raise
        raise KfusionError(f"augment {augment!r} has a bad value ({e}); expected e.g. {DEFAULT_AUGMENT}") from None
    probs = {k: out[k] for k in ("crop_prob", "flip", "occlude", "part_crop")}
    if not all(0.0 <= v <= 1.0 for v in probs.values()):
        raise KfusionError(f"augment {probs}; expected probabilities in [0, 1]")
    if not all(0.0 <= v <= 1.0 for v in out["photometric"].values()):
        raise KfusionError(f"augment.photometric is {out['photometric']}; expected values in [0, 1]")
    if not 0.0 < lo <= hi:
        raise KfusionError(f"augment scale is {a['scale']!r}; expected [lo, hi] with 0 < lo <= hi")
    if out["translate"] < 0 or out["rotate_deg"] < 0 or min(out["color"].values()) < 0:
        raise KfusionError(f"augment {augment!r}: translate, rotate_deg and color must be >= 0")
    return out


# --------------------------------------------------------------------------- transforms (TF)

def _uniform(seed, k, shape, lo=0.0, hi=1.0):
    """Stateless uniform draws of stream ``k`` of ``seed`` (int64 scalar tensor)."""
    tf = _tf()
    return tf.random.stateless_uniform(shape, seed=tf.stack([tf.cast(seed, tf.int64), tf.constant(k, tf.int64)]),
                                       minval=lo, maxval=hi)


def random_transforms(seed, batch, augment, record_size, input_size, joints=None, visibility=None, parts=None):
    """Random augmentation maps for one batch.

    Args:
      seed: int64 scalar tensor (stateless randomness).
      batch: int32 scalar, the batch size B.
      augment: a ``check_augment`` dict.
      record_size, input_size: ``S`` of the records and of the model input, px.
      joints, visibility, parts: for ``augment["part_crop"]``: the 2D joints (B, J, 2) record px, their
        visibility (B, J) and float masks (P, J) of the body parts (``skeletons.BODY_PARTS``). With that
        probability a sample's window is instead the square of 1.15-1.5 x the extent of one part's
        visible joints (a person cut at the waist or the knees, as photographs often show them), its
        centre jittered by up to 10 % of the side; samples with fewer than 3 such joints keep the
        ordinary window.
    Returns: ``A`` float32 (B, 3, 3) record px -> input px, ``M`` float32 (B, 3, 3) for 3D joints,
    ``flip`` bool (B,).
    """
    tf = _tf()
    seed = tf.cast(seed, tf.int64)

    S, out = float(record_size), float(input_size)
    crop = _uniform(seed, 0, [batch], 0.0, 1.0) < augment["crop_prob"]
    lo, hi = augment["scale"]
    scale = tf.where(crop, _uniform(seed, 1, [batch], lo, hi), 1.0)
    t = augment["translate"]
    shift = tf.where(crop[:, None], _uniform(seed, 2, [batch, 2], -t, t), 0.0) * S
    side = scale * S
    origin = S / 2 + shift - side[:, None] / 2  # window's top-left corner, record px
    if augment.get("part_crop", 0.0) > 0 and joints is not None:
        part = tf.random.stateless_categorical(tf.zeros([batch, parts.shape[0]]), 1,
                                               seed=tf.stack([seed, tf.constant(5, tf.int64)]))[:, 0]
        use = tf.gather(tf.convert_to_tensor(parts, tf.float32), part) * tf.cast(visibility > 0, tf.float32)
        big = 1e9
        lo_xy = tf.reduce_min(tf.where(use[..., None] > 0, joints, big), axis=1)
        hi_xy = tf.reduce_max(tf.where(use[..., None] > 0, joints, -big), axis=1)
        p_side = tf.reduce_max(hi_xy - lo_xy, axis=-1) * _uniform(seed, 6, [batch], 1.15, 1.5)
        p_centre = (lo_xy + hi_xy) / 2 + _uniform(seed, 7, [batch, 2], -0.1, 0.1) * p_side[:, None]
        on = (_uniform(seed, 8, [batch], 0.0, 1.0) < augment["part_crop"]) & (tf.reduce_sum(use, -1) >= 3) & (p_side > 4.0)
        side = tf.where(on, p_side, side)
        origin = tf.where(on[:, None], p_centre - p_side[:, None] / 2, origin)
    k = out / side
    zero, one = tf.zeros_like(k), tf.ones_like(k)
    C = tf.stack([tf.stack([k, zero, -origin[:, 0] * k], -1),
                  tf.stack([zero, k, -origin[:, 1] * k], -1),
                  tf.stack([zero, zero, one], -1)], axis=1)
    theta = _uniform(seed, 3, [batch], -1.0, 1.0) * math.radians(augment["rotate_deg"])
    A = tf.matmul(rotation_about(theta, out / 2), C)
    flip = _uniform(seed, 4, [batch], 0.0, 1.0) < augment["flip"]
    A = tf.where(flip[:, None, None], tf.matmul(_flip_matrix(out)[None], A), A)
    M = tf.matmul(_flip3(flip), _rotation_z(theta))
    return A, M, flip


def rotation_about(theta, centre):
    """(B, 3, 3) image rotation by ``theta`` (B,) radians about the point (centre, centre) px."""
    tf = _tf()
    c, s = tf.cos(theta), tf.sin(theta)
    zero, one = tf.zeros_like(c), tf.ones_like(c)
    return tf.stack([tf.stack([c, -s, centre - c * centre + s * centre], -1),
                     tf.stack([s, c, centre - s * centre - c * centre], -1),
                     tf.stack([zero, zero, one], -1)], axis=1)


def _rotation_z(theta):
    tf = _tf()
    c, s = tf.cos(theta), tf.sin(theta)
    zero, one = tf.zeros_like(c), tf.ones_like(c)
    return tf.stack([tf.stack([c, -s, zero], -1), tf.stack([s, c, zero], -1),
                     tf.stack([zero, zero, one], -1)], axis=1)


def _flip_matrix(size):
    tf = _tf()
    return tf.constant([[-1.0, 0.0, size], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], tf.float32)


def _flip3(flip):
    tf = _tf()
    sx = tf.where(flip, -1.0, 1.0)
    return tf.linalg.diag(tf.stack([sx, tf.ones_like(sx), tf.ones_like(sx)], -1))


def warp_images(images, A, output_size, axis_aligned=False):
    """Warp a batch (B, H, W, C) by the affine maps ``A`` (B, 3, 3), corner-convention px.

    Bilinear, black outside the source. Returns (B, output_size, output_size, C), same dtype.
    ``axis_aligned=True`` promises that every ``A`` only scales (possibly negatively, a flip) and
    translates; it then uses ``crop_and_resize``, about 3x faster than the general warp. The two
    agree wherever the window lies inside the source; in the last half pixel beyond a source edge
    ``crop_and_resize`` gives black where the general warp still blends in the edge pixels.
    """
    tf = _tf()
    if axis_aligned:
        out = _crop_and_resize(images, A, output_size)
        if images.dtype == tf.uint8:
            return tf.cast(tf.clip_by_value(tf.round(out), 0.0, 255.0), tf.uint8)
        return tf.cast(out, images.dtype)
    # The op maps output *index* coordinates to input ones: shift by half a pixel either side.
    half = tf.constant([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    unhalf = tf.constant([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
    T = tf.matmul(unhalf[None], tf.matmul(tf.linalg.inv(A), half[None]))
    T = T / T[:, 2:3, 2:3]
    flat = tf.reshape(T, [-1, 9])[:, :8]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=flat, output_shape=tf.constant([output_size, output_size], tf.int32),
        fill_value=tf.constant(0.0), interpolation="BILINEAR", fill_mode="CONSTANT")


def _crop_and_resize(images, A, output_size):
    """``warp_images`` for scale/flip/translate maps; any numeric images in, float32 out."""
    tf = _tf()
    H = tf.cast(tf.shape(images)[1], tf.float32)
    W = tf.cast(tf.shape(images)[2], tf.float32)
    n = float(output_size - 1)
    # Output index i samples input index (i + 0.5 - t) / a - 0.5 on each axis (x = a u + t).
    ax, tx, ay, ty = A[:, 0, 0], A[:, 0, 2], A[:, 1, 1], A[:, 1, 2]
    x1, y1 = (0.5 - tx) / ax - 0.5, (0.5 - ty) / ay - 0.5
    x2, y2 = x1 + n / ax, y1 + n / ay
    boxes = tf.stack([y1 / tf.maximum(H - 1.0, 1.0), x1 / tf.maximum(W - 1.0, 1.0),
                      y2 / tf.maximum(H - 1.0, 1.0), x2 / tf.maximum(W - 1.0, 1.0)], axis=-1)
    out = tf.image.crop_and_resize(images, boxes, tf.range(tf.shape(images)[0]),
                                   [output_size, output_size], method="bilinear", extrapolation_value=0.0)
    return out


def random_crops(images, seed, augment):
    """The random crop of ``augment`` (``crop_prob``, ``scale``, ``translate``; no rotation or flip),
    one per image of the batch, resized back to the images' size: (B, S, S, C) float32 -> same.

    The hourglass's crop (``random_transforms``) on any channels: the fusion stage crops an image
    and its confidence maps together with it.
    """
    tf = _tf()
    size = int(images.shape[1])
    crop_only = dict(check_augment(augment), rotate_deg=0.0, flip=0.0)
    A, _, _ = random_transforms(seed, tf.shape(images)[0], crop_only, size, size)
    return _crop_and_resize(images, A, size)


def apply_transforms(batch, A, M, flip, *, input_size, flip_permutation, warp=True, axis_aligned=False,
                     image_scale=None):
    """Apply affine maps to a batch of samples (image, 2D, 3D, intrinsics, visibility).

    Args:
      batch: dict with ``image`` (B, S, S, 3) uint8 or float, ``joints_2d`` (B, J, 2) px,
        ``joints_3d`` (B, J, 3) mm, ``visibility`` (B, J), ``intrinsics`` (B, 3, 3).
      A: (B, 3, 3) record px -> input px; M: (B, 3, 3) orthogonal map of the 3D joints;
      flip: (B,) bool, where left/right joints swap.
      input_size: output side in px. flip_permutation: (J,) int, the skeleton's.
      warp: False only when ``A`` is the identity and the sizes match (skips resampling).
      axis_aligned: every ``A`` only scales/flips and translates (faster warp, see warp_images).
      image_scale: None keeps the image dtype (uint8 rounded); a number gives float32 images
        multiplied by it (e.g. 1/255 for [0, 1]).
    Returns: a new dict; ``image`` warped, joints, visibility and
    ``intrinsics = A K M^T`` updated. Other keys are passed through.
    """
    tf = _tf()
    A = tf.cast(A, tf.float32)
    M = tf.cast(M, tf.float32)
    out = dict(batch)
    image = batch["image"]
    if warp:
        dtype = image.dtype
        if axis_aligned:  # crop_and_resize takes uint8 and returns float32
            image = _crop_and_resize(image, A, input_size)
        else:
            image = warp_images(tf.cast(image, tf.float32), A, input_size)
        if image_scale is None and dtype == tf.uint8:
            image = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
    if image_scale is not None:
        image = tf.cast(image, tf.float32) * float(image_scale)
    out["image"] = image
    j2 = tf.einsum("bij,bkj->bki", A[:, :2, :2], batch["joints_2d"]) + A[:, None, :2, 2]
    j3 = tf.einsum("bij,bkj->bki", M, batch["joints_3d"])
    K = tf.matmul(A, tf.matmul(batch["intrinsics"], M, transpose_b=True))
    inside = tf.reduce_all((j2 >= 0.0) & (j2 <= float(input_size)), axis=-1)
    vis = batch["visibility"] * tf.cast(inside, tf.float32)
    perm = tf.constant(np.asarray(flip_permutation), tf.int32)
    swap = flip[:, None, None]
    out["joints_2d"] = tf.where(swap, tf.gather(j2, perm, axis=1), j2)
    out["joints_3d"] = tf.where(swap, tf.gather(j3, perm, axis=1), j3)
    out["visibility"] = tf.where(flip[:, None], tf.gather(vis, perm, axis=1), vis)
    out["intrinsics"] = K
    return out


def color_jitter(images, seed, color):
    """Per-image brightness, contrast, saturation and hue jitter of float images (B, H, W, 3) in [0, 1].

    Brightness, contrast and saturation factors are uniform in ``[1 - c, 1 + c]``; hue rotates
    the chroma (YIQ) plane by up to ``+-hue`` of a turn. Returns float32 clipped to [0, 1].
    """
    tf = _tf()
    B = tf.shape(images)[0]

    def factor(k, c):
        return _uniform(seed, k, [B], 1.0 - c, 1.0 + c)

    b = factor(10, color["brightness"])
    c = factor(11, color["contrast"])
    s = factor(12, color["saturation"])
    h = (factor(13, color["hue"]) - 1.0) * 2.0 * math.pi
    # One 3x3 colour matrix per image: RGB -> YIQ, scale and rotate chroma, back to RGB.
    to_yiq = tf.constant([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    to_rgb = tf.linalg.inv(to_yiq)
    ch, sh = tf.cos(h) * s, tf.sin(h) * s
    zero, one = tf.zeros_like(ch), tf.ones_like(ch)
    chroma = tf.stack([tf.stack([one, zero, zero], -1), tf.stack([zero, ch, -sh], -1),
                       tf.stack([zero, sh, ch], -1)], axis=1)
    mat = tf.matmul(to_rgb[None], tf.matmul(chroma, to_yiq[None])) * b[:, None, None]
    shape = tf.shape(images)
    # A batched matmul over (B, H*W, 3) is ~4x cheaper on CPU than the equivalent einsum.
    x = tf.reshape(tf.matmul(tf.reshape(images, [shape[0], -1, 3]), mat, transpose_b=True), shape)
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    x = (x - mean) * c[:, None, None, None] + mean
    return tf.clip_by_value(x, 0.0, 1.0)


def _gaussian_blur(images, sigma):
    """Separable Gaussian blur (std ``sigma`` px, 5 taps, edges replicated) of (B, H, W, 3) float images."""
    tf = _tf()
    x = np.arange(-2, 3, dtype=np.float32)
    k = np.exp(-x ** 2 / (2 * sigma ** 2))
    k = tf.constant(k / k.sum())
    padded = tf.pad(images, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="SYMMETRIC")
    rows = tf.nn.depthwise_conv2d(padded, tf.tile(tf.reshape(k, [5, 1, 1, 1]), [1, 1, 3, 1]), [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(rows, tf.tile(tf.reshape(k, [1, 5, 1, 1]), [1, 1, 3, 1]), [1, 1, 1, 1], "VALID")


def photometric(images, seed, p):
    """Camera and light of real photographs on float images (B, H, W, 3) in [0, 1] -> float32 in [0, 1].

    ``p`` (``PHOTOMETRIC_KEYS``, each in [0, 1]): ``greyscale`` the probability of a black and white
    image; ``gamma`` an exponent in ``exp(+-0.7 gamma)``; ``blur`` the probability of a Gaussian blur
    of std up to 1.5 px (out of focus, motion); ``noise`` a sensor noise of std up to ``0.06 noise``;
    ``jpeg`` the probability of JPEG compression at quality 15-75; ``lighting`` the strength of a light
    from one side (a brightness ramp of slope up to ``1.2 lighting`` across the image) and, with
    probability ``lighting / 3``, a dark room (the image times 0.15-0.5 before the noise).
    """
    tf = _tf()
    B = tf.shape(images)[0]
    H, W = tf.shape(images)[1], tf.shape(images)[2]
    x = tf.convert_to_tensor(images, tf.float32)
    if p["jpeg"] > 0:  # first: a photograph is compressed before anything else happens to it here
        # only the images drawn are encoded and decoded (the codec is the costly step here)
        x = tf.map_fn(lambda a: tf.cond(a[2], lambda: tf.image.adjust_jpeg_quality(a[0], tf.cast(a[1], tf.int32)),
                                        lambda: a[0]),
                      (x, tf.round(_uniform(seed, 20, [B], 15.0, 75.0)), _uniform(seed, 21, [B]) < p["jpeg"]),
                      fn_output_signature=tf.float32)
    if p["greyscale"] > 0:
        grey = tf.tile(tf.image.rgb_to_grayscale(x), [1, 1, 1, 3])
        x = tf.where((_uniform(seed, 22, [B]) < p["greyscale"])[:, None, None, None], grey, x)
    if p["gamma"] > 0:
        g = tf.exp(_uniform(seed, 23, [B], -0.7, 0.7) * p["gamma"])
        x = tf.pow(tf.maximum(x, 1e-6), g[:, None, None, None])
    if p["blur"] > 0:
        # two passes of a 1 px blur, and a blend between the three, give blurs of std 0 to ~1.5 px
        b1 = _gaussian_blur(x, 1.0)
        b2 = _gaussian_blur(b1, 1.0)
        t = _uniform(seed, 24, [B], 0.0, 2.0)[:, None, None, None]
        blurred = tf.where(t < 1.0, x + (b1 - x) * t, b1 + (b2 - b1) * (t - 1.0))
        x = tf.where((_uniform(seed, 25, [B]) < p["blur"])[:, None, None, None], blurred, x)
    if p["lighting"] > 0:
        phi = _uniform(seed, 26, [B], 0.0, 2.0 * math.pi)
        slope = _uniform(seed, 27, [B], 0.0, 1.2 * p["lighting"])
        u = (tf.cast(tf.range(W), tf.float32) + 0.5) / tf.cast(W, tf.float32) - 0.5
        v = (tf.cast(tf.range(H), tf.float32) + 0.5) / tf.cast(H, tf.float32) - 0.5
        ramp = (tf.cos(phi)[:, None, None] * u[None, None, :] + tf.sin(phi)[:, None, None] * v[None, :, None])
        x = x * tf.maximum(1.0 + slope[:, None, None] * ramp, 0.1)[..., None]
        dark = _uniform(seed, 28, [B]) < p["lighting"] / 3.0
        x = x * tf.where(dark, _uniform(seed, 29, [B], 0.15, 0.5), 1.0)[:, None, None, None]
    if p["noise"] > 0:
        std = _uniform(seed, 30, [B], 0.0, 0.06 * p["noise"])
        x = x + std[:, None, None, None] * tf.random.stateless_normal(
            tf.shape(x), seed=tf.stack([tf.cast(seed, tf.int64), tf.constant(31, tf.int64)]))
    return tf.clip_by_value(x, 0.0, 1.0)


def occlude(images, seed, prob, max_area=0.3):
    """One occluder per image with probability ``prob``: a rectangle of 3 % to ``max_area`` of the image
    (aspect 1:3 to 3:1, anywhere) filled, half the time, with the same window of another image of the
    batch (real texture: a limb, a wall, a passer-by) and otherwise with one random colour. The joints
    behind it keep their targets: the network learns to place what it cannot see, as people do.
    (B, H, W, 3) float in [0, 1] -> float32."""
    tf = _tf()
    B = tf.shape(images)[0]
    H, W = tf.shape(images)[1], tf.shape(images)[2]
    area = _uniform(seed, 40, [B], 0.03, max_area)
    aspect = tf.exp(_uniform(seed, 41, [B], -math.log(3.0), math.log(3.0)))
    h, w = tf.minimum(tf.sqrt(area * aspect), 1.0), tf.minimum(tf.sqrt(area / aspect), 1.0)
    cy, cx = _uniform(seed, 42, [B]), _uniform(seed, 43, [B])
    v = (tf.cast(tf.range(H), tf.float32) + 0.5) / tf.cast(H, tf.float32)
    u = (tf.cast(tf.range(W), tf.float32) + 0.5) / tf.cast(W, tf.float32)
    inside = ((tf.abs(v[None, :, None] - cy[:, None, None]) < h[:, None, None] / 2)
              & (tf.abs(u[None, None, :] - cx[:, None, None]) < w[:, None, None] / 2))
    on = (_uniform(seed, 44, [B]) < prob)[:, None, None]
    colour = _uniform(seed, 45, [B, 1, 1, 3])
    other = tf.roll(images, shift=1, axis=0)
    fill = tf.where((_uniform(seed, 46, [B]) < 0.5)[:, None, None, None], other, colour)
    return tf.where((inside & on)[..., None], fill, tf.convert_to_tensor(images, tf.float32))


# --------------------------------------------------------------------------- sample helpers

def transform_sample(sample, A, M, flip, skeleton, input_size=None):
    """Apply one affine map to one sample (numpy dict, ``records.SCHEMA``) -> a new numpy sample.

    ``A`` (3, 3) px -> px, ``M`` (3, 3) 3D map, ``flip`` bool (swap left/right joints). The image
    stays uint8. Runs the same TF code as the training pipeline.
    """
    tf = _tf()
    skel = skeleton if isinstance(skeleton, _skeletons.Skeleton) else _skeletons.get(skeleton)
    size = int(np.asarray(sample["image"]).shape[0]) if input_size is None else int(input_size)
    batch = {k: tf.convert_to_tensor(np.asarray(sample[k])[None]) for k in
             ("image", "joints_2d", "joints_3d", "visibility", "intrinsics")}
    batch = {k: v if k == "image" else tf.cast(v, tf.float32) for k, v in batch.items()}
    out = apply_transforms(batch, np.asarray(A, np.float32)[None], np.asarray(M, np.float32)[None],
                           tf.constant([bool(flip)]), input_size=size,
                           flip_permutation=skel.flip_permutation)
    result = dict(sample)
    result.update({k: v.numpy()[0] for k, v in out.items() if k in batch})
    return result


def flip_sample(sample, skeleton):
    """Mirror one sample horizontally (image, joints with left/right swap, 3D x, ``cx -> S - cx``)."""
    S = float(np.asarray(sample["image"]).shape[0])
    A = np.array([[-1.0, 0.0, S], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    return transform_sample(sample, A, np.diag([-1.0, 1.0, 1.0]), True, skeleton)


def rotate_sample(sample, angle_deg, skeleton):
    """Rotate one sample by ``angle_deg`` about its crop centre (3D: about the optical axis)."""
    tf = _tf()
    S = float(np.asarray(sample["image"]).shape[0])
    theta = tf.constant([math.radians(angle_deg)], tf.float32)
    A = rotation_about(theta, S / 2).numpy()[0]
    M = _rotation_z(theta).numpy()[0]
    return transform_sample(sample, A, M, False, skeleton)


def crop_sample(sample, box, input_size, skeleton):
    """Cut the square ``box`` (x0, y0, side) record px out of one sample, resized to ``input_size``."""
    x0, y0, side = (float(v) for v in box)
    k = input_size / side
    A = np.array([[k, 0.0, -x0 * k], [0.0, k, -y0 * k], [0.0, 0.0, 1.0]])
    return transform_sample(sample, A, np.eye(3), False, skeleton, input_size)


# --------------------------------------------------------------------------- the pipeline

def _joint_map(source, target):
    """Gather indices (J_target,) into source joints plus a zero row at index J_source."""
    src, dst = _skeletons.get(source), _skeletons.get(target)
    if src.name == dst.name:
        return np.arange(src.num_joints)
    src_idx, dst_idx = _skeletons.mapping(src.name, dst.name)
    idx = np.full(dst.num_joints, src.num_joints, dtype=np.int64)
    idx[dst_idx] = src_idx
    return idx


def make_dataset(data_dir, split, *, batch_size, training, input_size, heatmap_size,
                 heatmap_skeleton="mpii16", augment=None, seed=0, with_meta=False, num_shards=1,
                 shard_index=0, drop_remainder=None, repeat=False, cache=False, sigma=1.0,
                 shuffle_buffer=_SHUFFLE_BUFFER, verify=True, mask_unlabelled=False):
    """A ``tf.data.Dataset`` of ``(features, targets)`` or ``(features, targets, meta)`` batches.

    Args:
      data_dir: records folder (``manifest.json`` + shards); split: e.g. ``train``.
      batch_size: B. training: shuffle + augment (else fixed order, no augmentation).
      input_size: model input side S_in, px. heatmap_size: h, px.
      heatmap_skeleton: joints of the heatmaps, ``joints_2d`` and ``visibility`` targets.
      augment: ``check_augment`` dict (training only; None -> ``DEFAULT_AUGMENT``).
      seed: shuffling and augmentation seed. with_meta: add the meta dict.
      num_shards, shard_index: this worker reads shard files ``shard_index::num_shards``.
      drop_remainder: default True when training, False otherwise.
      repeat: repeat forever. cache: cache the serialised records in memory.
      sigma: heatmap Gaussian std, heatmap px. shuffle_buffer: records in the shuffle buffer.
      verify: walk this worker's shard headers first (``records.check_shards``), so a truncated
        shard fails here with its file name rather than mid-epoch.
      mask_unlabelled: the target map of a joint with visibility 0 (occluded, outside the crop, or
        missing from the records' skeleton) is -1 everywhere, which ``heatmap_loss`` leaves out;
        else it is 0 (no peak).

    Yields:
      features ``{"image": float32 (B, S_in, S_in, 3) in [0, 1]}``;
      targets ``{"heatmaps": float32 (B, h, h, Jh), "pose_3d": float32 (B, J, 3) mm root-relative
      (record skeleton, root joint), "joints_2d": float32 (B, Jh, 2) input px, "visibility":
      float32 (B, Jh)}``; meta ``{"subject", "action", "camera", "source": string (B,),
      "frame": int64 (B,), "intrinsics": float32 (B, 3, 3) (augmented K of the input crop),
      "joints_3d": float32 (B, J, 3) mm absolute camera frame (augmented)}``.

    In evaluation (``training=False``, one worker) batches come in the order the records were
    written. Flipped bytes inside a record raise TF's DataLossError while iterating, which does
    not name the file: ``records.check_shards(files, full=True)`` does.
    """
    tf = _tf()
    from kfusion.heatmaps import render_heatmaps_tf

    manifest = _records.read_manifest(data_dir)
    skel = _skeletons.get(manifest["skeleton"])
    record_size = int(manifest["image_size"])
    hm_skel = _skeletons.get(heatmap_skeleton)
    try:
        hm_index = _joint_map(skel.name, hm_skel.name)
    except ValueError as e:
        raise KfusionError(f"{data_dir}: {e}") from None
    aug = check_augment(augment) if training else None
    if int(batch_size) < 1 or int(input_size) < 1 or int(heatmap_size) < 1:
        raise KfusionError(f"batch_size={batch_size}, input_size={input_size}, heatmap_size={heatmap_size}; "
                           f"expected positive ints")
    files = _records.record_files(data_dir, split)
    if not 0 <= shard_index < num_shards:
        raise KfusionError(f"shard_index={shard_index}, num_shards={num_shards}; expected 0 <= shard_index < num_shards")
    if num_shards > len(files):
        raise KfusionError(f"{data_dir}: {len(files)} {split} shard files cannot feed num_shards={num_shards} workers")
    files = files[shard_index::num_shards]
    if verify:
        _records.check_shards(files)
    if drop_remainder is None:
        drop_remainder = bool(training)
    deterministic = not training

    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                           num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    else:
        # One record from each shard in turn restores the written (round-robin) order.
        ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=len(files), block_length=1,
                           num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    J = skel.num_joints

    def parse(serialized):
        return _records.parse_example(serialized, num_joints=J, image_size=record_size)

    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=tf.data.AUTOTUNE,
                  deterministic=deterministic)
    perm = skel.flip_permutation
    identity = record_size == input_size
    parts = np.array([[float(j in names) for j in skel.joints] for names in _skeletons.BODY_PARTS.values()],
                     np.float32)

    def finish(batch):
        image = batch["image"]
        joints_hm = tf.gather(tf.pad(batch["joints_2d"], [[0, 0], [0, 1], [0, 0]]), hm_index, axis=1)
        vis_hm = tf.gather(tf.pad(batch["visibility"], [[0, 0], [0, 1]]), hm_index, axis=1)
        heatmaps = render_heatmaps_tf(joints_hm * (heatmap_size / input_size), heatmap_size, sigma, vis_hm)
        if mask_unlabelled:
            heatmaps = tf.where(vis_hm[:, None, None, :] > 0, heatmaps, -1.0)
        j3 = batch["joints_3d"]
        features = {"image": image}
        targets = {"heatmaps": heatmaps, "pose_3d": j3 - j3[:, skel.root:skel.root + 1],
                   "joints_2d": joints_hm, "visibility": vis_hm}
        if not with_meta:
            return features, targets
        meta = {k: batch[k] for k in ("subject", "action", "camera", "source", "frame", "intrinsics")}
        meta["joints_3d"] = j3
        return features, targets, meta

    def train_step(batch, rseed):
        B = tf.shape(batch["image"])[0]
        A, M, flip = random_transforms(rseed, B, aug, record_size, input_size, batch["joints_2d"],
                                       batch["visibility"], parts)
        batch = apply_transforms(batch, A, M, flip, input_size=input_size, flip_permutation=perm,
                                 axis_aligned=aug["rotate_deg"] == 0, image_scale=1.0 / 255.0)
        image = batch["image"]
        if max(aug["color"].values()) > 0:
            image = color_jitter(image, rseed, aug["color"])
        if max(aug["photometric"].values()) > 0:
            image = photometric(image, rseed, aug["photometric"])
        if aug["occlude"] > 0:
            image = occlude(image, rseed, aug["occlude"])
        batch["image"] = image
        return finish(batch)

    def eval_step(batch):
        if identity:
            batch = dict(batch, image=tf.cast(batch["image"], tf.float32) * (1.0 / 255.0))
        else:
            B = tf.shape(batch["image"])[0]
            k = input_size / record_size
            A = tf.tile(tf.constant([[[k, 0.0, 0.0], [0.0, k, 0.0], [0.0, 0.0, 1.0]]]), [B, 1, 1])
            batch = apply_transforms(batch, A, tf.eye(3, batch_shape=[B]), tf.zeros([B], tf.bool),
                                     input_size=input_size, flip_permutation=perm, axis_aligned=True,
                                     image_scale=1.0 / 255.0)
        return finish(batch)

    if training:
        rng = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, rng)).map(train_step, num_parallel_calls=tf.data.AUTOTUNE,
                                                deterministic=False)
    else:
        ds = ds.map(eval_step, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
