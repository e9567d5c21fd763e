"""Procrustes alignment of a predicted pose onto the ground truth (Umeyama / Kabsch), batched.

Find ``s, R, t`` minimising ``sum_j |gt_j - (s R pred_j + t)|^2`` (Umeyama 1991):

    mu_p, mu_g = means over joints;  P = pred - mu_p,  G = gt - mu_g      (J, 3) each
    H = P^T G = U diag(S) V^T                                              (3, 3) SVD
    D = diag(1, 1, sign(det(V U^T)))   (reflection removed; D = I if reflections are allowed)
    R = V D U^T,   s = trace(diag(S) D) / |P|^2,   t = mu_g - s R mu_p

``D`` flips the last singular vector when the optimal orthogonal map is a reflection, as in
VideoPose3D (``common/loss.py::p_mpjpe``) and 3d-pose-baseline (``src/procrustes.py``); the
paper's authors use a scipy-style Procrustes that keeps reflections (``allow_reflection=True``).
``scale=False`` gives the rigid alignment (rotation + translation) of the HumanEva protocol.
"""
import numpy as np


def similarity_align(pred, gt, allow_reflection=False, scale=True, return_transform=False):
    """Align ``pred`` onto ``gt`` by a similarity (or rigid) transform, independently per pose.

    Args:
      pred, gt: (..., J, 3) float, same shape and units (mm).
      allow_reflection: keep an improper orthogonal map (det -1) if it fits better.
      scale: fit a uniform scale ``s``; False fixes ``s = 1`` (rigid alignment).
      return_transform: also return ``(R, s, t)``.

    Returns:
      aligned: float64 (..., J, 3), ``s * pred @ R^T + t``.
      With ``return_transform``: ``(aligned, R (..., 3, 3), s (...), t (..., 3))``.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim < 2 or pred.shape[-1] != 3:
        raise ValueError(f"pred has shape {pred.shape} but gt has shape {gt.shape}; "
                         "expected equal shapes (..., J, 3)")
    mu_p = pred.mean(axis=-2, keepdims=True)
    mu_g = gt.mean(axis=-2, keepdims=True)
    P, G = pred - mu_p, gt - mu_g
    H = np.swapaxes(P, -1, -2) @ G  # (..., 3, 3)
    U, S, Vt = np.linalg.svd(H)
    V = np.swapaxes(Vt, -1, -2)
    Ut = np.swapaxes(U, -1, -2)
    d = np.ones(S.shape)
    if not allow_reflection:
        d[..., -1] = np.sign(np.linalg.det(V @ Ut))
        d[..., -1][d[..., -1] == 0] = 1.0
    R = (V * d[..., None, :]) @ Ut  # V D U^T
    if scale:
        norm_p = np.sum(P**2, axis=(-2, -1))
        # A pose with all joints at one point has no scale: map it to gt's centroid (s = 0).
        s = np.sum(S * d, axis=-1) / np.where(norm_p > 0, norm_p, 1.0)
        s = np.where(norm_p > 0, s, 0.0)
    else:
        s = np.ones(pred.shape[:-2])
    t = mu_g[..., 0, :] - s[..., None] * (mu_p @ np.swapaxes(R, -1, -2))[..., 0, :]
    aligned = s[..., None, None] * (pred @ np.swapaxes(R, -1, -2)) + t[..., None, :]
    if return_transform:
        return aligned, R, s, t
    return aligned
