"""A teacher's 3D pose for photographs that have 2D labels only (``kfusion prepare teacher``).

A photograph's 2D joints say nothing of depth: the fusion network learns it from the renders alone
(``kfusion.models.losses``: the projection and symmetry terms). BlazePose-full (``kfusion.peers``,
Apache-2.0) predicts 3D world landmarks on real photographs; ``label`` runs it once over a split of
2D-only records and keeps, per photograph, its 3D of the 12 limb joints in the 3D skeleton's order
(mm, camera-aligned axes: x right, y down, z away) where the teacher can be trusted: projected by
the scaled orthographic camera that fits it best (``geometry.fit_orthographic``, the 3D fit of the
photo tables), its 3D must put at least ``MIN_AGREEMENT`` of the photograph's labelled limb joints
within PCK@``AGREEMENT_PCK`` of the torso (``agreement``). The others get weight 0: the label decides
which of the teacher's poses are taught, so its failures are not.

The file ``DIR/teacher-{split}.npz`` (beside the records) holds ``frames`` (N,) int64 (the records'
frame ids), ``pose_3d`` (N, J, 3) float32, ``weight`` (N, J) float32 (1 where taught), ``agreement``
(N,) float32 and the teacher's name. ``load`` aligns it to a cache's frames; the fusion stage's loss
(``pose_loss``, ``fusion.teacher_weight``) compares the predicted pose with it after centring both on
the taught joints and scaling the prediction (``teacher_loss``): the teacher's body size and its hip
convention (higher and wider than Human3.6M's) are not taught, its pose is.
"""
import sys
from pathlib import Path

import numpy as np

from kfusion import geometry, skeletons
from kfusion.errors import KfusionError
from kfusion.io import atomic_path, load_npz

FILE = "teacher-{split}.npz"
TAUGHT_JOINTS = skeletons.LIMB_JOINTS
AGREEMENT_PCK = 0.2  # a teacher's 2D joint agrees with the label within this fraction of the torso
MIN_AGREEMENT = 0.75  # the share of the labelled limb joints that must agree for the pose to be taught
MIN_LABELLED = 6  # fewer labelled limb joints than this and the photograph is not taught


def path_for(records, split):
    return Path(records) / FILE.format(split=split)


def require(records, split):
    """The path of ``teacher-{split}.npz`` beside ``records``; KfusionError naming the command that makes it
    when it is not there."""
    path = path_for(records, split)
    if not path.is_file():
        raise KfusionError(f"{path}: not found; fusion.teacher_weight > 0 needs a teacher's 3D beside the records "
                           f"(kfusion prepare teacher --records {records} --peer pose_landmark_full.tflite)")
    return path


def agreement(teacher_3d, label_2d, visible, torso):
    """The share of the ``visible`` joints where ``teacher_3d`` (J, 3), projected by the scaled orthographic
    camera that fits them best, is within ``AGREEMENT_PCK * torso`` of ``label_2d`` (J, 2) px; NaN when
    fewer than ``MIN_LABELLED`` are visible."""
    if int(np.sum(visible)) < MIN_LABELLED or not torso > 0:
        return float("nan")
    fit = geometry.fit_orthographic(np.asarray(teacher_3d, np.float64), np.asarray(label_2d, np.float64), visible)
    d = np.linalg.norm(fit[visible] - label_2d[visible], axis=-1)
    return float(np.mean(d <= AGREEMENT_PCK * torso))


def label(records, split, peer, *, skeleton="h36m17", log=None):
    """Run ``peer`` (a :class:`kfusion.peers.BlazePoseFull`) over ``split`` of the 2D-only records ``records``;
    write and return ``teacher-{split}.npz`` (module docstring) -> (path, summary dict)."""
    from kfusion.data.records import iterate_samples, read_manifest

    if not Path(records, "manifest.json").is_file():
        raise KfusionError(f"{records}: no records here (expected manifest.json of `kfusion prepare lsp|mpii`)")
    m = read_manifest(records)
    if split not in m["splits"]:
        raise KfusionError(f"{records}: no split {split!r} (has {sorted(m['splits'])})")
    rec_skel = skeletons.get(m["skeleton"])
    skel3 = skeletons.get(skeleton)
    missing = [j for j in TAUGHT_JOINTS if j not in rec_skel.joints]
    if missing:
        raise KfusionError(f"{records}: skeleton {rec_skel.name} lacks the limb joints {missing}; "
                           "expected 2D labels of the 12 limb joints (e.g. lsp14, mpii16, coco17)")
    peer_skel = skeletons.get(peer.skeleton)
    rec_ix = [rec_skel.index(j) for j in TAUGHT_JOINTS]
    peer_ix = [peer_skel.index(j) for j in TAUGHT_JOINTS]
    out_ix = [skel3.index(j) for j in TAUGHT_JOINTS]
    torso_ix = rec_skel.index("l_shoulder"), rec_skel.index("r_hip")
    frames, poses, weights, agree = [], [], [], []
    count = int(m["splits"][split]["count"])
    for k, sample in enumerate(iterate_samples(records, split)):
        _, world = peer.predict(sample["image"])
        label_2d = sample["joints_2d"][rec_ix]
        visible = sample["visibility"][rec_ix] > 0
        torso = float(np.linalg.norm(sample["joints_2d"][torso_ix[0]] - sample["joints_2d"][torso_ix[1]]))
        a = agreement(world[peer_ix], label_2d, visible, torso)
        pose = np.zeros((skel3.num_joints, 3), np.float32)
        pose[out_ix] = world[peer_ix]
        w = np.zeros(skel3.num_joints, np.float32)
        w[out_ix] = float(a >= MIN_AGREEMENT)  # NaN (too few labels) compares False
        frames.append(int(sample["frame"]))
        poses.append(pose)
        weights.append(w)
        agree.append(a)
        if log is not None and (k + 1) % 500 == 0:
            print(f"kfusion: teacher {k + 1}/{count}", file=log)
    frames = np.asarray(frames, np.int64)
    if len(np.unique(frames)) != len(frames):
        raise KfusionError(f"{records}: split {split!r} has repeated frame ids; the teacher is aligned by them")
    arrays = {"frames": frames, "pose_3d": np.stack(poses), "weight": np.stack(weights),
              "agreement": np.asarray(agree, np.float32), "skeleton": np.asarray(skel3.name),
              "teacher": np.asarray(type(peer).__name__)}
    path = path_for(records, split)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    taught = arrays["weight"][:, out_ix[0]] > 0
    summary = {"path": str(path), "photographs": len(frames), "taught": int(taught.sum()),
               "median_agreement": float(np.nanmedian(arrays["agreement"])) if len(frames) else float("nan")}
    return path, summary


def load(records, split, frames, skeleton):
    """``(pose_3d (N, J, 3), weight (N, J))`` of ``teacher-{split}.npz`` in the order of ``frames`` (a
    cache's); photographs the file does not hold get weight 0."""
    path = require(records, split)
    z = load_npz(path, required=["frames", "pose_3d", "weight", "skeleton"])
    if str(z["skeleton"]) != skeleton:
        raise KfusionError(f"{path}: teacher poses in skeleton {str(z['skeleton'])!r}; expected {skeleton!r} "
                           f"(rerun `kfusion prepare teacher --records {records}`)")
    where = {int(f): i for i, f in enumerate(z["frames"])}
    pose = np.zeros((len(frames),) + z["pose_3d"].shape[1:], np.float32)
    weight = np.zeros((len(frames),) + z["weight"].shape[1:], np.float32)
    for i, f in enumerate(np.asarray(frames)):
        j = where.get(int(f))
        if j is not None:
            pose[i], weight[i] = z["pose_3d"][j], z["weight"][j]
    return pose, weight


def prepare_from_args(args):
    """``kfusion prepare teacher``: label the splits of ``--records`` (module docstring)."""
    from kfusion.peers import BlazePoseFull

    peer = BlazePoseFull(args.peer)
    for split in args.split:
        path, summary = label(args.records, split, peer, log=sys.stderr)
        print(f"kfusion: {summary['taught']} of {summary['photographs']} photographs of '{split}' taught "
              f"(median agreement {summary['median_agreement']:.2f}) -> {path}", file=sys.stderr)
    return 0
