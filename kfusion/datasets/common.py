"""Steps shared by the real-dataset readers (Human3.6M, HumanEva-I, KTH, LSP, MPII).

- :func:`crop_sample`: one full image + its joints -> one record sample (square crop around the
  person, joints in crop pixels, the crop's intrinsics, visibility).
- :func:`write_dataset`: stream the samples of each split to TFRecords and write the manifest.
- :func:`fit_projection` / :func:`decompose_projection`: a 3x4 camera from 2D-3D correspondences
  (DLT) and its split into K [R | t], for datasets that give world poses but no usable camera.
- :func:`nominal_intrinsics`: the camera assumed for 2D-only datasets (LSP, MPII).
"""
import math
from pathlib import Path

import numpy as np
import scipy.linalg

from kfusion import geometry
from kfusion.data import records
from kfusion.errors import KfusionError
from kfusion.io import read_json, write_json


def crop_sample(image, joints_2d, joints_3d, K, *, image_size, subject, action, camera, frame, source,
                visibility=None, box=None, margin=0.2):
    """One record sample from a full image and its annotations.

    Args:
      image: uint8 (H, W, 3) full image.
      joints_2d: (J, 2) full-image pixels (corner convention).
      joints_3d: (J, 3) camera coordinates, mm (zeros for 2D-only datasets).
      K: (3, 3) intrinsics of the full image.
      image_size: side S of the square crop, pixels.
      visibility: (J,) 1 visible / 0 occluded or unannotated, or None for all visible.
      box: the crop box (x0, y0, size) in full-image pixels, or None for
        ``geometry.square_box(joints_2d, margin, visibility)``.
    Returns a sample dict (``records.SCHEMA``); visibility is also 0 for joints outside the crop.
    """
    joints_2d = np.asarray(joints_2d, dtype=np.float64)
    vis = np.ones(len(joints_2d)) if visibility is None else np.asarray(visibility, dtype=np.float64)
    if box is None:
        box = geometry.square_box(joints_2d, margin=margin, visibility=vis > 0)
    uv = geometry.image_to_crop(joints_2d, box, image_size)
    inside = np.all((uv >= 0) & (uv <= image_size), axis=-1)
    return {
        "image": geometry.crop_image(image, box, image_size),
        "joints_2d": uv.astype(np.float32),
        "joints_3d": np.asarray(joints_3d, dtype=np.float32),
        "visibility": (vis * inside).astype(np.float32),
        "intrinsics": geometry.crop_intrinsics(K, box, image_size).astype(np.float32),
        "subject": str(subject),
        "action": str(action),
        "camera": str(camera),
        "source": str(source),
        "frame": np.int64(frame),
    }


def nominal_intrinsics(width, height):
    """The nominal camera of a 2D-only image: focal = max(W, H) px (about 53 degrees), centred."""
    f = float(max(width, height))
    return geometry.camera_matrix((f, f), (width / 2.0, height / 2.0))


def default_shards(count):
    """Shards for about ``count`` samples: one per ~2000 samples, 1 to 256."""
    return int(min(256, max(1, math.ceil(max(int(count), 1) / 2000))))


def write_dataset(out_dir, splits, *, skeleton, image_size, source, generator, num_shards=None,
                  has_3d=True):
    """Write each split's samples as TFRecords and the manifest; return the manifest dict.

    Args:
      splits: ``{split: (iterable of samples, expected count or None)}``; the count only sizes
        the default shard number (the real count is what was written).
      num_shards: shards per split, or None for :func:`default_shards`.
      generator: dict of reader settings stored in the manifest (``has_3d`` is added to it).
      has_3d: False for 2D-only datasets: ``joints_3d`` are zeros and the manifest says so, both
        as a top-level ``"has_3d"`` and in ``generator``.
    """
    counts, shards = {}, {}
    for split, (samples, expected) in splits.items():
        n = int(num_shards) if num_shards else default_shards(expected or 1)
        counts[split] = records.write_records(samples, out_dir, split, num_shards=n, skeleton=skeleton)
        shards[split] = n
        if counts[split] == 0:
            raise KfusionError(f"{source}: split {split!r} has no samples; check the input folders and filters")
    generator = dict(generator, has_3d=bool(has_3d))
    manifest = records.write_manifest(
        out_dir, skeleton=skeleton, image_size=image_size, source=source,
        splits={s: {"count": counts[s], "shards": shards[s]} for s in counts}, generator=generator)
    # read_manifest accepts extra keys: the top-level flag is what downstream code checks.
    manifest["has_3d"] = bool(has_3d)
    write_json(Path(out_dir) / records.MANIFEST, manifest)
    return manifest


def summary(source, manifest, out_dir):
    """One line: what ``write_dataset`` wrote."""
    parts = ", ".join(f"{split} {info['count']}" for split, info in manifest["splits"].items())
    return f"{source}: wrote {parts} samples to {out_dir}"


def manifest_has_3d(data_dir):
    """Whether a records folder holds 3D poses (False for LSP/MPII records)."""
    m = read_json(Path(data_dir) / records.MANIFEST)
    return bool(m.get("has_3d", m.get("generator", {}).get("has_3d", True)))


def fit_projection(points_3d, points_2d):
    """Least-squares 3x4 projection P (DLT, normalised) with ``x ~ P [X; 1]``.

    Args: points_3d (N, 3) any unit; points_2d (N, 2) px; N >= 6 in general position.
    Returns (P (3, 4), rms reprojection error in px).
    """
    X = np.asarray(points_3d, dtype=np.float64).reshape(-1, 3)
    x = np.asarray(points_2d, dtype=np.float64).reshape(-1, 2)
    ok = np.all(np.isfinite(X), axis=1) & np.all(np.isfinite(x), axis=1)
    X, x = X[ok], x[ok]
    if len(X) < 6:
        raise KfusionError(f"camera fit needs >= 6 finite 2D-3D correspondences; got {len(X)}")
    # Hartley normalisation keeps the linear system well conditioned.
    mx, sx = x.mean(0), np.sqrt(2) / max(np.linalg.norm(x - x.mean(0), axis=1).mean(), 1e-12)
    mX, sX = X.mean(0), np.sqrt(3) / max(np.linalg.norm(X - X.mean(0), axis=1).mean(), 1e-12)
    T2 = np.array([[sx, 0, -sx * mx[0]], [0, sx, -sx * mx[1]], [0, 0, 1]])
    T3 = np.diag([sX, sX, sX, 1.0])
    T3[:3, 3] = -sX * mX
    Xn = np.c_[(X - mX) * sX, np.ones(len(X))]
    xn = (x - mx) * sx
    A = np.zeros((2 * len(X), 12))
    A[0::2, 0:4], A[0::2, 8:12] = Xn, -xn[:, :1] * Xn
    A[1::2, 4:8], A[1::2, 8:12] = Xn, -xn[:, 1:] * Xn
    P = np.linalg.inv(T2) @ np.linalg.svd(A)[2][-1].reshape(3, 4) @ T3
    proj = np.c_[X, np.ones(len(X))] @ P.T
    rms = float(np.sqrt(np.mean(np.sum((proj[:, :2] / proj[:, 2:] - x) ** 2, axis=1))))
    return P, rms


def decompose_projection(P, points=None):
    """Split a 3x4 projection into ``K`` (3, 3), ``R`` (3, 3) and ``t`` (3,): ``P ~ K [R | t]``.

    ``X_cam = R X + t`` (same unit as the world points). The sign of ``P`` is chosen so that
    ``points`` (N, 3) world, if given, lie in front of the camera (z > 0) and ``det R = +1``.
    """
    P = np.asarray(P, dtype=np.float64)
    if P.shape != (3, 4):
        raise KfusionError(f"projection matrix has shape {P.shape}; expected (3, 4)")
    if points is not None:
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if len(pts) and np.median(np.c_[pts, np.ones(len(pts))] @ P[2]) < 0:
            P = -P
    K, R = scipy.linalg.rq(P[:, :3])
    D = np.diag(np.sign(np.diag(K)))  # make K's diagonal positive
    K, R = K @ D, D @ R
    t = np.linalg.solve(K, P[:, 3])
    if np.linalg.det(R) < 0:  # P was scaled by a negative number: flip it (K stays positive)
        R, t = -R, -t
    return K / K[2, 2], R, t
