"""KTH Multiview Football II reader on a tiny sequence in the text + PNG layout."""
import numpy as np
import pytest
from PIL import Image

from kfusion import geometry
from kfusion.datasets import kth
from kfusion.data import records
from kfusion.errors import KfusionError

T = 4


def _flat(arr):
    """Column-major (MATLAB ``x(:)``) text, 7 numbers a line (line breaks carry no meaning)."""
    v = np.asarray(arr).reshape(-1, order="F")
    return "\n".join(" ".join(f"{x:.9g}" for x in v[i:i + 7]) for i in range(0, len(v), 7)) + "\n"


def _cameras(t):
    """(3 cameras) K, R, t (metres) for frame t: the camera pans with the player."""
    out = []
    for c in range(3):
        K = geometry.camera_matrix((900.0 + 10 * c, 900.0 + 10 * c), (320.0, 240.0))
        R = geometry.rotation_matrix([0.3, 1.0, 0.1 * c], 0.4 * c + 0.05 * t)
        out.append((K, R, np.array([0.2, -0.1, 12.0 + c])))
    return out


@pytest.fixture
def sequence(tmp_path):
    rng = np.random.default_rng(0)
    p3 = np.zeros((3, 14, T))  # world metres
    p2 = np.zeros((2, 14, 3, T))
    cams = np.zeros((3, 4, 3, T))
    world = []
    for t in range(T):
        X = rng.uniform(-0.4, 0.4, size=(14, 3)) + [0, 0, 0.9]
        X[kth.SKELETON.index("r_hip")], X[kth.SKELETON.index("r_knee")] = [0.1, 0, 1.0], [0.1, 0, 0.55]
        world.append(X)
        p3[:, :, t] = X.T
        for c, (K, R, tc) in enumerate(_cameras(t)):
            P = K @ np.c_[R, tc]
            cams[:, :, c, t] = P * (-2.0 if c == 1 else 1.0)  # a projection is defined up to scale
            p2[:, :, c, t] = geometry.project(X @ R.T + tc, K).T
    root = tmp_path / "Player 2"
    root.mkdir()
    (root / "positions3d.txt").write_text(_flat(p3))
    (root / "positions2d.txt").write_text(_flat(p2))
    (root / "cameras.txt").write_text(_flat(cams))
    for c in (1, 2, 3):
        (root / f"Camera {c}").mkdir()
        for t in range(T):
            img = np.zeros((480, 640, 3), np.uint8)
            x, y = p2[:, 0, c - 1, t].astype(int)
            img[y - 4:y + 4, x - 4:x + 4] = 255  # mark joint 0 (r_ankle)
            Image.fromarray(img).save(root / f"Camera {c}" / f"{t:05d}.png")
    return root, np.array(world), p2


def test_round_trip_halves_and_camera_frame(sequence, tmp_path):
    root, world, p2 = sequence
    m = kth.prepare(root, tmp_path / "out", image_size=64)
    assert m["skeleton"] == "lsp14" and m["generator"]["to_mm"] == 1000.0
    assert {s: v["count"] for s, v in m["splits"].items()} == {"train": 2, "test": 2}
    train = list(records.iterate_samples(tmp_path / "out", "train"))
    test = list(records.iterate_samples(tmp_path / "out", "test"))
    assert [int(s["frame"]) for s in train] == [0, 1] and [int(s["frame"]) for s in test] == [2, 3]
    for s in train + test:
        t = int(s["frame"])
        K, R, tc = _cameras(t)[0]
        np.testing.assert_allclose(s["joints_3d"], 1000.0 * (world[t] @ R.T + tc), atol=0.05)
        np.testing.assert_allclose(geometry.project(s["joints_3d"], s["intrinsics"]), s["joints_2d"], atol=1e-3)
        x, y = s["joints_2d"][0].astype(int)
        assert s["image"][y, x].mean() > 150 and s["camera"] == "1" and s["subject"] == "Player 2"


def test_camera_two_with_negative_scale(sequence, tmp_path):
    root, world, _ = sequence
    kth.prepare(root, tmp_path / "out", camera=2, image_size=32)
    s = next(records.iterate_samples(tmp_path / "out", "train"))
    K, R, tc = _cameras(0)[1]
    np.testing.assert_allclose(s["joints_3d"], 1000.0 * (world[0] @ R.T + tc), atol=0.05)


def test_affine_cameras_give_a_consistent_pinhole():
    rng = np.random.default_rng(1)
    X = rng.uniform(-0.5, 0.5, size=(14, 3))
    M = np.array([[80.0, 5.0, 20.0, 300.0], [-3.0, 10.0, 82.0, 200.0]])
    K, cam = kth.camera_frame(M, X)
    uv = np.c_[X, np.ones(14)] @ M.T
    assert np.all(cam[:, 2] > 0)
    np.testing.assert_allclose(geometry.project(cam, K), uv, atol=0.1)


def test_wrong_counts_name_the_file(sequence):
    root, _, _ = sequence
    (root / "cameras.txt").write_text("1 2 3\n")
    with pytest.raises(KfusionError, match=r"cameras.txt: 3 numbers; expected 3 x 4 x 3 x 4 = 144"):
        kth.load_annotations(root)
    (root / "positions2d.txt").write_text("1 2 x\n")
    with pytest.raises(KfusionError, match=r"positions2d.txt: not whitespace-separated numbers"):
        kth.load_annotations(root)
    (root / "positions3d.txt").unlink()
    with pytest.raises(KfusionError, match=r"positions3d.txt: file not found"):
        kth.load_annotations(root)
