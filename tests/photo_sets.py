"""Small photo-set files for the tests of readers and protocols (COCO person keypoints and mmpose's
real3d test files, with blank images), and a method that returns known poses."""
import json

import numpy as np
from PIL import Image

from kfusion import geometry, skeletons
from kfusion.datasets import coco

CATEGORY = {"id": 1, "name": "person", "keypoints": ["nose", "left_eye", "right_eye", "left_ear", "right_ear",
            "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
            "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]}


def coco_keypoints(rng, flags):
    xy = rng.integers(10, 90, (17, 2))
    return np.concatenate([xy, np.asarray(flags)[:, None]], axis=1).reshape(-1).tolist()


def write_coco(root, annotations, images=(7, 9)):
    """A COCO keypoint folder: one 100 x 120 image per id of ``images``, the given annotations."""
    (root / "images").mkdir(parents=True)
    for i in images:
        Image.new("RGB", (120, 100)).save(root / "images" / f"{i:012d}.jpg")
    data = {"images": [{"id": i, "file_name": f"{i:012d}.jpg", "width": 120, "height": 100} for i in images],
            "annotations": annotations, "categories": [CATEGORY], "licenses": []}
    (root / coco.ANNOTATIONS).write_text(json.dumps(data))
    return root


def coco_annotation(id_, image_id, keypoints, iscrowd=0):
    return {"id": id_, "image_id": image_id, "category_id": 1, "iscrowd": iscrowd, "keypoints": keypoints,
            "num_keypoints": int(sum(v > 0 for v in keypoints[2::3])), "bbox": [5.0, 6.0, 50.0, 80.0]}


def write_real3d_file(path, skeleton="h36m17", n=2, seed=0, **override):
    """An mmpose-style test ``.npz`` of ``n`` frames (joints in ``skeleton``'s order) with its images;
    returns the arrays written."""
    rng = np.random.default_rng(seed)
    J = skeletons.get(skeleton).num_joints
    path.parent.mkdir(parents=True, exist_ok=True)
    names = np.array([f"sub/frame_{i}.jpg" for i in range(n)])
    (path.parent / "sub").mkdir(exist_ok=True)
    for name in names:
        Image.new("RGB", (160, 120)).save(path.parent / name)
    S = np.concatenate([rng.normal(0, 0.4, (n, J, 3)) + [0, 0, 4.0], np.ones((n, J, 1))], axis=-1)
    part = np.concatenate([rng.uniform(20, 100, (n, J, 2)), np.ones((n, J, 1))], axis=-1)
    part[0, 3, 2] = 0.0  # one joint not visible in 2D
    arrays = {"imgname": names, "center": rng.uniform(40, 80, (n, 2)), "scale": rng.uniform(0.3, 0.5, n),
              "part": part, "S": S}
    arrays.update(override)
    np.savez(path, **arrays)
    return arrays


def turn(angle_deg):
    """The rotation (3, 3) by ``angle_deg`` about the camera's y axis (a person turning)."""
    return geometry.rotation_matrix((0.0, 1.0, 0.0), np.radians(angle_deg))


class Oracle:
    """A method that returns, call after call, the given poses: (box, 2D full-image px, 3D mm) each, its 2D
    in crop px of that box. It answers as an estimator (``predict_crops``) and as
    :class:`kfusion.peers.BlazePoseFull` (``predict``)."""

    def __init__(self, size, skeleton_2d, skeleton_3d, poses):
        self.input_size = self.size = size
        self.skeleton_2d, self.skeleton_3d, self.skeleton = skeleton_2d, skeleton_3d, skeleton_2d
        self._poses = iter(poses)  # (box, pose_2d full px, pose_3d mm)

    def predict(self, crop):
        box, pose_2d, pose_3d = next(self._poses)
        assert crop.shape == (self.size, self.size, 3)
        return geometry.image_to_crop(pose_2d, box, self.size), pose_3d

    def predict_crops(self, crops):
        pose_2d, pose_3d = self.predict(crops[0])
        return {"pose_2d": pose_2d[None], "pose_3d": pose_3d[None]}


def from_lsp(pose, skeleton):
    """An LSP-ordered pose (14, D) in ``skeleton``'s order, zeros where LSP has no such joint."""
    src, dst = skeletons.mapping(skeleton, "lsp14")
    out = np.zeros((skeletons.get(skeleton).num_joints, pose.shape[-1]))
    out[src] = pose[dst]
    return out


def evaluate_cli(protocol, data, out, *options, peer=None):
    """``kfusion evaluate --protocol P --data D`` of the shipped model, with ``--peer`` where that file
    exists, through the CLI's entry point; (evaluation.json as a dict, evaluation.md)."""
    from kfusion.cli.main import main
    from kfusion.runtime.estimator import default_model_path

    args = ["evaluate", "--protocol", protocol, "--data", str(data), "--model", str(default_model_path()),
            "--out", str(out), *options]
    if peer is not None and peer.is_file():
        args += ["--peer", str(peer)]
    assert main(args) == 0
    return json.loads((out / "evaluation.json").read_text()), (out / "evaluation.md").read_text()
