"""Real photographs: 2D accuracy of kfusion and of a peer (MediaPipe BlazePose-full) on the same crops,
and how well each one's 3D pose fits the photo.

Two sets, one scoring (:func:`score`) and one table writer (:func:`markdown`):
- LSP-extended (``joints.mat`` (14, 3, N), 1 = visible, + ``images/``), the held-out images 5001-6000
  by default (no kfusion model trains on them). Each person is cut out as the square box around its
  annotated joints with margin 0.2 (the crop kfusion trains on).
- COCO 2017 person keypoints (``kfusion.datasets.coco``; everyday scenes, far from LSP's athletes):
  the people with at least ``COCO_MIN_LIMBS`` labelled limb joints (v >= 1) and a labelled left shoulder
  and right hip, each cut out as the square of 1.3 x their labelled joints' extent, centred on it;
  also on the crops that kfusion's own person detector picks (``Estimator.predict_people``).
Both methods see the same crop, each resized to its own input size.

Metrics (visible joints only):
- PCK@0.2: a joint is correct within 0.2 x the torso diameter (left shoulder to right hip, full-image
  pixels). ``limbs`` are the 12 joints both methods have (ankles, knees, hips, wrists, elbows,
  shoulders); kfusion's neck and head top are reported per joint.
- 3D fit: a method's 3D pose (kfusion's ``pose_3d``; BlazePose's 3D world landmarks, hip-centred, x
  right and y down like the image) mapped to LSP's joints and projected by the best-fitting scaled
  orthographic camera of the camera frame (x, y scaled, shifted; least squares on the visible limbs),
  then PCK@0.2 as above: the 3D pose agrees with the photo when this is close to the 2D PCK.
- Left/right asymmetry: mean over upper arm, forearm, thigh and shin of |L - R| / mean(L, R), in %,
  of a method's 3D bones (people are nearly symmetric: a few % at most).
- Left/right swaps: the share of people of whose labelled limb joints at least ``SWAP_SHARE`` more are
  right once the 2D's left and right joints are exchanged (the person seen facing the other way; a
  joint or two right by chance does not count).
- Time per image, batch 1, each method's own resize and inference (the same crop cut once).
- Uncertainty: a few hundred people decide these percentages, so each PCK carries its standard error
  and kfusion's difference to the peer (and its ratio, with a 95 % interval) theirs, from the people
  resampled with replacement, the same draws for both methods (:func:`uncertainty`).
"""
import time
from pathlib import Path

import numpy as np

from kfusion import geometry, skeletons
from kfusion.datasets import coco, lsp
from kfusion.errors import KfusionError
from kfusion.eval import metrics

LSP = skeletons.LSP14
LIMBS = skeletons.LIMB_JOINTS
HELD_OUT = lsp.HELD_OUT  # 0-based [first, last): images im05001 .. im06000
# the splits of ``kfusion prepare lsp`` that no model trains on: ``val`` to choose settings (for
# example test-time mirroring), ``test`` (held out) for the reported numbers
SPLITS = {"val": lsp.VALIDATION, "test": lsp.HELD_OUT}
SYMMETRIC_BONES = (("l_shoulder", "l_elbow", "r_shoulder", "r_elbow"), ("l_elbow", "l_wrist", "r_elbow", "r_wrist"),
                   ("l_hip", "l_knee", "r_hip", "r_knee"), ("l_knee", "l_ankle", "r_knee", "r_ankle"))
# result key -> table label of each method, in table order
METHODS = {"kfusion": "kfusion", "blazepose": "BlazePose-full (MediaPipe)"}
COCO_MIN_LIMBS = 6  # labelled limb joints a COCO person needs to be scored
# COCO's v: 2 visible, 1 labelled but occluded. Both are scored (and count for the selection): an occluded
# joint has a position all the same, and the outside measurement this set was described with (the
# shipped model 26.4 %, BlazePose-full 44.4 %, 148 people) counted them; v = 2 alone leaves 103 people.
COCO_MIN_FLAG = 1
COCO_MARGIN = 0.15  # the COCO crop: (1 + 2 x 0.15) = 1.3 x the visible joints' extent
SWAP_SHARE = 0.25  # a person is seen swapped when the exchange rights this share of their limb joints more
BOOTSTRAP_DRAWS = 2000  # resamplings of the people for the standard errors
DETECTION_IOU = 0.3  # a detected person is the annotated one when their boxes overlap this much


def torso_diameter(joints):
    """(N,) full-image px: left shoulder to right hip of LSP joints (N, 14, 2)."""
    return np.linalg.norm(joints[:, LSP.index("l_shoulder")] - joints[:, LSP.index("r_hip")], axis=-1)


def person_box(joints, visibility, margin=0.2):
    """The square crop (x0, y0, side) around the visible joints (all joints if none is visible)."""
    vis = visibility > 0 if np.any(visibility > 0) else np.ones(len(joints), bool)
    return geometry.square_box(joints, margin=margin, visibility=vis)


def to_lsp(pose, skeleton):
    """``pose`` (J, D) in ``skeleton``'s order -> (14, D) float64 in LSP's, NaN where LSP has no counterpart."""
    src, dst = skeletons.mapping(skeleton, "lsp14")
    out = np.full((LSP.num_joints, np.shape(pose)[-1]), np.nan)
    out[dst] = np.asarray(pose, dtype=np.float64)[src]
    return out


def read_heldout(root, first=HELD_OUT[0], last=HELD_OUT[1]):
    """(image paths, joints (N, 14, 2) corner-convention px, visibility (N, 14)) of images first..last-1."""
    root = Path(root)
    xy, vis, _ = lsp.load_joints(root / "joints.mat")
    if not 0 <= first < last <= len(xy):
        raise KfusionError(f"{root}: held-out images {first + 1}..{last}; the file has {len(xy)}")
    idx = np.arange(first, last)
    return [lsp.image_path(root / "images", int(i)) for i in idx], xy[idx], vis[idx]


def asymmetry(pose_3d_lsp):
    """Mean relative left/right difference (%) of the symmetric bones of LSP-ordered 3D poses (N, 14, 3)."""
    out = []
    for a, b, c, d in SYMMETRIC_BONES:
        left = np.linalg.norm(pose_3d_lsp[:, LSP.index(a)] - pose_3d_lsp[:, LSP.index(b)], axis=-1)
        right = np.linalg.norm(pose_3d_lsp[:, LSP.index(c)] - pose_3d_lsp[:, LSP.index(d)], axis=-1)
        out.append(np.abs(left - right) / np.maximum((left + right) / 2, 1e-9))
    return 100.0 * float(np.mean(out))


def predict_crops(estimator, peer, images, boxes, log=None):
    """kfusion (an :class:`kfusion.runtime.estimator.Estimator`) and optionally ``peer``
    (:class:`BlazePoseFull`) on the same square crops ``boxes`` (N, 3) (x0, y0, side) px of the
    photographs ``images`` (N paths; a path repeated in a row is read once).

    Returns {method: {"pose_2d": (N, 14, 2) full-image px, "pose_3d": (N, 14, 3) mm, both in LSP's
    order (NaN where the method has no such joint), "seconds": (N,) its predict call alone}}.
    """
    from kfusion.images import read_image

    def kfusion_on(crop):
        out = estimator.predict_crops(crop[None])
        return out["pose_2d"][0], out["pose_3d"][0]

    runs = {"kfusion": (kfusion_on, estimator.input_size, estimator.skeleton_2d, estimator.skeleton_3d)}
    if peer is not None:
        runs["blazepose"] = (peer.predict, peer.size, peer.skeleton, peer.skeleton)
    n = len(images)
    out = {m: {"pose_2d": np.full((n, LSP.num_joints, 2), np.nan), "pose_3d": np.full((n, LSP.num_joints, 3), np.nan),
               "seconds": np.zeros(n)} for m in runs}
    path, image = None, None
    for i, box in enumerate(boxes):
        if images[i] != path:
            path, image = images[i], read_image(images[i])
        for m, (predict, size, skeleton_2d, skeleton_3d) in runs.items():
            crop = geometry.crop_image(image, box, size)
            t0 = time.perf_counter()
            pose_2d, pose_3d = predict(crop)
            out[m]["seconds"][i] = time.perf_counter() - t0
            out[m]["pose_2d"][i] = to_lsp(geometry.crop_to_image(pose_2d, box, size), skeleton_2d)
            out[m]["pose_3d"][i] = to_lsp(pose_3d, skeleton_3d)
        if log and (i + 1) % 200 == 0:
            print(f"photos: {i + 1}/{n}", file=log)
    return out


def score(gt, vis, predictions, threshold=0.2, missed=None):
    """PCK of each method's 2D and projected 3D, and its 3D's asymmetry, on LSP-ordered ``gt`` (N, 14, 2)
    full-image px with ``vis`` (N, 14) (> 0 scored); ``predictions`` as :func:`predict_crops` returns.
    ``missed`` (N,) bool: people no crop was found for, whose visible joints count as wrong.

    Returns a JSON-ready dict: ``count``, ``threshold``, ``normaliser`` and for each method ``m``:
    ``m_2d`` and ``m_3d_fit`` ({"pck_limbs": %, "per_joint": {joint: % or None}}),
    ``m_asymmetry_pct``, ``m_swapped_pct`` (people whose exchanged left and right 2D joints score better
    by ``SWAP_SHARE`` of their limb joints)
    and ``m_ms`` (median per crop); the standard errors of :func:`uncertainty`.
    """
    limb = np.array([LSP.index(j) for j in LIMBS])
    missed = np.zeros(len(gt), bool) if missed is None else np.asarray(missed, bool)
    norm = torso_diameter(gt)
    ok = norm > 0
    result = {"count": int(ok.sum()), "threshold": threshold,
              "normaliser": "torso diameter (left shoulder to right hip)"}

    def correct(pred):  # (N ok, 14): 1, 0, NaN (not counted)
        has = np.isfinite(pred[..., 0])
        per = metrics.pck(np.nan_to_num(pred[ok]), gt[ok], threshold, normaliser=norm[ok],
                          visibility=vis[ok] * has[ok], per_joint=True)
        outputs = has[~missed].any(axis=0)  # the joints this method predicts
        per[missed[ok]] = np.where((vis[ok][missed[ok]] > 0) & outputs, 0.0, np.nan)
        return per

    cells = {}  # "m_2d" / "m_3d_fit" -> (N ok, 12) limb cells, for the standard errors
    for m, p in predictions.items():
        seen = (vis > 0) & np.isin(np.arange(LSP.num_joints), limb) & np.isfinite(p["pose_3d"][..., 0])
        fit = np.full(gt.shape, np.nan)
        for i in np.flatnonzero((seen.sum(1) >= 2) & ~missed):
            fit[i] = geometry.fit_orthographic(p["pose_3d"][i], gt[i], seen[i])
        for kind, pred in (("2d", p["pose_2d"]), ("3d_fit", fit)):
            per = correct(pred)
            cells[f"{m}_{kind}"] = per[:, limb]
            result[f"{m}_{kind}"] = {
                "pck_limbs": 100.0 * float(np.nanmean(per[:, limb])),
                "per_joint": {j: (100.0 * float(np.nanmean(per[:, c])) if np.isfinite(per[:, c]).any() else None)
                              for c, j in enumerate(LSP.joints)}}
        as_is = cells[f"{m}_2d"]
        gain = np.nansum(correct(p["pose_2d"][:, LSP.flip_permutation])[:, limb], axis=1) - np.nansum(as_is, axis=1)
        labelled = np.isfinite(as_is).sum(axis=1)
        result[f"{m}_swapped_pct"] = 100.0 * float(np.mean((gain > 0) & (gain >= SWAP_SHARE * labelled)))
        result[f"{m}_asymmetry_pct"] = asymmetry(p["pose_3d"][~missed])
        result[f"{m}_ms"] = 1000.0 * float(np.median(p["seconds"][~missed])) if (~missed).any() else None
    result.update(uncertainty(cells, result))
    return result


def uncertainty(cells, result, draws=BOOTSTRAP_DRAWS):
    """Each PCK's standard error (``se`` beside its ``pck_limbs`` in ``result``) and, with both methods,
    ``versus_peer``: kfusion's 2D and projected 3D against the peer's on the same people (``difference``
    in points and its ``se``, ``ratio`` and its 95 % interval), from ``draws`` resamplings of the people
    (``metrics.bootstrap_percentages``). Returns the keys to add; sets the ``se`` in place."""
    keys = [k for k in cells if np.isfinite(cells[k]).any()]
    if not keys or len(next(iter(cells.values()))) < 2:
        return {}
    redrawn = dict(zip(keys, metrics.bootstrap_percentages([cells[k] for k in keys], draws).T))
    for k in keys:
        result[k]["se"] = float(np.nanstd(redrawn[k], ddof=1))
    out = {}
    for kind in ("2d", "3d_fit"):
        a, b = redrawn.get(f"kfusion_{kind}"), redrawn.get(f"blazepose_{kind}")
        if a is None or b is None:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)
        ka, kb = result[f"kfusion_{kind}"]["pck_limbs"], result[f"blazepose_{kind}"]["pck_limbs"]
        out.setdefault("versus_peer", {"draws": int(draws)})[kind] = {
            "difference": ka - kb, "se": float(np.nanstd(a - b, ddof=1)),
            "ratio": ka / kb if kb > 0 else None,
            "ratio_95": ([float(np.nanpercentile(ratio, 2.5)), float(np.nanpercentile(ratio, 97.5))]
                         if kb > 0 and np.isfinite(ratio).any() else None)}
    return out


def evaluate(estimator, root, *, peer=None, first=HELD_OUT[0], last=HELD_OUT[1], threshold=0.2, log=None):
    """kfusion and optionally ``peer`` on the held-out LSP-extended photographs; returns :func:`score`'s
    dict with ``images`` and ``markdown``."""
    paths, gt, vis = read_heldout(root, first, last)
    boxes = [person_box(gt[i], vis[i]) for i in range(len(paths))]
    result = {"images": f"LSP-extended im{first + 1:05d}..im{last:05d}"}
    result.update(score(gt, vis, predict_crops(estimator, peer, paths, boxes, log), threshold))
    result["markdown"] = markdown(result)
    return result


def coco_people(root, min_limbs=COCO_MIN_LIMBS):
    """The scored people of a COCO keypoints folder: (list of :class:`kfusion.datasets.coco.Person`,
    LSP-ordered joints (N, 14, 2) corner px, visibility (N, 14): 1 where COCO's v >= ``COCO_MIN_FLAG``).

    A person is scored with at least ``min_limbs`` labelled limb joints, the left shoulder and the
    right hip among them (the torso diameter that PCK is relative to)."""
    people, joints, vis = [], [], []
    need = [LSP.index("l_shoulder"), LSP.index("r_hip")]
    for p in coco.read_people(root):
        v = np.nan_to_num(to_lsp((p.flags >= COCO_MIN_FLAG)[:, None].astype(np.float64), "coco17")[:, 0])
        if v.sum() >= min_limbs and v[need].all():
            people.append(p)
            joints.append(to_lsp(p.joints, "coco17"))
            vis.append(v)
    return people, np.asarray(joints).reshape(-1, LSP.num_joints, 2), np.asarray(vis).reshape(-1, LSP.num_joints)


def square_iou(boxes, square):
    """IoU of boxes (N, 4) (x, y, w, h) px with one square (x0, y0, side) px -> (N,)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x0, y0, side = (float(v) for v in square)
    w = np.clip(np.minimum(b[:, 0] + b[:, 2], x0 + side) - np.maximum(b[:, 0], x0), 0, None)
    h = np.clip(np.minimum(b[:, 1] + b[:, 3], y0 + side) - np.maximum(b[:, 1], y0), 0, None)
    return w * h / (b[:, 2] * b[:, 3] + side * side - w * h)


def detected_boxes(estimator, people):
    """For each COCO person, the square crop box (x0, y0, side) that kfusion's person detector gives the
    person best matching them (greedy, by IoU of the detector's whole-body box with the square around the
    COCO box, at least ``DETECTION_IOU``), or NaN: (N, 3) px, and the matched IoUs (N,)."""
    from kfusion.images import read_image

    boxes, ious = np.full((len(people), 3), np.nan), np.zeros(len(people))
    for path in dict.fromkeys(p.image for p in people):
        found = estimator.predict_people(read_image(path))
        mine = [i for i, p in enumerate(people) if p.image == path]
        if not found:
            continue
        squares = [geometry.square_box(people[i].bbox.reshape(2, 2).cumsum(0), margin=0.0) for i in mine]
        iou = np.stack([square_iou([r["box"] for r in found], s) for s in squares])  # (people, detections)
        while iou.size and iou.max() >= DETECTION_IOU:
            a, d = np.unravel_index(np.argmax(iou), iou.shape)
            boxes[mine[a]], ious[mine[a]] = found[d]["crop_box"], iou[a, d]
            iou[a, :], iou[:, d] = -1.0, -1.0
    return boxes, ious


def evaluate_coco(estimator, root, *, peer=None, limit=None, threshold=0.2, detector=True, log=None):
    """kfusion and optionally ``peer`` on the COCO people (:func:`coco_people`) of the first ``limit``
    images: on the crops around their annotated joints and (``detector``) on the crops of kfusion's person
    detector. Returns :func:`score`'s dict with ``images``, ``selection``, ``detector`` (its own scores,
    ``found`` of ``count``) and ``markdown``."""
    people, gt, vis = coco_people(root)
    if limit is not None:
        keep = set(list(dict.fromkeys(p.image for p in people))[:int(limit)])
        idx = [i for i, p in enumerate(people) if p.image in keep]
        people, gt, vis = [people[i] for i in idx], gt[idx], vis[idx]
    if not people:
        raise KfusionError(f"{root}: no person with {COCO_MIN_LIMBS} visible limb joints, the left shoulder and "
                           "the right hip among them")
    paths = [p.image for p in people]
    boxes = [person_box(gt[i], vis[i], margin=COCO_MARGIN) for i in range(len(people))]
    result = {"images": f"COCO 2017 person keypoints ({Path(root).name}), {len(set(paths))} images",
              "selection": f">= {COCO_MIN_LIMBS} labelled (v >= {COCO_MIN_FLAG}) limb joints incl. left shoulder and "
                           f"right hip; "
                           f"crop {1 + 2 * COCO_MARGIN:.1f} x the visible joints' extent"}
    result.update(score(gt, vis, predict_crops(estimator, peer, paths, boxes, log), threshold))
    if detector:
        found, ious = detected_boxes(estimator, people)
        missed = ~np.isfinite(found[:, 0])
        crops = np.where(missed[:, None], boxes, found)  # a missed person's crop is not scored
        result["detector"] = score(gt, vis, predict_crops(estimator, peer, paths, crops, log), threshold, missed)
        result["detector"].update(found=int((~missed).sum()), min_iou=DETECTION_IOU)
    result["markdown"] = markdown(result)
    return result


def summary_table(r):
    """The markdown table of :func:`score`'s dict ``r``: per method its 2D PCK and its projected 3D's PCK
    (± its standard error over the people) and asymmetry, then a line of kfusion against the peer."""
    from kfusion.eval.tables import format_value, markdown_table

    def cell(v):
        return format_value(v["pck_limbs"], 1) + (f" ± {v['se']:.1f}" if "se" in v else "")

    rows = []
    for m, label in METHODS.items():
        if f"{m}_2d" in r:
            rows.append([f"{label} 2D", cell(r[f"{m}_2d"]), "-", format_value(r.get(f"{m}_swapped_pct"), 1),
                         format_value(r[f"{m}_ms"], 2)])
            rows.append([f"{label} 3D, projected (scaled orthographic)", cell(r[f"{m}_3d_fit"]),
                         format_value(r[f"{m}_asymmetry_pct"], 1), "-", "-"])
    table = markdown_table(["Method", "PCK (12 limb joints, %, ± standard error)", "L/R bone asymmetry of the 3D (%)",
                            "people with left and right swapped (%)", "ms/image (batch 1)"], rows)
    versus = r.get("versus_peer")
    if not versus:
        return table
    parts = []
    for kind, what in (("2d", "2D"), ("3d_fit", "projected 3D")):
        if kind in versus:
            v = versus[kind]
            ratio = (f", {100 * v['ratio']:.0f} % of the peer's (95 % interval {100 * v['ratio_95'][0]:.0f}-"
                     f"{100 * v['ratio_95'][1]:.0f} %)") if v["ratio"] is not None else ""
            parts.append(f"{what} {v['difference']:+.1f} ± {v['se']:.1f} points{ratio}")
    peer = METHODS["blazepose"].split(" (")[0]
    return table + (f"\n\nkfusion against {peer} on the same people: " + "; ".join(parts) +
                    f" (± standard error; {versus['draws']} bootstrap resamplings of the people).")


def markdown(r):
    from kfusion.eval.tables import format_value, markdown_table

    per, joints = [], []
    for m, label in METHODS.items():
        for key, what in ((f"{m}_2d", "2D"), (f"{m}_3d_fit", "3D projected")):
            if key in r:
                per.append((f"{label.split(' (')[0]} {what}", r[key]["per_joint"]))
    joints = [j for j in LSP.joints if any(p.get(j) is not None for _, p in per)]
    lines = [f"**Real photographs: {r['images']}, {r['count']} people, PCK@{r['threshold']} of the "
             f"{r['normaliser']}, visible joints**", ""]
    if "selection" in r:
        lines += [f"People: {r['selection']}.", ""]
    lines += [summary_table(r), "", markdown_table(["Per joint (%)", *joints],
                                                   [[name, *(format_value(p.get(j), 1) for j in joints)]
                                                    for name, p in per])]
    if "detector" in r:
        d = r["detector"]
        lines += ["", "**The same people on the crops of kfusion's person detector** (BlazePose detector on the "
                  f"whole image and its tiles; {d['found']} of {d['count']} found, IoU >= {d['min_iou']} with the "
                  "square around the COCO box; a person not found counts as wrong)", "", summary_table(d)]
    return "\n".join(lines)
