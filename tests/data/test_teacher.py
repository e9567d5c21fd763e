"""A teacher's 3D for 2D-only photographs (``kfusion prepare teacher``): which poses are taught, in which
order and skeleton, and the real BlazePose-full on real LSP-extended crops where they are at hand."""
from pathlib import Path

import numpy as np
import pytest

from kfusion import skeletons
from kfusion.data import teacher
from kfusion.datasets import common
from kfusion.errors import KfusionError

SHARED = Path(__file__).resolve().parents[3] / "shared"
LSP_ROOT = SHARED / "data" / "lsp_extended"
PEER = SHARED / "models" / "mediapipe" / "pose_landmark_full.tflite"
LSP, BP, H36M = skeletons.LSP14, skeletons.BLAZEPOSE33, skeletons.H36M17
S = 40


def _body(rng):
    """A (14, 3) LSP-ordered 3D pose in mm, about a metre across."""
    return rng.normal(0.0, 300.0, (LSP.num_joints, 3))


class FakePeer:
    """Returns, photograph after photograph, the 3D it is given (as BlazePose's 33 world landmarks)."""
    skeleton = "blazepose33"

    def __init__(self, bodies):
        self.bodies = list(bodies)

    def predict(self, crop):
        assert crop.shape == (S, S, 3)
        body = self.bodies.pop(0)
        world = np.full((BP.num_joints, 3), 9999.0)  # faces, hands, feet: never taught
        for j in skeletons.LIMB_JOINTS:
            world[BP.index(j)] = body[LSP.index(j)]
        return np.zeros((BP.num_joints, 2)), world


def _records(tmp_path, bodies, visibility):
    """2D-only lsp14 records whose labels are the bodies' x, y seen 0.05 px/mm (an orthographic camera)."""
    samples = []
    for k, (body, vis) in enumerate(zip(bodies, visibility)):
        uv = 0.05 * body[:, :2] + S / 2
        samples.append(common.crop_sample(
            np.zeros((S, S, 3), np.uint8), uv, np.zeros((LSP.num_joints, 3)), common.nominal_intrinsics(S, S),
            image_size=S, visibility=vis, subject="lspet", action="", camera="", frame=100 + 7 * k, source="lsp",
            box=(0.0, 0.0, float(S))))
    common.write_dataset(tmp_path, {"train": (samples, len(samples))}, skeleton=LSP, image_size=S, source="lsp",
                         generator={}, num_shards=2, has_3d=False)
    return tmp_path


def test_the_teacher_is_taught_where_its_3d_fits_the_label_and_aligned_by_frame(tmp_path):
    rng = np.random.default_rng(0)
    bodies = [_body(rng) for _ in range(4)]
    vis = np.ones((4, LSP.num_joints))
    vis[3, :9] = 0  # 5 labelled limb joints: too few to judge
    wrong = [bodies[0], _body(rng), bodies[2], bodies[3]]  # the teacher errs on the second photograph
    records = _records(tmp_path / "lsp", bodies, vis)
    path, summary = teacher.label(records, "train", FakePeer([b * 1.3 for b in wrong]))  # its own body size
    assert path == records / "teacher-train.npz" and summary["photographs"] == 4 and summary["taught"] == 2
    assert sorted(p.name for p in records.iterdir() if "teacher" in p.name) == ["teacher-train.npz"]  # atomic
    frames = [100, 107, 114, 121]
    pose, weight = teacher.load(records, "train", frames, "h36m17")
    limbs = [H36M.index(j) for j in skeletons.LIMB_JOINTS]
    assert weight[:, limbs].tolist() == [[1.0] * 12, [0.0] * 12, [1.0] * 12, [0.0] * 12]
    assert not np.delete(weight, limbs, axis=1).any()  # pelvis, spine, head: not taught
    for j in skeletons.LIMB_JOINTS:  # the teacher's 3D, moved to the 3D skeleton's order
        np.testing.assert_allclose(pose[2, H36M.index(j)], 1.3 * bodies[2][LSP.index(j)], rtol=1e-5)
    # in the order of a cache's frames; a photograph the file does not hold is not taught
    pose_r, weight_r = teacher.load(records, "train", [114, 5, 100], "h36m17")
    np.testing.assert_array_equal(pose_r[0], pose[2])
    np.testing.assert_array_equal(pose_r[2], pose[0])
    assert not weight_r[1].any() and weight_r[2, limbs].all()


def test_agreement_is_the_fitted_projections_pck():
    rng = np.random.default_rng(1)
    body = _body(rng)[:12]
    label = 0.1 * body[:, :2] + 50
    torso = 30.0
    visible = np.ones(12, bool)
    assert teacher.agreement(2.0 * body, label, visible, torso) == 1.0  # any size, any place
    off = body.copy()
    off[:3, :2] += 3000.0  # three joints far off (they pull the fit too)
    assert teacher.agreement(off, label, visible, torso) <= 9 / 12
    visible[:7] = False
    assert np.isnan(teacher.agreement(body, label, visible, torso))  # 5 labelled joints: not judged


def test_load_names_a_missing_teacher_and_a_wrong_skeleton(tmp_path):
    with pytest.raises(KfusionError, match=r"teacher-train.npz: not found; fusion.teacher_weight > 0 .*"
                                           r"kfusion prepare teacher --records"):
        teacher.load(tmp_path, "train", [1], "h36m17")
    np.savez(tmp_path / "teacher-train.npz", frames=np.arange(2), pose_3d=np.zeros((2, 15, 3)),
             weight=np.zeros((2, 15)), skeleton=np.asarray("humaneva15"))
    with pytest.raises(KfusionError, match=r"teacher poses in skeleton 'humaneva15'; expected 'h36m17'"):
        teacher.load(tmp_path, "train", [1], "h36m17")


def test_label_refuses_a_missing_split(tmp_path):
    rng = np.random.default_rng(2)
    records = _records(tmp_path / "lsp", [_body(rng)], np.ones((1, LSP.num_joints)))
    with pytest.raises(KfusionError, match=r"no split 'val' \(has \['train'\]\)"):
        teacher.label(records, "val", FakePeer([]))
    with pytest.raises(KfusionError, match=r"nothing: no records here \(expected manifest.json"):
        teacher.label(tmp_path / "nothing", "train", FakePeer([]))


@pytest.mark.skipif(not (LSP_ROOT / "joints.mat").is_file() or not PEER.is_file(),
                    reason=f"LSP-extended or BlazePose-full not under {SHARED} (research-only data, read from ../shared)")
def test_blazepose_teaches_real_lsp_photographs_in_mm_with_the_images_axes(tmp_path):
    from kfusion.datasets import lsp
    from kfusion.peers import BlazePoseFull

    lsp.prepare(LSP_ROOT, tmp_path / "lsp", limit=12)
    path, summary = teacher.label(tmp_path / "lsp", "train", BlazePoseFull(PEER))
    z = np.load(path)
    assert summary["photographs"] == 12 and summary["taught"] >= 2  # 2 of these 12 (35 % of all 4,500)
    # the image's axes: flipped, the fitted projection would not agree (these 12: median 0.40)
    assert np.nanmedian(z["agreement"]) >= 0.3
    flipped = [teacher.agreement(p * [1, -1, 1], lab, v, t) for p, lab, v, t in _labels(tmp_path / "lsp", z)]
    assert np.nanmedian(flipped) < 0.2
    taught = z["weight"][:, 0 + H36M.index("l_knee")] > 0
    thigh = np.linalg.norm(z["pose_3d"][taught, H36M.index("l_hip")] - z["pose_3d"][taught, H36M.index("l_knee")],
                           axis=-1)
    assert 250.0 < np.median(thigh) < 600.0  # mm


def _labels(records, z):
    """(teacher's limbs (12, 3), label (12, 2), visible (12,), torso px) of each photograph of ``z``."""
    from kfusion.data.records import iterate_samples

    rec = [LSP.index(j) for j in skeletons.LIMB_JOINTS]
    out = [H36M.index(j) for j in skeletons.LIMB_JOINTS]
    for pose, s in zip(z["pose_3d"], iterate_samples(records, "train")):
        torso = np.linalg.norm(s["joints_2d"][LSP.index("l_shoulder")] - s["joints_2d"][LSP.index("r_hip")])
        yield pose[out], s["joints_2d"][rec], s["visibility"][rec] > 0, torso
