"""Real photographs: 2D accuracy of kfusion and of a peer (MediaPipe BlazePose-full) on the same crops,
and how well kfusion's 3D pose fits the photo.

The data: LSP-extended (``joints.mat`` (14, 3, N), 1 = visible, + ``images/``), the held-out images
5001-6000 by default (no kfusion model trains on them). Each person is cut out as the square box
around its annotated joints with margin 0.2 (the crop kfusion trains on); both methods see that same
crop, each resized to its own input size.

Metrics (visible joints only):
- PCK@0.2: a joint is correct within 0.2 x the torso diameter (left shoulder to right hip, full-image
  pixels). ``limbs`` are the 12 joints both methods have (ankles, knees, hips, wrists, elbows,
  shoulders); kfusion's neck and head top are reported per joint.
- 3D fit: kfusion's ``pose_3d`` mapped to LSP's joints and projected by the best-fitting scaled
  orthographic camera of the camera frame (x, y scaled, shifted; least squares on the visible
  limbs), then PCK@0.2 as above: the 3D pose agrees with the photo when this is close to the 2D PCK.
- Left/right asymmetry: mean over upper arm, forearm, thigh and shin of |L - R| / mean(L, R), in %,
  of kfusion's 3D bones (people are nearly symmetric: a few % at most).
- Time per image, batch 1, each method's own resize and inference (the same crop cut once).
"""
import time
from pathlib import Path

import numpy as np

from kfusion import geometry, skeletons
from kfusion.datasets import lsp
from kfusion.errors import KfusionError
from kfusion.eval import metrics

LSP = skeletons.LSP14
LIMBS = skeletons.LIMB_JOINTS
HELD_OUT = lsp.HELD_OUT  # 0-based [first, last): images im05001 .. im06000
# the splits of ``kfusion prepare lsp`` that no model trains on: ``val`` to choose settings (for
# example test-time mirroring), ``test`` (held out) for the reported numbers
SPLITS = {"val": lsp.VALIDATION, "test": lsp.HELD_OUT}
# BlazePose's 33 landmarks -> LSP's limb joints (BlazePose lists left first: 11 left shoulder, ...)
BLAZEPOSE_TO_LSP = {"l_shoulder": 11, "r_shoulder": 12, "l_elbow": 13, "r_elbow": 14, "l_wrist": 15,
                    "r_wrist": 16, "l_hip": 23, "r_hip": 24, "l_knee": 25, "r_knee": 26, "l_ankle": 27,
                    "r_ankle": 28}
SYMMETRIC_BONES = (("l_shoulder", "l_elbow", "r_shoulder", "r_elbow"), ("l_elbow", "l_wrist", "r_elbow", "r_wrist"),
                   ("l_hip", "l_knee", "r_hip", "r_knee"), ("l_knee", "l_ankle", "r_knee", "r_ankle"))


def torso_diameter(joints):
    """(N,) full-image px: left shoulder to right hip of LSP joints (N, 14, 2)."""
    return np.linalg.norm(joints[:, LSP.index("l_shoulder")] - joints[:, LSP.index("r_hip")], axis=-1)


def person_box(joints, visibility, margin=0.2):
    """The square crop (x0, y0, side) around the visible joints (all joints if none is visible)."""
    vis = visibility > 0 if np.any(visibility > 0) else np.ones(len(joints), bool)
    return geometry.square_box(joints, margin=margin, visibility=vis)


class BlazePoseFull:
    """MediaPipe BlazePose-full landmarks (``pose_landmark_full.tflite``) on a square crop.

    ``predict(crop)`` -> (33, 2) landmarks in crop pixels. Input (1, 256, 256, 3) RGB in [0, 1]; the
    first output of 195 values holds 39 points x (x, y, z, visibility, presence) in input pixels.
    """

    size = 256

    def __init__(self, path):
        from ai_edge_litert.interpreter import Interpreter

        path = Path(path)
        if not path.is_file():
            raise KfusionError(f"{path}: BlazePose-full model not found (expected pose_landmark_full.tflite)")
        self._it = Interpreter(model_path=str(path))
        self._it.allocate_tensors()
        self._input = self._it.get_input_details()[0]["index"]
        outs = [o for o in self._it.get_output_details() if int(np.prod(o["shape"])) == 195]
        if not outs:
            raise KfusionError(f"{path}: no output of 195 values; expected MediaPipe pose_landmark_full")
        self._landmarks = outs[0]["index"]

    def __call__(self, x):
        """The network alone: x float32 (1, 256, 256, 3) RGB in [0, 1] -> (33, 2) landmarks, input px."""
        self._it.set_tensor(self._input, x)
        self._it.invoke()
        return self._it.get_tensor(self._landmarks).reshape(39, 5)[:33, :2].copy()

    def predict(self, crop):
        from PIL import Image

        h = crop.shape[0]
        x = np.asarray(Image.fromarray(crop).resize((self.size, self.size), Image.BILINEAR), np.float32) / 255.0
        return self(x[None]) * (h / self.size)


def read_heldout(root, first=HELD_OUT[0], last=HELD_OUT[1]):
    """(image paths, joints (N, 14, 2) corner-convention px, visibility (N, 14)) of images first..last-1."""
    root = Path(root)
    xy, vis, _ = lsp.load_joints(root / "joints.mat")
    if not 0 <= first < last <= len(xy):
        raise KfusionError(f"{root}: held-out images {first + 1}..{last}; the file has {len(xy)}")
    idx = np.arange(first, last)
    return [lsp.image_path(root / "images", int(i)) for i in idx], xy[idx], vis[idx]


def fit_orthographic(pose_3d, joints_2d, visible):
    """Scaled orthographic projection of camera-frame ``pose_3d`` (J, 3) onto ``joints_2d`` (J, 2):
    ``s * (X, Y) + t`` with s, t least squares over the ``visible`` joints -> (J, 2) px."""
    P, x = pose_3d[visible, :2], joints_2d[visible]
    Pc, xc = P - P.mean(0), x - x.mean(0)
    s = float(np.sum(Pc * xc) / max(np.sum(Pc * Pc), 1e-9))
    return s * (pose_3d[:, :2] - P.mean(0)) + x.mean(0)


def asymmetry(pose_3d_lsp):
    """Mean relative left/right difference (%) of the symmetric bones of LSP-ordered 3D poses (N, 14, 3)."""
    out = []
    for a, b, c, d in SYMMETRIC_BONES:
        left = np.linalg.norm(pose_3d_lsp[:, LSP.index(a)] - pose_3d_lsp[:, LSP.index(b)], axis=-1)
        right = np.linalg.norm(pose_3d_lsp[:, LSP.index(c)] - pose_3d_lsp[:, LSP.index(d)], axis=-1)
        out.append(np.abs(left - right) / np.maximum((left + right) / 2, 1e-9))
    return 100.0 * float(np.mean(out))


def evaluate(estimator, root, *, peer=None, first=HELD_OUT[0], last=HELD_OUT[1], threshold=0.2, log=None):
    """kfusion (an :class:`kfusion.runtime.estimator.Estimator`) and optionally ``peer`` (BlazePoseFull) on
    the held-out photographs; returns a JSON-ready dict (see the module docstring) with ``markdown``."""
    from kfusion.images import read_image

    paths, gt, vis = read_heldout(root, first, last)
    n = len(paths)
    src2, dst2 = skeletons.mapping(estimator.skeleton_2d, "lsp14")
    src3, dst3 = skeletons.mapping(estimator.skeleton_3d, "lsp14")
    k2d = np.full((n, 14, 2), np.nan)
    k3d = np.full((n, 14, 3), np.nan)
    fit = np.full((n, 14, 2), np.nan)
    b2d = np.full((n, 14, 2), np.nan)
    t_k, t_b = [], []
    limb = np.array([LSP.index(j) for j in LIMBS])
    for i, path in enumerate(paths):
        image = read_image(path)
        box = person_box(gt[i], vis[i])
        crop = geometry.crop_image(image, box, estimator.input_size)
        t0 = time.perf_counter()
        out = estimator.predict_crops(crop[None])
        t_k.append(time.perf_counter() - t0)
        k2d[i, dst2] = geometry.crop_to_image(out["pose_2d"][0][src2], box, estimator.input_size)
        k3d[i, dst3] = out["pose_3d"][0][src3]
        seen = (vis[i] > 0) & np.isin(np.arange(14), limb)
        if seen.sum() >= 2:
            fit[i] = fit_orthographic(k3d[i], gt[i], seen)
        if peer is not None:
            big = geometry.crop_image(image, box, peer.size)
            t0 = time.perf_counter()
            pts = peer.predict(big)
            t_b.append(time.perf_counter() - t0)
            full = geometry.crop_to_image(pts, box, peer.size)
            for name, j in BLAZEPOSE_TO_LSP.items():
                b2d[i, LSP.index(name)] = full[j]
        if log and (i + 1) % 200 == 0:
            print(f"photos: {i + 1}/{n}", file=log)
    norm = torso_diameter(gt)
    ok = norm > 0
    result = {"images": f"LSP-extended im{first + 1:05d}..im{last:05d}", "count": int(ok.sum()),
              "threshold": threshold, "normaliser": "torso diameter (left shoulder to right hip)"}

    def score(pred, name):
        has = np.isfinite(pred[ok][..., 0])
        per = metrics.pck(np.nan_to_num(pred[ok]), gt[ok], threshold, normaliser=norm[ok],
                          visibility=vis[ok] * has, per_joint=True)  # (N, 14): 1, 0, NaN (not counted)
        result[name] = {"pck_limbs": 100.0 * float(np.nanmean(per[:, limb])),
                        "per_joint": {j: (100.0 * float(np.nanmean(per[:, c])) if has[:, c].any() else None)
                                      for c, j in enumerate(LSP.joints)}}

    score(k2d, "kfusion_2d")
    score(fit, "kfusion_3d_fit")
    result["kfusion_asymmetry_pct"] = asymmetry(k3d)
    result["kfusion_ms"] = 1000.0 * float(np.median(t_k))
    if peer is not None:
        score(b2d, "blazepose_2d")
        result["blazepose_ms"] = 1000.0 * float(np.median(t_b))
    result["markdown"] = markdown(result)
    return result


def markdown(r):
    from kfusion.eval.tables import format_value, markdown_table

    rows = [["kfusion 2D", format_value(r["kfusion_2d"]["pck_limbs"], 1), format_value(r["kfusion_ms"], 2)],
            ["kfusion 3D, projected (scaled orthographic)", format_value(r["kfusion_3d_fit"]["pck_limbs"], 1), "-"]]
    if "blazepose_2d" in r:
        rows.append(["BlazePose-full (MediaPipe)", format_value(r["blazepose_2d"]["pck_limbs"], 1),
                     format_value(r["blazepose_ms"], 2)])
    joints = list(r["kfusion_2d"]["per_joint"])
    per = [["kfusion 2D", *(format_value(r["kfusion_2d"]["per_joint"][j], 1) for j in joints)],
           ["kfusion 3D projected", *(format_value(r["kfusion_3d_fit"]["per_joint"].get(j), 1) for j in joints)]]
    if "blazepose_2d" in r:
        per.append(["BlazePose-full", *(format_value(r["blazepose_2d"]["per_joint"].get(j), 1) for j in joints)])
    return "\n".join([
        f"**Real photographs: {r['images']}, {r['count']} people, PCK@{r['threshold']} of the "
        f"{r['normaliser']}, visible joints**", "",
        markdown_table(["Method", "PCK (12 limb joints, %)", "ms/image (batch 1)"], rows), "",
        f"Left/right bone-length asymmetry of kfusion's 3D poses: {r['kfusion_asymmetry_pct']:.1f} %.", "",
        markdown_table(["Per joint (%)", *joints], per)])
