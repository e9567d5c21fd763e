"""A tiny fabricated heatmap cache: poses whose confidence maps carry their 2D projection."""
import numpy as np
import pytest

from kfusion import config as config_mod
from kfusion import skeletons
from kfusion.heatmaps import render_heatmaps


def make_cache(n, seed=0, size=20, hm=8):
    from kfusion.data.cache import HeatmapCache

    rng = np.random.default_rng(seed)
    base = np.array([[0, 0, 0], [-120, 0, 0], [-120, 450, 0], [-120, 900, 0], [120, 0, 0], [120, 450, 0],
                     [120, 900, 0], [0, -250, 0], [0, -500, 0], [0, -600, 0], [0, -700, 0], [150, -500, 0],
                     [300, -250, 0], [400, 0, 0], [-150, -500, 0], [-300, -250, 0], [-400, 0, 0]], np.float32)
    pose = base[None] + rng.normal(scale=60, size=(n, 17, 3)).astype(np.float32)
    pose -= pose[:, :1]
    j2d_h36m = pose[..., :2] / 2200.0 * size + size / 2  # orthographic, crop px
    j2d = skeletons.convert(j2d_h36m, "h36m17", "mpii16").astype(np.float32)
    heat = render_heatmaps(j2d * hm / size, hm, sigma=1.0).astype(np.float16)
    images = rng.integers(0, 255, size=(n, size, size, 3), dtype=np.uint8)
    return HeatmapCache(images=images, heatmaps=heat, pose_3d=pose, joints_2d=j2d,
                        confidence=np.ones((n, 16), np.float32), joints_2d_gt=j2d,
                        actions=np.array(["walk", "sit"] * (n // 2)), subjects=np.array(["S1"] * n),
                        frames=np.arange(n, dtype=np.int64), input_size=size,
                        visibility=np.ones((n, 16), np.float32))


def write_tiny_records(data, train=8, test=4, train_shards=2, size=32, seed=0):
    """Records of ``train`` and ``test`` random S x S images with 2D joints in the frame and their 3D
    (h36m17, a 300 px focal length at 5 m) under ``data``; returns ``data``."""
    from kfusion.data import records

    rng = np.random.default_rng(seed)
    J, S = skeletons.H36M17.num_joints, size
    K = np.array([[300.0, 0, S / 2], [0, 300.0, S / 2], [0, 0, 1]], np.float32)

    def sample(i):
        uv = rng.uniform(6.0, S - 6.0, (J, 2)).astype(np.float32)
        z = np.full((J, 1), 5000.0, np.float32)
        X = np.concatenate([(uv - S / 2) / 300.0 * z, z], -1).astype(np.float32)
        return {"image": rng.integers(0, 256, (S, S, 3), dtype=np.uint8), "joints_2d": uv, "joints_3d": X,
                "visibility": np.ones(J, np.float32), "intrinsics": K, "subject": "S1", "action": "walk",
                "camera": "c0", "source": "test", "frame": i}

    records.write_records([sample(i) for i in range(train)], data, "train", num_shards=train_shards, skeleton="h36m17")
    records.write_records([sample(i) for i in range(test)], data, "test", num_shards=1, skeleton="h36m17")
    records.write_manifest(data, skeleton="h36m17", image_size=S, splits={"train": train, "test": test}, source="test")
    return data


def tiny_config(tmp_path, **fusion):
    cfg = config_mod.from_dict({
        "name": "tiny", "seed": 0, "output_dir": str(tmp_path),
        "fusion": {"preset": "tiny", "input_size": 20, "batch_size": 16, "epochs": 2, **fusion},
        "lifting": {"units": 32, "blocks": 1, "batch_size": 16, "epochs": 2},
        "augment": {"crop_prob": 0.0},
        "train": {"checkpoint_every": 1},
    })
    return cfg


@pytest.fixture
def tiny_cache():
    return make_cache(64, seed=0), make_cache(32, seed=1)
