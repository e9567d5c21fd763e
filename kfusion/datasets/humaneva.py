"""HumanEva-I -> records (``humaneva15``, 3D in camera coordinates, mm).

Layouts read:

- ``--poses``: the 15-joint conversion of VideoPose3D's MATLAB script (``ConvertHumanEvaDataset``)::

      converted_15j/{Train,Validate}/S{1,2,3}/<Action>_<Trial>.mat   e.g. Walking_1.mat
          poses_3d  (T, 15, 3)      world frame, **millimetres** (VideoPose3D's
                                    prepare_data_humaneva.py divides these by 1000 to get metres)
          poses_2d  (3, T, 15, 2)   pixels in cameras C1, C2, C3 (640 x 480)

  Frames whose mocap is corrupt are NaN in both and are skipped. Frame ``t`` of a file is mocap
  frame ``START[split/subject][action] + t`` (:data:`START`: the Train/Validate ranges of that
  conversion).
- ``--root``: the original release, ``S{n}/Image_Data/<Action>_<Trial>_(C{k}).avi``. Video frame
  = mocap frame + ``SYNC[subject][action][k] - 1`` (:data:`SYNC`, the conversion's offsets).

Camera coordinates: the conversion keeps world poses only. With ``--extrinsics FILE.json``
(``{"S1": {"C1": {"R": 3x3, "T": [3]}}}``, ``X_cam = R X_world + T`` in mm, the convention of
calibration toolboxes; optional ``"K": 3x3`` px) they are used as given. Without it, the camera of
each file is recovered from its own 2D-3D correspondences (the 3x4 DLT fit of
:func:`kfusion.datasets.common.fit_projection`, split into K [R | t]); the manifest records the
choice and each file's reprojection RMS in pixels. The intrinsics then always project
``joints_3d`` onto ``joints_2d`` to within that residual.

Protocol (the paper): train on the Train sequences of S1-S3, test on their Validate sequences,
camera C1 only.
"""
import re
from pathlib import Path

import numpy as np

from kfusion import skeletons, video
from kfusion.datasets import common
from kfusion.errors import KfusionError
from kfusion.io import read_json

SKELETON = skeletons.HUMANEVA15
SOURCE = "humaneva"
SUBJECTS = ("S1", "S2", "S3")
SPLITS = {"train": "Train", "test": "Validate"}
CAMERAS = ("C1", "C2", "C3")
LAYOUT = "a .mat with poses_3d (T, 15, 3) mm and poses_2d (3, T, 15, 2) px"

# First mocap frame of each converted file (VideoPose3D's prepare_data_humaneva.py, ``index``).
START = {
    "Train/S1": {"Walking 1": 590, "Jog 1": 367, "ThrowCatch 1": 473, "Gestures 1": 395, "Box 1": 385},
    "Train/S2": {"Walking 1": 438, "Jog 1": 398, "ThrowCatch 1": 550, "Gestures 1": 500, "Box 1": 382},
    "Train/S3": {"Walking 1": 448, "Jog 1": 401, "ThrowCatch 1": 493, "Gestures 1": 533, "Box 1": 512},
    "Validate/S1": {"Walking 1": 5, "Jog 1": 5, "ThrowCatch 1": 5, "Gestures 1": 5, "Box 1": 5},
    "Validate/S2": {"Walking 1": 5, "Jog 1": 5, "ThrowCatch 1": 5, "Gestures 1": 5, "Box 1": 5},
    "Validate/S3": {"Walking 1": 5, "Jog 1": 5, "ThrowCatch 1": 5, "Gestures 1": 5, "Box 1": 5},
}
# Video frames to skip per camera (C1, C2, C3) to synchronise with the mocap (same source, ``sync_data``).
SYNC = {
    "S1": {"Walking 1": (82, 81, 82), "Jog 1": (51, 51, 50), "ThrowCatch 1": (61, 61, 60),
           "Gestures 1": (45, 45, 44), "Box 1": (57, 57, 56)},
    "S2": {"Walking 1": (115, 115, 114), "Jog 1": (100, 100, 99), "ThrowCatch 1": (127, 127, 127),
           "Gestures 1": (122, 122, 121), "Box 1": (119, 119, 117)},
    "S3": {"Walking 1": (80, 80, 80), "Jog 1": (65, 65, 65), "ThrowCatch 1": (79, 79, 79),
           "Gestures 1": (83, 83, 82), "Box 1": (1, 1, 1)},
}


def normalize_action(name):
    """``"Walking_1"``, ``"Walking 1 chunk0"`` -> ``"Walking"``; ``"Jog 1"`` -> ``"Jog"``."""
    base = re.sub(r"(\s*chunk\d+)?$", "", str(name).replace("_", " ").strip())
    return re.sub(r"\s*\d+$", "", base)


def load_mat(path):
    """A converted ``.mat`` -> (poses_3d (T, 15, 3) world mm, poses_2d (3, T, 15, 2) px)."""
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise KfusionError(f"{path}: file not found (expected {LAYOUT})")
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as e:
        raise KfusionError(f"{path}: not a readable .mat file ({type(e).__name__}: {e})") from None
    missing = [k for k in ("poses_3d", "poses_2d") if k not in mat]
    if missing:
        raise KfusionError(f"{path}: missing variable(s) {missing}; expected {LAYOUT}")
    p3, p2 = np.asarray(mat["poses_3d"], np.float64), np.asarray(mat["poses_2d"], np.float64)
    if p3.ndim != 3 or p3.shape[1:] != (15, 3) or p2.shape != (3, len(p3), 15, 2):
        raise KfusionError(f"{path}: poses_3d {p3.shape}, poses_2d {p2.shape}; expected {LAYOUT}")
    return p3, p2


def load_extrinsics(path):
    """``{subject: {camera: {"R": (3, 3), "T": (3,), "K": (3, 3) or None}}}`` from the JSON file."""
    data = read_json(path)
    out = {}
    try:
        for s, cams in data.items():
            for c, v in cams.items():
                R, T = np.asarray(v["R"], np.float64), np.asarray(v["T"], np.float64).reshape(-1)
                K = None if v.get("K") is None else np.asarray(v["K"], np.float64)
                if R.shape != (3, 3) or T.shape != (3,) or (K is not None and K.shape != (3, 3)):
                    raise ValueError(f"{s}/{c}: R {R.shape}, T {T.shape}")
                out.setdefault(s, {})[c] = {"R": R, "T": T, "K": K}
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise KfusionError(f"{path}: {e}; expected {{subject: {{camera: {{'R': 3x3, 'T': [3], 'K'?: 3x3}}}}}} "
                           f"with X_cam = R X_world + T (mm)") from None
    return out


def video_path(root, subject, action_file, camera):
    """``S{n}/Image_Data/<Action>_<Trial>_(C{k}).avi``."""
    return Path(root) / subject / "Image_Data" / f"{action_file}_({camera}).avi"


def _camera(p3, p2c, ext):
    """(K, R, t, rms px or None) of one file's camera: given extrinsics, or the DLT fit."""
    ok = np.all(np.isfinite(p3), axis=(1, 2))
    if ext is not None and ext["K"] is not None:
        return ext["K"], ext["R"], ext["T"], None
    P, rms = common.fit_projection(p3[ok], p2c[ok])
    K, R, t = common.decompose_projection(P, p3[ok])
    if ext is not None:  # extrinsics given, intrinsics fitted to them: K = argmin |K X_cam - x|
        cam = p3[ok].reshape(-1, 3) @ ext["R"].T + ext["T"]
        xy, uv = cam[:, :2] / cam[:, 2:], p2c[ok].reshape(-1, 2)
        ax = np.linalg.lstsq(np.c_[xy, np.ones(len(xy))], uv[:, 0], rcond=None)[0]
        ay = np.linalg.lstsq(np.c_[xy[:, 1], np.ones(len(xy))], uv[:, 1], rcond=None)[0]
        K = np.array([[ax[0], ax[1], ax[2]], [0, ay[0], ay[1]], [0, 0, 1]])
        return K, ext["R"], ext["T"], None
    return K, R, t, rms


def sequences(poses_dir, split, subjects=SUBJECTS, actions=None):
    """Converted files of ``split`` (``train``/``test``): list of (subject, action file name, path)."""
    out = []
    for s in subjects:
        folder = Path(poses_dir) / SPLITS[split] / s
        if not folder.is_dir():
            raise KfusionError(f"{folder}: folder not found (expected converted_15j/{SPLITS[split]}/{s}/<Action>_<Trial>.mat)")
        for p in sorted(folder.glob("*.mat")):
            if actions and normalize_action(p.stem) not in actions:
                continue
            out.append((s, p.stem, p))
    return out


def iter_samples(root, split, seqs, *, camera="C1", extrinsics=None, every=1, image_size=128, margin=0.2,
                 residuals=None):
    """Yield record samples of ``seqs`` (from :func:`sequences`) for one camera."""
    k = CAMERAS.index(camera)
    for subject, action_file, path in seqs:
        p3, p2 = load_mat(path)
        key = action_file.replace("_", " ")
        try:
            start = START[f"{SPLITS[split]}/{subject}"][key]
            sync = SYNC[subject][key][k]
        except KeyError:
            raise KfusionError(f"{path}: no frame offsets for {SPLITS[split]}/{subject} {key!r}; known: "
                               f"{sorted(START.get(f'{SPLITS[split]}/{subject}', {}))}") from None
        ext = None if extrinsics is None else extrinsics.get(subject, {}).get(camera)
        if extrinsics is not None and ext is None:
            raise KfusionError(f"extrinsics file has no {subject}/{camera}")
        K, R, t, rms = _camera(p3, p2[k], ext)
        if residuals is not None and rms is not None:
            residuals[f"{subject}/{action_file}/{camera}"] = round(rms, 3)
        ok = np.all(np.isfinite(p3), axis=(1, 2)) & np.all(np.isfinite(p2[k]), axis=(1, 2))
        keep = [t_ for t_ in range(0, len(p3), int(every)) if ok[t_]]
        by_video = {start + t_ + sync - 1: t_ for t_ in keep}
        got = 0
        for vf, image in video.read_frames(video_path(root, subject, action_file, camera), by_video):
            t_ = by_video[vf]
            got += 1
            yield common.crop_sample(image, p2[k, t_], p3[t_] @ R.T + t, K, image_size=image_size,
                                       margin=margin, subject=subject, action=normalize_action(action_file),
                                       camera=camera, frame=start + t_, source=SOURCE)
        if got < len(by_video):
            raise KfusionError(f"{video_path(root, subject, action_file, camera)}: has {got} of the "
                               f"{len(by_video)} frames the poses need (sync offset {sync})")


def prepare(root, poses, out, *, camera="C1", subjects=SUBJECTS, actions=None, extrinsics=None, every=1,
            image_size=128, margin=0.2, num_shards=None):
    """Convert HumanEva-I (videos in ``root``, converted poses in ``poses``); return the manifest."""
    if camera not in CAMERAS:
        raise KfusionError(f"camera {camera!r}; expected one of {list(CAMERAS)}")
    bad = [s for s in subjects if s not in SUBJECTS]
    if bad:
        raise KfusionError(f"subjects {bad}; expected some of {list(SUBJECTS)}")
    ext = None if extrinsics is None else load_extrinsics(extrinsics)
    residuals = {}
    splits = {}
    for split in SPLITS:
        seqs = sequences(poses, split, subjects, actions)
        splits[split] = (iter_samples(root, split, seqs, camera=camera, extrinsics=ext, every=every,
                                      image_size=image_size, margin=margin, residuals=residuals),
                         len(seqs) * 500 // int(every))
    # ``residuals`` fills while the splits are written, before write_dataset writes the manifest.
    gen = {"reader": "kfusion.datasets.humaneva", "root": str(root), "poses": str(poses), "camera": camera,
           "splits": {"train": "Train sequences of S1-S3", "test": "Validate sequences of S1-S3"},
           "units": "poses_3d of the conversion are mm", "every": int(every), "margin": margin,
           "camera_source": "extrinsics file" if ext is not None else "DLT fit per file (2D-3D)",
           "reprojection_rms_px": residuals}
    manifest = common.write_dataset(out, splits, skeleton=SKELETON, image_size=image_size, source=SOURCE,
                                      generator=gen, num_shards=num_shards)
    return manifest


def prepare_from_args(args):
    m = prepare(args.root, args.poses, args.out, camera=args.camera, subjects=args.subjects,
                actions=args.actions, extrinsics=args.extrinsics, every=args.every, image_size=args.image_size,
                margin=args.margin, num_shards=args.shards)
    print(common.summary(SOURCE, m, args.out))
    return 0
