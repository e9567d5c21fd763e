"""Measure 3D predictions: overall and per-action MPJPE, PA-MPJPE, PCK3D and AUC."""
from pathlib import Path

import numpy as np

from kfusion.eval import metrics
from kfusion.eval.tables import per_action_table
from kfusion.io import write_json, write_text


def pose_metrics(pred, gt, root=0):
    """Per-pose errors of (N, J, 3) mm predictions: dict name -> (N,).

    ``mpjpe`` and ``pa_mpjpe`` in mm (Protocols 1 and 2), ``pck3d`` (150 mm) and ``auc3d`` in %.
    Predictions and targets are compared root-aligned on joint ``root`` (the skeleton's root:
    0 for h36m17, ``kfusion.skeletons.get(name).root`` in general).
    """
    pred = metrics.root_align(pred, gt, root=root)  # pred translated onto gt's root (gt unchanged)
    return {
        "mpjpe": metrics.mpjpe(pred, gt),
        "pa_mpjpe": metrics.pa_mpjpe(pred, gt),
        "pck3d": 100.0 * metrics.pck3d(pred, gt),
        "auc3d": 100.0 * metrics.auc3d(pred, gt),
    }


def summarize(pred, gt, actions, subjects=None, root=0):
    """Overall means and the per-action table (``root``: see ``pose_metrics``). Returns (summary, Table)."""
    errors = pose_metrics(pred, gt, root=root)
    table = per_action_table(errors, np.asarray(actions).astype(str), subjects=subjects)
    overall = {k: float(np.mean(v)) for k, v in errors.items()}
    summary = {"count": int(len(gt)), "overall": overall, "per_action": table.as_dict()}
    return summary, table


def report_markdown(summary, table, title="Evaluation"):
    o = summary["overall"]
    lines = [f"# {title}", "",
             f"{summary['count']} poses. MPJPE {o['mpjpe']:.2f} mm, PA-MPJPE {o['pa_mpjpe']:.2f} mm, "
             f"PCK3D@150mm {o['pck3d']:.1f} %, AUC {o['auc3d']:.1f} %.", "",
             "Per action (mm; PCK/AUC in %):", "", table.to_markdown()]
    return "\n".join(lines)


def write_report(summary, table, out_dir, title="Evaluation", stem="evaluation"):
    """Write ``<stem>.md`` and ``<stem>.json`` under ``out_dir``; returns the markdown."""
    out_dir = Path(out_dir)
    md = report_markdown(summary, table, title)
    write_text(out_dir / f"{stem}.md", md)
    write_json(out_dir / f"{stem}.json", summary)
    return md


def predict_records(model, data_dir, split, *, batch_size=32, input_size=None, limit=None):
    """Run an end-to-end model (uint8 image -> ``pose_3d``) over records.

    Returns (pred (N, J, 3) mm, gt (N, J, 3) mm root-relative, meta dict of (N,) arrays).
    """
    import tensorflow as tf

    from kfusion.data.pipeline import make_dataset
    from kfusion.data.records import read_manifest

    size = input_size or int(model.inputs[0].shape[1])
    # only pose_3d is compared: heatmap targets in the records' own skeleton need no joint mapping
    skeleton = read_manifest(data_dir)["skeleton"]
    ds = make_dataset(data_dir, split, batch_size=batch_size, training=False, input_size=size,
                      heatmap_size=max(size // 4, 1), heatmap_skeleton=skeleton, with_meta=True)
    call = tf.function(lambda x: model(x, training=False))
    preds, gts, meta = [], [], {"action": [], "subject": [], "frame": []}
    seen = 0
    for features, targets, m in _checked(ds, data_dir, split):
        image = tf.cast(tf.clip_by_value(tf.round(features["image"] * 255.0), 0, 255), tf.uint8)
        out = call(image)
        out = out["pose_3d"] if isinstance(out, dict) else out
        preds.append(np.asarray(out))
        gts.append(targets["pose_3d"].numpy())
        for k in meta:
            meta[k].append(m[k].numpy())
        seen += len(gts[-1])
        if limit and seen >= limit:
            break
    meta = {k: np.concatenate(v) for k, v in meta.items()}
    meta["action"], meta["subject"] = meta["action"].astype(str), meta["subject"].astype(str)
    return np.concatenate(preds), np.concatenate(gts), meta


def _checked(ds, data_dir, split):
    """Iterate ``ds``; a record whose data checksum fails is a one-line error naming the split."""
    import tensorflow as tf

    from kfusion.errors import KfusionError, tf_error_message

    it = iter(ds)
    while True:
        try:
            yield next(it)
        except StopIteration:
            return
        except tf.errors.DataLossError as e:
            raise KfusionError(f"{data_dir}: a corrupt {split} record ({tf_error_message(e)}); "
                               "write the records again") from None


def predict_pose_pairs(model, data_dir, split, *, batch_size=4096, limit=None):
    """Run a lifting model (``joints_2d`` full-image px -> ``pose_3d`` mm) over a pose-pair split
    (:mod:`kfusion.data.posepairs`).

    Returns (pred (N, J, 3) mm, gt (N, J, 3) mm root-relative, meta dict of (N,) arrays: action,
    subject, sequence, camera, frame).
    """
    from kfusion.data import posepairs
    from kfusion.errors import KfusionError
    from kfusion.skeletons import get as get_skeleton

    manifest = posepairs.read_manifest(data_dir)
    a = posepairs.read_split(data_dir, split)
    n = len(a["joints_3d"]) if not limit else min(int(limit), len(a["joints_3d"]))
    x = a["joints_2d"][:n]
    want = tuple(int(d) for d in model.inputs[0].shape[1:])
    if want != x.shape[1:]:
        raise KfusionError(f"{data_dir}: pose pairs have 2D joints {x.shape[1:]}; the model expects {want} "
                           f"(a lifting model: joints_2d -> pose_3d)")
    pred = np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                           for i in range(0, n, batch_size)])
    root = get_skeleton(manifest["skeleton"]).root
    gt = a["joints_3d"][:n] - a["joints_3d"][:n, root:root + 1]
    meta = {k: a[k][:n] for k in ("action", "subject", "sequence", "camera", "frame")}
    return pred, gt, meta


def predict_poses(model, cache, cfg, *, kind="fusion", batch_size=256):
    """Predictions (N, J, 3) mm of a fusion network or lifting baseline over a cache."""
    import tensorflow as tf

    from kfusion.data.cache import fusion_dataset, lifting_inputs

    if kind in ("lifting", "lifting_gt"):
        x = lifting_inputs(cache, ground_truth=kind == "lifting_gt")
        return np.concatenate([model(x[i:i + batch_size], training=False).numpy()
                               for i in range(0, len(x), batch_size)])
    ds = fusion_dataset(cache, cfg, training=False, batch_size=batch_size)
    call = tf.function(lambda f: model(f, training=False))
    return np.concatenate([call(f).numpy() for f, _ in ds])
