"""Real frames with true 3D joints (``kfusion.datasets.real3d``: Human3.6M and MPI-INF-3DHP): kfusion's
and BlazePose-full's 3D against the truth, frame by frame. Eight frames are a sanity check, not a
benchmark.

Both methods see the frame's square crop (its ``center`` and ``scale``), through
:func:`kfusion.eval.photos.predict_crops`. Only the joints that the truth and both methods name are
scored (the 12 limb joints of ``skeletons.LIMB_JOINTS``), where the truth marks them visible; the
root is their mid-hip (BlazePose has no pelvis). Per frame and method:
- MPJPE, root + scale (mm): both poses centred on the mid-hip, the prediction scaled by the
  least-squares factor (``metrics.n_mpjpe``): monocular 3D has no absolute size.
- PA-MPJPE (mm): after the similarity Procrustes alignment (``metrics.pa_mpjpe``, no reflection).
- 2D error: mean joint distance in full-image px, and as a fraction of the torso diameter (left
  shoulder to right hip of the true 2D joints).
BlazePose's 3D is its world landmarks (hip-centred, x right, y down, z away from the camera), in the
camera frame's orientation like kfusion's.
"""
from pathlib import Path

import numpy as np

from kfusion import skeletons
from kfusion.datasets import real3d
from kfusion.eval import metrics, photos

LSP = skeletons.LSP14
METRICS = (("mpjpe_scaled_mm", "MPJPE root+scale (mm)", 1), ("pa_mpjpe_mm", "PA-MPJPE (mm)", 1),
           ("error_2d_px", "2D (px)", 1), ("error_2d_torso", "2D (/ torso)", 3))


def frame_errors(pred_3d, pred_2d, gt_3d, gt_2d, joints):
    """The metrics of one frame over the LSP joint indices ``joints``, rooted at their mid-hip (their mean
    where no hip is among them): dict of :data:`METRICS`' keys. Poses (14, 3) mm, (14, 2) px, LSP order."""
    root = [k for k, j in enumerate(joints) if LSP.joints[j] in ("l_hip", "r_hip")] or list(range(len(joints)))
    P, G = pred_3d[joints][None], gt_3d[joints][None]
    torso = float(photos.torso_diameter(gt_2d[None])[0])
    err_2d = float(np.mean(metrics.joint_errors(pred_2d[joints], gt_2d[joints])))
    return {"mpjpe_scaled_mm": float(metrics.n_mpjpe(P, G, root=root)[0]),
            "pa_mpjpe_mm": float(metrics.pa_mpjpe(P, G)[0]),
            "error_2d_px": err_2d, "error_2d_torso": err_2d / torso if torso > 0 else None}


def evaluate(estimator, root, *, peer=None, limit=None, log=None):
    """kfusion and optionally ``peer`` (:class:`kfusion.peers.BlazePoseFull`) on the real3d frames
    under ``root`` (the first ``limit``); returns a JSON-ready dict (``frames``, ``mean``, ``joints``,
    ``count``) with ``markdown``."""
    frames = real3d.read_frames(root)[:limit]
    gt_3d = np.stack([photos.to_lsp(f.joints_3d, f.skeleton) for f in frames])
    gt_2d = np.stack([photos.to_lsp(f.joints_2d, f.skeleton) for f in frames])
    vis = np.stack([np.nan_to_num(photos.to_lsp(f.visibility[:, None], f.skeleton)[:, 0]) for f in frames])
    preds = photos.predict_crops(estimator, peer, [f.image for f in frames], [f.box for f in frames], log)
    named = np.isfinite(gt_3d[..., 0]).all(0) & np.all([np.isfinite(p["pose_3d"][..., 0]).all(0)
                                                        for p in preds.values()], axis=0)
    shared = [j for j in skeletons.LIMB_JOINTS if named[LSP.index(j)]]
    rows = []
    for i, f in enumerate(frames):
        joints = [LSP.index(j) for j in shared if vis[i, LSP.index(j)] > 0]
        row = {"frame": f"{f.source}: {Path(f.image).name}", "skeleton": f.skeleton, "joints": len(joints)}
        for m, p in preds.items():
            row[m] = frame_errors(p["pose_3d"][i], p["pose_2d"][i], gt_3d[i], gt_2d[i], joints)
        rows.append(row)
    mean = {m: {k: float(np.mean([r[m][k] for r in rows if r[m][k] is not None])) for k, _, _ in METRICS}
            for m in preds}
    result = {"data": str(root), "count": len(rows), "joints": shared, "root": "mid-hip (l_hip, r_hip)",
              "methods": [photos.METHODS[m] for m in preds],
              "frames": rows, "mean": mean}
    result["markdown"] = markdown(result)
    return result


def markdown(r):
    from kfusion.eval.tables import format_value, markdown_table

    methods = [m for m in photos.METHODS if m in r["mean"]]
    header = ["Frame"] + [f"{photos.METHODS[m].split(' (')[0]} {label}" for m in methods for _, label, _ in METRICS]
    rows = [[row["frame"], *(format_value(row[m][k], d) for m in methods for k, _, d in METRICS)]
            for row in r["frames"]]
    rows.append([f"**Mean ({r['count']} frames)**", *(format_value(r["mean"][m][k], d) for m in methods
                                                      for k, _, d in METRICS)])
    return "\n".join([
        f"**Real frames with true 3D: {r['count']} frames of Human3.6M and MPI-INF-3DHP, the square crop of each "
        "frame's person box**", "",
        f"Joints scored ({len(r['joints'])}, those the truth and {' and '.join(r['methods'])} all name): "
        f"{', '.join(r['joints'])}; root {r['root']}. MPJPE after aligning the roots and the least-squares "
        "scale; PA-MPJPE after the similarity Procrustes alignment; 2D: mean error in full-image px and over "
        "the torso diameter (left shoulder to right hip).", "",
        markdown_table(header, rows)])
