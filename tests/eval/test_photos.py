"""Real photographs: the LSP-extended held-out split, kfusion against BlazePose-full on the same crops."""
from pathlib import Path

import numpy as np
import pytest

from kfusion import geometry, skeletons
from kfusion.eval import photos
from kfusion.peers import BlazePoseFull

SHARED = Path(__file__).resolve().parents[3] / "shared"
LSP_ROOT = SHARED / "data" / "lsp_extended"
COCO_ROOT = SHARED / "data" / "coco_keypoints"
PEER = SHARED / "models" / "mediapipe" / "pose_landmark_full.tflite"
LSP = skeletons.LSP14


def test_fit_orthographic_recovers_scale_and_shift():
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 300, (14, 3))
    uv = 0.25 * pose[:, :2] + [120.0, 80.0]
    vis = np.ones(14, bool)
    vis[3] = False
    np.testing.assert_allclose(geometry.fit_orthographic(pose, uv, vis), uv, atol=1e-9)


def test_asymmetry_zero_for_a_mirrored_body_and_counts_differences():
    lsp = skeletons.LSP14
    rng = np.random.default_rng(1)
    pose = rng.normal(0, 300, (14, 3))
    for j in lsp.joints:  # the right side is the left side mirrored in x
        if j.startswith("r_"):
            pose[lsp.index(j)] = pose[lsp.index("l_" + j[2:])] * [-1, 1, 1]
    assert photos.asymmetry(pose[None]) < 1e-9
    longer = pose.copy()
    shoulder, elbow = lsp.index("l_shoulder"), lsp.index("l_elbow")
    longer[lsp.index("l_elbow")] = pose[shoulder] + 1.2 * (pose[elbow] - pose[shoulder])
    # the upper arm 20 % longer on one side: |1.2 - 1| / 1.1 over one of four bones (the forearm moves too)
    assert photos.asymmetry(longer[None]) > 100 * 0.2 / 1.1 / 4 - 1e-6


@pytest.mark.skipif(not (LSP_ROOT / "joints.mat").is_file(),
                    reason=f"LSP-extended not at {LSP_ROOT} (research-only data, read from ../shared)")
def test_heldout_side_by_side():
    import kfusion

    est = kfusion.load()
    peer = BlazePoseFull(PEER) if PEER.is_file() else None
    r = photos.evaluate(est, LSP_ROOT, peer=peer, first=5000, last=5012)
    assert r["count"] >= 10 and r["images"] == "LSP-extended im05001..im05012"
    for key in ("kfusion_2d", "kfusion_3d_fit") + (("blazepose_2d", "blazepose_3d_fit") if peer else ()):
        assert 0 <= r[key]["pck_limbs"] <= 100
    assert r["kfusion_ms"] > 0 and 0 <= r["kfusion_asymmetry_pct"] < 100
    if peer:  # BlazePose has no neck or head top: those are not scored for it
        assert r["blazepose_2d"]["per_joint"]["neck"] is None and r["blazepose_ms"] > 0
        assert r["blazepose_3d_fit"]["per_joint"]["head_top"] is None
        assert r["blazepose_2d"]["pck_limbs"] > 15  # it finds people in real photos
        assert r["blazepose_3d_fit"]["pck_limbs"] > 15  # its 3D, projected, fits them too (axes the image's)
        assert 0 < r["blazepose_asymmetry_pct"] < 100
        assert "| BlazePose-full (MediaPipe) 3D, projected (scaled orthographic) |" in r["markdown"]
        assert r["versus_peer"]["2d"]["se"] > 0 and "kfusion against BlazePose-full on the same people" in r["markdown"]
    assert "PCK (12 limb joints, %, ± standard error)" in r["markdown"] and "L/R bone asymmetry of the 3D (%)" in r["markdown"]


@pytest.mark.skipif(not (LSP_ROOT / "joints.mat").is_file(),
                    reason=f"LSP-extended not at {LSP_ROOT} (research-only data, read from ../shared)")
def test_cli_protocol_lsp(tmp_path):
    from photo_sets import evaluate_cli

    r, _ = evaluate_cli("lsp", LSP_ROOT, tmp_path, "--limit", "6", peer=PEER)
    assert r["images"] == "LSP-extended im05001..im05006" and "kfusion_2d" in r
    assert ("blazepose_2d" in r) == PEER.is_file()


@pytest.mark.skipif(not (LSP_ROOT / "joints.mat").is_file(),
                    reason=f"LSP-extended not at {LSP_ROOT} (research-only data, read from ../shared)")
def test_cli_protocol_lsp_validation_split(tmp_path):
    """``--split val``: the images 4501-5000 that no model trains on, to choose settings on."""
    from photo_sets import evaluate_cli

    r, _ = evaluate_cli("lsp", LSP_ROOT, tmp_path, "--split", "val", "--limit", "3")
    assert r["images"] == "LSP-extended im04501..im04503"


def test_cli_protocol_lsp_refuses_an_unknown_split(tmp_path, capsys):
    from kfusion.cli.main import main

    assert main(["evaluate", "--protocol", "lsp", "--data", str(tmp_path), "--model", str(tmp_path / "m"),
                 "--split", "train"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--split 'train': protocol lsp has the splits ['test', 'val']" in err[0]


def _upright_pose(rng):
    """An LSP-ordered 3D pose (14, 3) mm, camera frame (y down), left and right bones of equal length."""
    pose = rng.normal(0, 250, (14, 3))
    for j in LSP.joints:
        if j.startswith("r_"):
            pose[LSP.index(j)] = pose[LSP.index("l_" + j[2:])] * [-1, 1, 1]
    return pose


def test_score_projects_each_methods_3d_and_counts_missed_people():
    """Photographs made from known 3D poses (the 2D: a scaled orthographic view): a method whose 3D is that
    pose fits all joints; one whose 3D is upside down (y up, not the image's y down) fits few; a person
    missed counts as wrong for every method."""
    rng = np.random.default_rng(0)
    poses = np.stack([_upright_pose(rng) for _ in range(6)])
    gt = 0.3 * poses[..., :2] + [200.0, 150.0]
    vis = np.ones((6, 14))
    vis[0, 4] = 0
    exact = {"pose_2d": gt.copy(), "pose_3d": poses, "seconds": np.full(6, 0.01)}
    flipped = {"pose_2d": gt + 1000.0, "pose_3d": poses * [1, -1, 1], "seconds": np.full(6, 0.03)}
    flipped["pose_3d"][:, LSP.index("neck")] = np.nan  # a joint the method does not name
    r = photos.score(gt, vis, {"kfusion": exact, "blazepose": flipped})
    assert r["count"] == 6 and r["kfusion_2d"]["pck_limbs"] == 100 and r["kfusion_3d_fit"]["pck_limbs"] == 100
    assert r["blazepose_2d"]["pck_limbs"] == 0 and r["blazepose_3d_fit"]["pck_limbs"] < 60
    assert r["blazepose_3d_fit"]["per_joint"]["neck"] is None and r["kfusion_3d_fit"]["per_joint"]["neck"] == 100
    assert r["kfusion_asymmetry_pct"] < 1e-9 and r["blazepose_asymmetry_pct"] < 1e-9
    assert r["kfusion_ms"] == pytest.approx(10.0) and r["blazepose_ms"] == pytest.approx(30.0)
    missed = np.array([True, True, True, False, False, False])
    r = photos.score(gt, vis, {"kfusion": exact}, missed=missed)
    assert r["kfusion_2d"]["pck_limbs"] == pytest.approx(100 * 36 / (12 * 6 - 1))  # 3 of 6 found, one joint unseen
    assert r["kfusion_3d_fit"]["pck_limbs"] == pytest.approx(100 * 36 / (12 * 6 - 1))
    md = photos.markdown({"images": "test", **r})
    assert "| kfusion 3D, projected (scaled orthographic) | 50.7 ± " in md and "versus_peer" not in r
    assert r["kfusion_swapped_pct"] == 0
    turned = gt.copy()
    turned[:2] = gt[:2][:, LSP.flip_permutation]  # two people seen facing the other way
    turned[2] = gt[2] + 500.0  # and one all wrong but a left ankle where the right one is: not seen swapped
    turned[2, LSP.index("l_ankle")] = gt[2, LSP.index("r_ankle")]
    r = photos.score(gt, vis, {"kfusion": {**exact, "pose_2d": turned}})
    assert r["kfusion_swapped_pct"] == pytest.approx(100 * 2 / 6)
    md = photos.markdown({"images": "test", **r})
    assert "| kfusion 2D | 50.7 ± " in md and " | - | 33.3 | 10.00 |" in md  # 3 people wrong, one joint unseen


def test_score_gives_standard_errors_and_the_difference_to_the_peer_on_the_same_people():
    """Two methods right on different people: each PCK gets the standard error of its people's spread, and
    the difference its own, from the same resamplings (a method level with the peer on every person has
    a difference of 0 with no spread, whatever the spread of each)."""
    rng = np.random.default_rng(1)
    n = 40
    poses = np.stack([_upright_pose(rng) for _ in range(n)])
    gt = 0.3 * poses[..., :2] + [200.0, 150.0]
    vis = np.ones((n, 14))
    good = rng.random(n) < 0.5  # the people both methods get right
    pose_2d = np.where(good[:, None, None], gt, gt + 500.0)
    same = {"pose_2d": pose_2d, "pose_3d": poses, "seconds": np.full(n, 0.01)}
    r = photos.score(gt, vis, {"kfusion": same, "blazepose": {**same, "pose_2d": pose_2d.copy()}})
    p = good.mean()
    expected_se = 100 * np.sqrt(p * (1 - p) / n)  # people all right or all wrong: a binomial over people
    assert r["kfusion_2d"]["se"] == pytest.approx(expected_se, rel=0.15)
    v = r["versus_peer"]["2d"]
    assert v["difference"] == 0 and v["se"] == 0 and v["ratio"] == 1 and v["ratio_95"] == [1, 1]
    assert "2D +0.0 ± 0.0 points, 100 % of the peer's (95 % interval 100-100 %)" in photos.markdown({"images": "t", **r})
    half = {**same, "pose_2d": np.where(rng.random((n, 1, 1)) < 0.5, pose_2d, gt + 500.0)}
    v = photos.score(gt, vis, {"kfusion": half, "blazepose": same})["versus_peer"]["2d"]
    assert v["difference"] < 0 and v["se"] > 0 and v["ratio_95"][0] < v["ratio"] < v["ratio_95"][1]


def test_predict_crops_maps_both_methods_into_lsp_joints(tmp_path):
    """Each method sees the crop at its own size; its 2D comes back in full-image px and both its 2D and 3D
    in LSP's order, whatever its own skeletons."""
    from PIL import Image

    from kfusion import geometry
    from photo_sets import Oracle, from_lsp

    Image.new("RGB", (300, 200)).save(tmp_path / "a.png")
    rng = np.random.default_rng(1)
    truth_2d, truth_3d = rng.uniform(50, 150, (14, 2)), rng.normal(0, 300, (14, 3))
    box = np.array([30.0, 10.0, 180.0])
    mpii_2d = np.zeros((16, 2))
    src, dst = skeletons.mapping("lsp14", "mpii16")
    mpii_2d[dst] = truth_2d[src]
    h36m_3d = np.zeros((17, 3))
    src, dst = skeletons.mapping("lsp14", "h36m17")
    h36m_3d[dst] = truth_3d[src]
    ours = Oracle(48, "mpii16", "h36m17", [(box, mpii_2d, h36m_3d)])
    theirs = Oracle(256, "blazepose33", "blazepose33", [(box, from_lsp(truth_2d, "blazepose33"),
                                                         from_lsp(truth_3d, "blazepose33"))])
    out = photos.predict_crops(ours, theirs, [tmp_path / "a.png"], [box])
    np.testing.assert_allclose(out["kfusion"]["pose_2d"][0], truth_2d, atol=1e-9)
    np.testing.assert_allclose(out["kfusion"]["pose_3d"][0], truth_3d, atol=1e-9)
    limbs = [LSP.index(j) for j in skeletons.LIMB_JOINTS]
    np.testing.assert_allclose(out["blazepose"]["pose_2d"][0][limbs], truth_2d[limbs], atol=1e-9)
    assert np.isnan(out["blazepose"]["pose_3d"][0][LSP.index("head_top")]).all()
    assert geometry.image_to_crop(truth_2d, box, 48).max() < 48  # the oracle's crop px fit its crop


def test_coco_people_need_six_labelled_limbs_with_the_torso(tmp_path):
    from photo_sets import coco_annotation, coco_keypoints, write_coco

    rng = np.random.default_rng(2)
    face = [2] * 5
    # coco17 limbs: l/r shoulder, l/r elbow, l/r wrist, l/r hip, l/r knee, l/r ankle
    ok = face + [2, 1, 2, 2, 0, 0, 2, 1, 0, 0, 0, 0]  # 6 labelled (2 of them occluded), l_shoulder and r_hip among them
    five = face + [2, 0, 2, 2, 0, 0, 2, 1, 0, 0, 0, 0]  # the right shoulder not labelled: 5
    no_hip = face + [2, 2, 2, 2, 2, 2, 2, 0, 2, 2, 2, 2]  # 11 labelled, but not the right hip
    anns = [coco_annotation(1, 7, coco_keypoints(rng, ok)), coco_annotation(2, 7, coco_keypoints(rng, five)),
            coco_annotation(3, 9, coco_keypoints(rng, no_hip))]
    people, gt, vis = photos.coco_people(write_coco(tmp_path / "c", anns))
    assert [p.annotation for p in people] == [1] and gt.shape == (1, 14, 2)
    assert sorted(LSP.joints[j] for j in np.flatnonzero(vis[0])) == sorted(
        ["l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_hip", "r_hip"])  # occluded (v = 1) scored, v = 0 not
    np.testing.assert_allclose(gt[0, LSP.index("l_elbow")], people[0].joints[skeletons.COCO17.index("l_elbow")])
    assert np.isnan(gt[0, LSP.index("neck")]).all() and vis[0, LSP.index("neck")] == 0


def test_detected_boxes_match_people_greedily_by_overlap(tmp_path):
    """Each annotated person gets the detection whose body box overlaps the square around their COCO box
    most (each detection once); a person no detection overlaps enough gets none (NaN)."""
    from PIL import Image

    from kfusion.datasets.coco import Person

    class Detects:  # the estimator's predict_people: the given detections, image after image
        def __init__(self, found):
            self.found = found

        def predict_people(self, image):
            return self.found.pop(0)

    images = []
    for name in "abc":
        images.append(tmp_path / f"{name}.png")
        Image.new("RGB", (64, 48)).save(images[-1])

    def person(image, bbox):
        return Person(image=image, joints=np.zeros((17, 2)), flags=np.ones(17, int), bbox=np.asarray(bbox, float),
                      annotation=0, image_id=0)

    people = [person(images[0], [0, 0, 100, 200]), person(images[0], [300, 0, 100, 200]),
              person(images[1], [10, 0, 50, 50]), person(images[1], [0, 0, 50, 50]),
              person(images[2], [0, 0, 50, 50])]
    found = [[{"box": np.array([280.0, 0, 200, 200]), "crop_box": np.array([1.0, 2, 3])},
              {"box": np.array([-60.0, 0, 210, 200]), "crop_box": np.array([4.0, 5, 6])}],
             [{"box": np.array([0.0, 0, 50, 50]), "crop_box": np.array([7.0, 8, 9])}], []]
    boxes, ious = photos.detected_boxes(Detects(found), people)
    np.testing.assert_array_equal(boxes[:2], [[4, 5, 6], [1, 2, 3]])  # each person their own detection
    # one detection for two overlapping people: the one it overlaps most; nobody in the last image
    np.testing.assert_array_equal(boxes[3], [7, 8, 9])
    assert np.isnan(boxes[[2, 4]]).all() and ious[3] == 1 and ious[0] > 0.5 and ious[4] == 0
    assert photos.square_iou([[0, 0, 10, 10]], [5, 0, 10]) == pytest.approx(50 / 150)


def test_blazepose_refuses_a_model_without_world_landmarks():
    from kfusion.errors import KfusionError
    from kfusion.runtime.detector import model_path

    with pytest.raises(KfusionError, match=r"pose_detection.tflite: outputs of .* values; expected 195 "
                                           r"\(landmarks\) and 117 \(world landmarks\)"):
        BlazePoseFull(model_path())


@pytest.mark.skipif(not ((LSP_ROOT / "joints.mat").is_file() and PEER.is_file()),
                    reason=f"LSP-extended or BlazePose-full not under {SHARED} (read from ../shared)")
def test_blazepose_world_landmarks_project_onto_its_landmarks_in_the_images_axes():
    """On real photographs BlazePose's 3D world landmarks, seen by the best scaled orthographic camera, land
    on its own 2D landmarks (x right, y down as in the image); mirrored in y they cannot."""
    from kfusion import geometry
    from kfusion.images import read_image

    peer = BlazePoseFull(PEER)
    paths, gt, vis = photos.read_heldout(LSP_ROOT, 5000, 5008)
    limbs = [j for j, _ in zip(*skeletons.mapping("blazepose33", "lsp14"))]
    good, mirrored = [], []
    for i, path in enumerate(paths):
        box = photos.person_box(gt[i], vis[i])
        pts, world = peer.predict(geometry.crop_image(read_image(path), box, peer.size))
        torso = np.linalg.norm(pts[11] - pts[24])  # BlazePose: 11 left shoulder, 24 right hip
        for out, w in ((good, world), (mirrored, world * [1, -1, 1])):
            fit = geometry.fit_orthographic(w[limbs], pts[limbs], np.ones(len(limbs), bool))
            out.append(np.mean(np.linalg.norm(fit - pts[limbs], axis=-1)) / torso)
    assert np.median(good) < 0.1 and np.median(mirrored) > 3 * np.median(good), (good, mirrored)


@pytest.mark.skipif(not (COCO_ROOT / "person_keypoints.json").is_file(),
                    reason=f"COCO keypoints not at {COCO_ROOT} (validation data, read from ../shared)")
def test_cli_protocol_coco(tmp_path):
    from photo_sets import evaluate_cli

    r, md = evaluate_cli("coco", COCO_ROOT, tmp_path, "--limit", "3", peer=PEER)
    assert r["images"].endswith("3 images") and r["count"] >= 3
    methods = ["kfusion"] + (["blazepose"] if PEER.is_file() else [])
    for m in methods:
        for key in (f"{m}_2d", f"{m}_3d_fit"):
            assert 0 <= r[key]["pck_limbs"] <= 100 and 0 <= r["detector"][key]["pck_limbs"] <= 100
        assert r[f"{m}_2d"]["per_joint"]["neck"] is None  # COCO has no neck
    assert 0 <= r["detector"]["found"] <= r["detector"]["count"] == r["count"]
    assert "# kfusion evaluate: protocol coco" in md and "crops of kfusion's person detector" in md


def test_cli_photo_protocols_refuse_a_limit_below_one(tmp_path, capsys):
    from kfusion.cli.main import main

    assert main(["evaluate", "--protocol", "coco", "--data", str(tmp_path), "--model", str(tmp_path / "m"),
                 "--limit", "0"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--limit 0: expected a whole number >= 1" in err[0]
