"""Pose-pair datasets: 2D joints and 3D joints with no image (what the lifting baseline learns from).

A folder with ``manifest.json`` (``"format": "kfusion-pose-pairs"``) and one ``<split>.npz`` per
split, written atomically and read without pickles. Arrays of a split (N samples, J joints):

==============  ==================  ===========================================================
key             shape, dtype        meaning
==============  ==================  ===========================================================
joints_2d       (N, J, 2) float32   full-image pixels (as the camera saw them, lens distortion
                                    included)
joints_3d       (N, J, 3) float32   camera coordinates, mm (not root-relative)
subject         (N,) str            e.g. ``S9``
action          (N,) str            Table 1 action name (``Walking Dog``)
sequence        (N,) str            the release's take name (``WalkDog 1``): takes kept apart
camera          (N,) str            camera id
frame           (N,) int64          frame index in the sequence as stored
frame_size      (N, 2) int32        (width, height) of the camera frame, px
==============  ==================  ===========================================================
"""
from pathlib import Path

import numpy as np

from kfusion import skeletons as _skeletons
from kfusion.data import records
from kfusion.errors import KfusionError
from kfusion.io import atomic_path, load_npz, read_json, write_json

FORMAT = "kfusion-pose-pairs"
VERSION = 1
MANIFEST = "manifest.json"
ARRAYS = ("joints_2d", "joints_3d", "subject", "action", "sequence", "camera", "frame", "frame_size")


def is_pose_pairs(path):
    """True when ``path`` is a pose-pair folder (its manifest says so)."""
    m = Path(path) / MANIFEST
    if not m.is_file():
        return False
    try:
        return read_json(m).get("format") == FORMAT
    except (KfusionError, AttributeError):
        return False


def write_split(out_dir, split, arrays):
    """Write ``out_dir/<split>.npz`` atomically after checking shapes; returns the sample count."""
    missing = [k for k in ARRAYS if k not in arrays]
    if missing:
        raise KfusionError(f"pose pairs '{split}': missing arrays {missing}; expected {list(ARRAYS)}")
    n = len(arrays["joints_3d"])
    j = arrays["joints_3d"].shape[1] if arrays["joints_3d"].ndim == 3 else -1
    if arrays["joints_3d"].shape != (n, j, 3) or arrays["joints_2d"].shape != (n, j, 2):
        raise KfusionError(f"pose pairs '{split}': joints_3d {arrays['joints_3d'].shape}, joints_2d "
                           f"{arrays['joints_2d'].shape}; expected (N, J, 3) and (N, J, 2)")
    for k in ARRAYS:
        if len(arrays[k]) != n:
            raise KfusionError(f"pose pairs '{split}': {k} has {len(arrays[k])} rows; expected {n}")
    out = {"joints_2d": np.asarray(arrays["joints_2d"], np.float32),
           "joints_3d": np.asarray(arrays["joints_3d"], np.float32),
           "frame": np.asarray(arrays["frame"], np.int64), "frame_size": np.asarray(arrays["frame_size"], np.int32)}
    for k in ("subject", "action", "sequence", "camera"):
        out[k] = np.asarray(arrays[k]).astype(str)
    path = Path(out_dir) / f"{split}.npz"
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **out)
    return n


def write_manifest(out_dir, *, skeleton, splits, source, generator=None):
    """``out_dir/manifest.json``: format, skeleton name, ``{split: {"count": N}}``, source, generator."""
    manifest = {"format": FORMAT, "version": VERSION, "skeleton": skeleton if isinstance(skeleton, str) else skeleton.name,
                "splits": {s: {"count": int(c)} for s, c in splits.items()}, "source": str(source),
                "generator": generator or {}}
    write_json(Path(out_dir) / MANIFEST, manifest)
    return manifest


def read_manifest(path):
    """The manifest of a pose-pair folder, validated -> dict."""
    path = Path(path)
    mpath = path / MANIFEST if path.is_dir() else path
    m = read_json(mpath)
    records.check_manifest_header(m, mpath, fmt=FORMAT, version=VERSION, keys=("skeleton", "splits", "source"))
    return m


def read_split(data_dir, split):
    """The arrays of one split (dict, see the module table); checks them against the manifest."""
    data_dir = Path(data_dir)
    m = read_manifest(data_dir)
    if split not in m["splits"]:
        raise KfusionError(f"{data_dir}: no split {split!r}; the manifest lists {sorted(m['splits'])}")
    path = data_dir / f"{split}.npz"
    arrays = load_npz(path, required=ARRAYS)
    n, want = len(arrays["joints_3d"]), int(m["splits"][split]["count"])
    if n != want:
        raise KfusionError(f"{path}: {n} samples but {data_dir / MANIFEST} says {want}; rewrite the dataset")
    skel = _skeletons.get(m["skeleton"])
    if arrays["joints_3d"].shape[1:] != (skel.num_joints, 3) or arrays["joints_2d"].shape[1:] != (skel.num_joints, 2):
        raise KfusionError(f"{path}: joints {arrays['joints_3d'].shape[1:]} / {arrays['joints_2d'].shape[1:]}; "
                           f"expected ({skel.num_joints}, 3) / ({skel.num_joints}, 2) of {skel.name}")
    return arrays


def training_arrays(data_dir, split):
    """A pose-pair split (:mod:`kfusion.data.posepairs`) as lifting inputs and targets.

    Returns (joints_2d (N, J, 2) float32 full-image px, pose_3d (N, J, 3) float32 mm root-relative on
    the skeleton's root, meta dict of (N,) labels: action, subject, sequence, camera, frame).
    """
    a = read_split(data_dir, split)
    root = _skeletons.get(read_manifest(data_dir)["skeleton"]).root
    pose = a["joints_3d"] - a["joints_3d"][:, root:root + 1]
    meta = {k: a[k] for k in ("action", "subject", "sequence", "camera", "frame")}
    return a["joints_2d"], pose.astype(np.float32), meta
