"""Pose metrics as short batched numpy functions: one value per pose, formula in the body.

3D inputs are (..., J, 3) joint positions in millimetres (any frame, both the same); 2D inputs are
(..., J, 2) pixels. Every function validates its inputs and raises ``ValueError`` naming the shapes.

- ``mpjpe``: mean per-joint Euclidean error (Human3.6M protocol 1, after ``root_align``).
- ``n_mpjpe``: error after aligning the roots and the optimal uniform scale (no rotation).
- ``pa_mpjpe``: error after a similarity Procrustes alignment (protocol 2).
- ``rigid_mpjpe``: error after a rigid alignment (rotation + translation; HumanEva-I).
- ``pcp``: 3D percentage of correct parts per part class (KTH Football II), mean-endpoint or strict.
- ``pck3d``/``auc3d``: MPI-INF-3DHP-style PCK at 150 mm and its area under the curve 0..150 mm.
- ``pck``/``pckh``: 2D PCK with a per-pose normaliser (PCKh: head segment size), visibility aware.
- ``bootstrap_percentages``: a percentage of correct joints over people, redrawn with people resampled
  (its spread is the standard error of a set that small; the same draws for every method, so that
  differences and ratios of methods on the same people get theirs).
"""
import numpy as np

from kfusion import skeletons
from kfusion.eval.procrustes import similarity_align
from kfusion.heatmaps import visible_joints


def _check_pair(pred, gt, dim, names=("pred", "gt"), finite_mask=None):
    """float64 copies of two (..., J, dim) arrays of the same shape, all finite (where masked)."""
    a = np.asarray(pred, dtype=np.float64)
    b = np.asarray(gt, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} has shape {a.shape} but {names[1]} has shape {b.shape}; "
                         f"expected equal shapes (..., J, {dim})")
    if a.ndim < 2 or a.shape[-1] != dim:
        raise ValueError(f"{names[0]} and {names[1]} have shape {a.shape}; expected (..., J, {dim})")
    for name, x in zip(names, (a, b)):
        finite = np.all(np.isfinite(x), axis=-1)
        if finite_mask is not None:
            finite = finite | ~finite_mask
        if not np.all(finite):
            where = np.argwhere(~finite)[:3].tolist()
            raise ValueError(f"{name} (shape {x.shape}) has NaN or inf values at joints {where}")
    return a, b


def joint_errors(pred, gt):
    """Euclidean distance per joint: (..., J, D) x2 with D = 2 (px) or 3 (mm) -> (..., J)."""
    dim = 2 if np.shape(pred)[-1:] == (2,) else 3
    pred, gt = _check_pair(pred, gt, dim)
    return np.linalg.norm(pred - gt, axis=-1)


def root_align(pred, gt, root=0):
    """Translate each predicted pose so its root coincides with the ground truth's root.

    Args: pred, gt (..., J, 3) mm; root: a joint index, or a sequence of indices whose mean is
    the root (e.g. the mid-hip of a skeleton without a pelvis). Returns float64 (..., J, 3).
    """
    pred, gt = _check_pair(pred, gt, 3)
    idx = np.atleast_1d(np.asarray(root, dtype=np.int64))
    if idx.size == 0 or np.any(idx < -pred.shape[-2]) or np.any(idx >= pred.shape[-2]):
        raise ValueError(f"root {root!r} is not a joint index for poses of shape {pred.shape}")
    pred_root = pred[..., idx, :].mean(axis=-2, keepdims=True)
    return pred - pred_root + gt[..., idx, :].mean(axis=-2, keepdims=True)


def mpjpe(pred, gt):
    """Mean per-joint position error: mean_j |pred_j - gt_j|. (..., J, 3) mm -> (...) mm."""
    from kfusion.models.losses import mpjpe_per_pose  # the one MPJPE, here on numpy arrays

    pred, gt = _check_pair(pred, gt, 3)
    return np.asarray(mpjpe_per_pose(gt, pred, dtype="float64"), np.float64)


def n_mpjpe(pred, gt, root=0):
    """MPJPE after aligning the roots and scaling the prediction about its root by the least-squares
    factor ``s = <P, G> / <P, P>`` of the root-centred poses P, G (N-MPJPE, Rhodin et al. 2018): the
    error of the pose's shape at the truth's size, with no rotation. ``root`` as for :func:`root_align`.
    (..., J, 3) mm -> (...) mm.
    """
    aligned = root_align(pred, gt, root)
    gt = np.asarray(gt, dtype=np.float64)
    origin = gt[..., np.atleast_1d(np.asarray(root, dtype=np.int64)), :].mean(axis=-2, keepdims=True)
    P, G = aligned - origin, gt - origin
    s = np.sum(P * G, axis=(-2, -1)) / np.maximum(np.sum(P * P, axis=(-2, -1)), 1e-12)
    return mpjpe(s[..., None, None] * P + origin, gt)


def pa_mpjpe(pred, gt, allow_reflection=False):
    """MPJPE after similarity (rotation, uniform scale, translation) Procrustes alignment.

    Reflections are removed unless ``allow_reflection`` (the authors' scipy-style variant).
    (..., J, 3) mm -> (...) mm.
    """
    pred, gt = _check_pair(pred, gt, 3)
    return mpjpe(similarity_align(pred, gt, allow_reflection=allow_reflection), gt)


def rigid_mpjpe(pred, gt):
    """MPJPE after rigid (rotation + translation, no scale) alignment, HumanEva-I. -> (...) mm."""
    pred, gt = _check_pair(pred, gt, 3)
    return mpjpe(similarity_align(pred, gt, scale=False), gt)


def _endpoint(pose, indices):
    """Mean of the joints ``indices``: (..., J, 3) -> (..., 3)."""
    return pose[..., list(indices), :].mean(axis=-2)


def pcp(pred, gt, skeleton, alpha=0.5, strict=False):
    """3D percentage of correct parts, per part class, for each pose.

    A part from ``s`` to ``e`` (ground truth; ``s_hat``, ``e_hat`` predicted) is correct when
      mean-endpoint form: (|s - s_hat| + |e - e_hat|) / 2 <= alpha * |s - e|
      strict form:        |s - s_hat| <= alpha * |s - e|  and  |e - e_hat| <= alpha * |s - e|.
    Endpoints come from ``skeleton.part_endpoints(part)`` (an endpoint may be a mean of joints).

    Args:
      pred, gt: (..., J, 3) mm in ``skeleton``'s joint order.
      skeleton: a ``kfusion.skeletons.Skeleton`` or its name.
      alpha: fraction of the ground-truth part length.
      strict: use the strict form.

    Returns:
      dict part class -> float64 (...) fraction of that class's parts correct in each pose
      (e.g. 0.5 when one of two upper arms is correct), plus ``"all_parts"``: the fraction of
      all parts of all classes.
    """
    pred, gt = _check_pair(pred, gt, 3)
    skel = skeletons.get(skeleton) if isinstance(skeleton, str) else skeleton
    if pred.shape[-2] != skel.num_joints:
        raise ValueError(f"pred has shape {pred.shape} but skeleton {skel.name} has "
                         f"{skel.num_joints} joints; expected (..., {skel.num_joints}, 3)")
    if not skel.parts:
        raise ValueError(f"skeleton {skel.name} defines no PCP parts")
    out, everything = {}, []
    for part in skel.parts:
        correct = []
        for start, end in skel.part_endpoints(part):
            s, e = _endpoint(gt, start), _endpoint(gt, end)
            s_hat, e_hat = _endpoint(pred, start), _endpoint(pred, end)
            limit = alpha * np.linalg.norm(s - e, axis=-1)
            err_s = np.linalg.norm(s - s_hat, axis=-1)
            err_e = np.linalg.norm(e - e_hat, axis=-1)
            if strict:
                correct.append((err_s <= limit) & (err_e <= limit))
            else:
                correct.append((err_s + err_e) / 2.0 <= limit)
        correct = np.stack(correct, axis=-1).astype(np.float64)  # (..., parts in this class)
        out[part] = correct.mean(axis=-1)
        everything.append(correct)
    out["all_parts"] = np.concatenate(everything, axis=-1).mean(axis=-1)
    return out


def pck3d(pred, gt, threshold=150.0):
    """Fraction of joints within ``threshold`` mm (inclusive): (..., J, 3) -> (...) in [0, 1]."""
    pred, gt = _check_pair(pred, gt, 3)
    return (np.linalg.norm(pred - gt, axis=-1) <= threshold).mean(axis=-1)


def auc3d(pred, gt, thresholds=np.linspace(0.0, 150.0, 31)):
    """Area under the PCK3D curve: mean of ``pck3d`` over ``thresholds`` (mm). -> (...) in [0, 1]."""
    pred, gt = _check_pair(pred, gt, 3)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds.ndim != 1 or thresholds.size == 0:
        raise ValueError(f"thresholds has shape {thresholds.shape}; expected a non-empty 1-D array (mm)")
    dist = np.linalg.norm(pred - gt, axis=-1)  # (..., J)
    return (dist[..., None] <= thresholds).mean(axis=(-2, -1))


def pck(pred2d, gt2d, threshold, normaliser=None, visibility=None, per_joint=False):
    """2D percentage of correct keypoints: ``|pred - gt| <= threshold * normaliser``.

    Args:
      pred2d, gt2d: (..., J, 2) pixels; coordinates of invisible joints may be NaN.
      threshold: a distance in pixels when ``normaliser`` is None, else a fraction of it.
      normaliser: optional (...) per-pose length in pixels (torso size, head size, ...).
      visibility: optional (..., J); only joints with visibility > 0 count.
      per_joint: return the (..., J) correctness (1, 0, NaN for invisible) instead of the mean,
        so a dataset-level PCK per joint is ``np.nanmean(out, axis=0)``.

    Returns:
      float64 (...) fraction of visible joints correct (NaN for a pose with none visible), or
      (..., J) with ``per_joint``.
    """
    pred2d = np.asarray(pred2d, dtype=np.float64)
    visible = visible_joints(visibility, pred2d, "pred2d")
    pred2d, gt2d = _check_pair(pred2d, gt2d, 2, names=("pred2d", "gt2d"), finite_mask=visible)
    limit = np.asarray(threshold, dtype=np.float64)
    if normaliser is not None:
        normaliser = np.asarray(normaliser, dtype=np.float64)
        if normaliser.shape not in ((), pred2d.shape[:-2]):
            raise ValueError(f"normaliser has shape {normaliser.shape} but pred2d has shape "
                             f"{pred2d.shape}; expected {pred2d.shape[:-2]}")
        if not np.all(np.isfinite(normaliser)) or np.any(normaliser <= 0):
            raise ValueError("normaliser has values that are not finite and positive (pixels)")
        limit = limit * normaliser
    limit = np.asarray(limit)[..., None]  # broadcast over joints
    with np.errstate(invalid="ignore"):
        dist = np.linalg.norm(pred2d - gt2d, axis=-1)
        correct = np.where(visible, (dist <= limit).astype(np.float64), np.nan)
    if per_joint:
        return correct
    count = visible.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.nansum(correct, axis=-1) / np.maximum(count, 1), np.nan)


def bootstrap_percentages(cells, draws=2000, seed=0):
    """Percentages of correct cells with the people resampled with replacement.

    Args:
      cells: a sequence of (N, K) arrays, one per method, of the same N people: 1 correct, 0 wrong,
        NaN not counted (``pck(..., per_joint=True)``).
      draws, seed: how many resamplings and the seed of their generator (the same draws for every array).

    Returns:
      float64 (draws, len(cells)): per draw, 100 x correct / counted cells of each array (NaN for a
      draw with none counted). Column 0's standard deviation is that array's standard error.
    """
    cells = [np.asarray(c, dtype=np.float64) for c in cells]
    if not cells or any(c.ndim != 2 or c.shape[0] != cells[0].shape[0] for c in cells) or cells[0].shape[0] == 0:
        raise ValueError(f"cells have shapes {[c.shape for c in cells]}; expected one or more (N, K) arrays, "
                         "N >= 1 the same")
    if int(draws) < 2:
        raise ValueError(f"draws is {draws}; expected at least 2")
    n = cells[0].shape[0]
    picks = np.random.default_rng(seed).integers(0, n, size=(int(draws), n))  # (draws, N)
    out = []
    for c in cells:
        correct, counted = np.nansum(c, axis=1), np.isfinite(c).sum(axis=1)  # per person
        total = counted[picks].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(total > 0, 100.0 * correct[picks].sum(axis=1) / np.maximum(total, 1), np.nan))
    return np.stack(out, axis=1)


def pckh(pred2d, gt2d, head_sizes, alpha=0.5, visibility=None, per_joint=False):
    """PCKh@alpha: a joint is correct within ``alpha * head_size`` pixels (MPII, inclusive).

    ``head_sizes`` (...) pixels: the head segment length of each pose (MPII: 0.6 * the diagonal
    of the annotated head box). See ``pck`` for the other arguments and the return value.
    """
    return pck(pred2d, gt2d, alpha, normaliser=head_sizes, visibility=visibility,
               per_joint=per_joint)
