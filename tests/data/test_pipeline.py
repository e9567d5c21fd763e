"""tf.data pipelines: augmentation keeps image, 2D, 3D and intrinsics consistent; targets; order."""
import numpy as np
import pytest

from kfusion import skeletons
from kfusion.data import pipeline, records
from kfusion.errors import KfusionError
from kfusion.heatmaps import decode_heatmaps

S = 48  # record crop size, px
H36M = skeletons.H36M17


def fake_sample(rng, frame, size=S):
    """A random h36m17 pose in front of a camera whose crop K projects it into the frame.

    Joints land in [10, S - 10] px, the pelvis at the centre; the last joint is occluded.
    """
    J = H36M.num_joints
    K = np.array([[300.0, 0.0, size / 2 + 1.5], [0.0, 280.0, size / 2 - 1.0], [0.0, 0.0, 1.0]])
    uv = rng.uniform(10.0, size - 10.0, (J, 2))
    uv[H36M.root] = size / 2
    z = rng.uniform(4500.0, 5500.0, J)
    X = np.stack([(uv[:, 0] - K[0, 2]) / K[0, 0] * z, (uv[:, 1] - K[1, 2]) / K[1, 1] * z, z], -1)
    vis = np.ones(J, np.float32)
    vis[-1] = 0.0
    return {
        "image": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
        "joints_2d": uv.astype(np.float32),
        "joints_3d": X.astype(np.float32),
        "visibility": vis,
        "intrinsics": K.astype(np.float32),
        "subject": "S1", "action": "walking", "camera": "cam0", "source": "test", "frame": frame,
    }


def project(X, K):
    """Projection through a general 3x3 K (no assumption on its zero entries)."""
    p = np.einsum("...ij,...kj->...ki", np.asarray(K, np.float64), np.asarray(X, np.float64))
    return p[..., :2] / p[..., 2:]


def spot_sample(rng, joint):
    """A black image with one bright 4x4 spot on one joint (to follow the image through warps)."""
    s = fake_sample(rng, 0)
    s["image"] = np.zeros_like(s["image"])
    u, v = np.floor(s["joints_2d"][joint]).astype(int)
    s["image"][v - 2:v + 2, u - 2:u + 2] = 255
    return s, np.array([u, v], np.float64)  # the spot's centre, px


def brightest(image):
    w = image[..., 0].astype(np.float64)
    ys, xs = np.mgrid[: w.shape[0], : w.shape[1]] + 0.5
    return np.array([(w * xs).sum(), (w * ys).sum()]) / w.sum()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("records")
    rng = np.random.default_rng(0)
    samples = [fake_sample(rng, i) for i in range(10)]
    records.write_records(samples, d, "train", num_shards=3, skeleton="h36m17")
    records.write_manifest(d, skeleton="h36m17", image_size=S, splits={"train": 10}, source="test")
    return d


def test_flip_twice_is_identity_and_swaps_sides():
    s = fake_sample(np.random.default_rng(1), 0)
    f = pipeline.flip_sample(s, H36M)
    ff = pipeline.flip_sample(f, H36M)
    np.testing.assert_array_equal(ff["image"], s["image"])
    for k in ("joints_2d", "joints_3d", "intrinsics", "visibility"):
        np.testing.assert_allclose(ff[k], s[k], atol=1e-3, err_msg=k)
    np.testing.assert_array_equal(f["image"], s["image"][:, ::-1])
    lw, rw = H36M.index("l_wrist"), H36M.index("r_wrist")
    np.testing.assert_allclose(f["joints_2d"][lw], [S - s["joints_2d"][rw][0], s["joints_2d"][rw][1]], atol=1e-4)
    np.testing.assert_allclose(f["joints_3d"][lw], s["joints_3d"][rw] * [-1, 1, 1], atol=1e-3)
    assert f["intrinsics"][0, 2] == pytest.approx(S - s["intrinsics"][0, 2])
    np.testing.assert_allclose(project(f["joints_3d"], f["intrinsics"]), f["joints_2d"], atol=1e-3)


@pytest.mark.parametrize("angle", [30.0, -75.0])
def test_rotation_keeps_projection_and_moves_the_image(angle):
    rng = np.random.default_rng(2)
    joint = H36M.index("head")
    s, spot = spot_sample(rng, joint)
    r = pipeline.rotate_sample(s, angle, H36M)
    # The 3D pose (absolute, camera frame) still projects onto the rotated 2D joints.
    err = np.abs(project(r["joints_3d"], r["intrinsics"]) - r["joints_2d"]).max()
    assert err < 0.5 and err < 1e-2
    # The 3D pose turned about the optical axis: depths and bone lengths unchanged.
    np.testing.assert_allclose(r["joints_3d"][:, 2], s["joints_3d"][:, 2], atol=1e-2)
    assert not np.allclose(r["joints_2d"], s["joints_2d"], atol=1.0)
    # The image turned with the joints: the bright spot moved like the joint did.
    t = np.radians(angle)
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    np.testing.assert_allclose(r["joints_2d"], (s["joints_2d"] - S / 2) @ R.T + S / 2, atol=1e-3)
    np.testing.assert_allclose(brightest(r["image"]), R @ (spot - S / 2) + S / 2, atol=0.3)
    back = pipeline.rotate_sample(r, -angle, H36M)
    np.testing.assert_allclose(back["joints_3d"], s["joints_3d"], atol=1e-2)
    np.testing.assert_allclose(back["intrinsics"], s["intrinsics"], atol=1e-3)


def test_crop_scales_joints_and_keeps_projection():
    s, spot = spot_sample(np.random.default_rng(3), H36M.index("pelvis"))
    c = pipeline.crop_sample(s, (12.0, 8.0, 30.0), 60, H36M)
    assert c["image"].shape == (60, 60, 3)
    np.testing.assert_allclose(c["joints_2d"], (s["joints_2d"] - [12.0, 8.0]) * 2.0, atol=1e-3)
    np.testing.assert_allclose(c["joints_3d"], s["joints_3d"], atol=1e-3)
    np.testing.assert_allclose(project(c["joints_3d"], c["intrinsics"]), c["joints_2d"], atol=1e-3)
    np.testing.assert_allclose(brightest(c["image"]), (spot - [12.0, 8.0]) * 2.0, atol=0.3)
    outside = (c["joints_2d"] < 0).any(-1) | (c["joints_2d"] > 60).any(-1)
    assert 0 < outside.sum() < 16
    np.testing.assert_array_equal(c["visibility"], s["visibility"] * ~outside)


def test_training_pipeline_keeps_geometry_consistent(data_dir):
    aug = {"crop_prob": 1.0, "scale": [0.7, 1.1], "translate": 0.1, "rotate_deg": 40.0, "flip": True,
           "color": 0.3}
    ds = pipeline.make_dataset(data_dir, "train", batch_size=4, training=True, input_size=64,
                               heatmap_size=16, augment=aug, seed=5, with_meta=True)
    n = 0
    for features, targets, meta in ds:
        n += 1
        img = features["image"].numpy()
        assert img.shape == (4, 64, 64, 3) and img.dtype == np.float32
        assert 0.0 <= img.min() and img.max() <= 1.0
        assert targets["heatmaps"].shape == (4, 16, 16, 16)
        pose = targets["pose_3d"].numpy()
        np.testing.assert_array_equal(pose[:, 0], 0.0)
        j3, K = meta["joints_3d"].numpy(), meta["intrinsics"].numpy()
        np.testing.assert_allclose(pose, j3 - j3[:, :1], atol=1e-3)
        uv = skeletons.convert(project(j3, K), "h36m17", "mpii16")
        assert np.abs(uv - targets["joints_2d"].numpy()).max() < 0.05
        vis = targets["visibility"].numpy()
        inside = ((uv >= 0) & (uv <= 64)).all(-1)
        assert np.all(vis[~inside] == 0) and vis[inside].mean() > 0.8
    assert n == 2  # 10 samples, batches of 4, remainder dropped


def test_eval_pipeline_is_deterministic_in_written_order(data_dir):
    def run():
        ds = pipeline.make_dataset(data_dir, "train", batch_size=4, training=False, input_size=32,
                                   heatmap_size=8, with_meta=True)
        return [(f["image"].numpy(), t["joints_2d"].numpy(), m["frame"].numpy()) for f, t, m in ds]

    a, b = run(), run()
    assert [len(x[2]) for x in a] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([x[2] for x in a]), np.arange(10))
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v)


def test_heatmap_targets_peak_at_joints(data_dir):
    ds = pipeline.make_dataset(data_dir, "train", batch_size=5, training=False, input_size=48,
                               heatmap_size=48, sigma=1.5)
    features, targets = next(iter(ds))
    hm, joints, vis = (targets[k].numpy() for k in ("heatmaps", "joints_2d", "visibility"))
    decoded, conf = decode_heatmaps(hm)
    on = vis > 0
    assert on.sum() > 20
    np.testing.assert_allclose(decoded[on], joints[on], atol=0.05)
    assert np.all(conf[on] > 0.6) and np.all(hm[..., ~on.any(0)] == 0)
    # mpii16 joints come from their h36m17 counterparts.
    s0 = next(records.iterate_samples(data_dir, "train"))
    np.testing.assert_allclose(joints[0], skeletons.convert(s0["joints_2d"], "h36m17", "mpii16"), atol=1e-4)


def test_sharding_splits_files_disjointly(data_dir):
    frames = []
    for i in range(3):
        ds = pipeline.make_dataset(data_dir, "train", batch_size=8, training=False, input_size=S,
                                   heatmap_size=12, with_meta=True, num_shards=3, shard_index=i)
        frames.append({int(f) for *_, m in ds for f in m["frame"].numpy()})
    assert sorted(len(f) for f in frames) == [3, 3, 4]
    assert set.union(*frames) == set(range(10)) and sum(map(len, frames)) == 10
    with pytest.raises(KfusionError, match="3 train shard files cannot feed num_shards=4"):
        pipeline.make_dataset(data_dir, "train", batch_size=2, training=False, input_size=S,
                              heatmap_size=12, num_shards=4)


def test_augment_keys_are_checked():
    with pytest.raises(KfusionError, match=r"unknown key\(s\) \['rotate'\]; allowed keys \[.*'rotate_deg'"):
        pipeline.check_augment({"rotate": 10})
    with pytest.raises(KfusionError, match="scale"):
        pipeline.check_augment({"scale": [1.0, 0.5]})
    assert pipeline.check_augment(None)["crop_prob"] == pipeline.DEFAULT_AUGMENT["crop_prob"]


def test_fast_axis_aligned_warp_matches_general_warp():
    import tensorflow as tf

    rng = np.random.default_rng(4)
    B, src, out = 6, 40, 32
    images = tf.constant(rng.random((B, src, src, 3)).astype(np.float32))
    maps = []
    for b in range(B):
        side = rng.uniform(20, 40)
        x0, y0, k = rng.uniform(0, src - side), rng.uniform(0, src - side), out / side
        A = np.array([[k, 0, -x0 * k], [0, k, -y0 * k], [0, 0, 1]])
        maps.append(np.array([[-1, 0, out], [0, 1, 0], [0, 0, 1]]) @ A if b % 2 else A)
    A = tf.constant(np.array(maps, np.float32))
    general = pipeline.warp_images(images, A, out).numpy()
    fast = pipeline.warp_images(images, A, out, axis_aligned=True).numpy()
    np.testing.assert_allclose(fast, general, atol=1e-4)


def test_truncated_shard_fails_early_naming_the_file(data_dir, tmp_path):
    import shutil

    for p in data_dir.iterdir():
        shutil.copy(p, tmp_path / p.name)
    shard = tmp_path / "train-00002-of-00003.tfrecord"
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(KfusionError, match=r"train-00002-of-00003\.tfrecord: truncated"):
        pipeline.make_dataset(tmp_path, "train", batch_size=2, training=True, input_size=S, heatmap_size=12)


def test_color_jitter_identity_and_per_image_changes():
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(5).random((3, 8, 8, 3)).astype(np.float32) * 0.8 + 0.1)
    zero = {k: 0.0 for k in pipeline.COLOR_KEYS}
    np.testing.assert_allclose(pipeline.color_jitter(x, 7, zero).numpy(), x.numpy(), atol=1e-5)
    y = pipeline.color_jitter(x, 7, {"brightness": 0.3, "contrast": 0.3, "saturation": 0.3, "hue": 0.1}).numpy()
    assert y.min() >= 0 and y.max() <= 1
    change = np.abs(y - x.numpy()).mean(axis=(1, 2, 3))
    assert np.all(change > 1e-3) and len(set(np.round(change, 5))) == 3


def _photo_keys(**on):
    return {k: float(on.get(k, 0.0)) for k in pipeline.PHOTOMETRIC_KEYS}


def _textured(seed=3, batch=8, size=32):
    """Smooth, textured float images in [0.2, 0.8]: blur and noise have something to act on."""
    rng = np.random.default_rng(seed)
    u = np.linspace(0, 4 * np.pi, size)
    base = 0.5 + 0.3 * np.sin(u[None, :, None, None] * rng.uniform(0.5, 2, (batch, 1, 1, 3))
                              + u[None, None, :, None] * rng.uniform(0.5, 2, (batch, 1, 1, 3)))
    return base.astype(np.float32)


def test_photometric_is_identity_when_off_and_deterministic():
    x = _textured()
    np.testing.assert_allclose(pipeline.photometric(x, 4, _photo_keys()).numpy(), x, atol=1e-6)
    full = pipeline.check_augment({"photometric": 1.0})["photometric"]
    a, b = pipeline.photometric(x, 4, full).numpy(), pipeline.photometric(x, 4, full).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1 and np.abs(a - x).mean() > 0.01
    assert not np.array_equal(a, pipeline.photometric(x, 5, full).numpy())


def test_photometric_effects_do_what_they_say():
    x = _textured()
    grey = pipeline.photometric(x, 1, _photo_keys(greyscale=1.0)).numpy()
    np.testing.assert_allclose(grey[..., 0], grey[..., 1], atol=1e-6)
    np.testing.assert_allclose(grey[..., 1], grey[..., 2], atol=1e-6)

    def roughness(im):  # mean squared difference of horizontal neighbours: high frequencies
        return float(np.mean((im[:, :, 1:] - im[:, :, :-1]) ** 2))

    assert roughness(pipeline.photometric(x, 1, _photo_keys(blur=1.0)).numpy()) < 0.9 * roughness(x)
    # noise of std s adds about 2 s^2 to it (s uniform up to 0.06: 2.4e-3 on average)
    assert roughness(pipeline.photometric(x, 1, _photo_keys(noise=1.0)).numpy()) - roughness(x) > 1e-3
    jpeg = pipeline.photometric(x, 1, _photo_keys(jpeg=1.0)).numpy()
    assert np.abs(jpeg - x).mean() > 1e-4  # lossy
    assert np.corrcoef(jpeg.ravel(), x.ravel())[0, 1] > 0.8  # but the same picture
    # a light from one side: each image's brightness changes along a line, more on one side than the other
    lit = pipeline.photometric(x, 1, _photo_keys(lighting=1.0)).numpy() / x
    sides = [np.abs(lit[i, :, :8].mean() - lit[i, :, -8:].mean()) + np.abs(lit[i, :8].mean() - lit[i, -8:].mean())
             for i in range(len(x))]
    assert np.median(sides) > 0.1
    gamma = pipeline.photometric(x, 1, _photo_keys(gamma=1.0)).numpy()
    # a gamma keeps the order of the pixel values within an image
    i = 0
    order = np.argsort(x[i].ravel())
    assert np.all(np.diff(gamma[i].ravel()[order]) >= -1e-6)


def test_occlude_covers_one_rectangle_per_image_when_on():
    x = _textured(batch=16)
    np.testing.assert_array_equal(pipeline.occlude(x, 2, 0.0).numpy(), x)
    y = pipeline.occlude(x, 2, 1.0).numpy()
    changed = np.any(np.abs(y - x) > 1e-6, axis=-1)  # (B, H, W)
    for i in range(len(x)):
        rows, cols = np.nonzero(changed[i])
        assert len(rows), f"image {i} has no occluder"
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert changed[i].sum() / box > 0.9  # one solid rectangle
        assert 0.02 * 32 * 32 <= box <= 0.35 * 32 * 32


def test_photometric_and_occlude_keys_are_checked():
    with pytest.raises(KfusionError, match=r"augment.photometric has unknown key\(s\) \['sepia'\]"):
        pipeline.check_augment({"photometric": {"sepia": 1.0}})
    with pytest.raises(KfusionError, match="photometric"):
        pipeline.check_augment({"photometric": 1.5})
    with pytest.raises(KfusionError, match="'occlude': 2.0.*expected probabilities in"):
        pipeline.check_augment({"occlude": 2.0})
    a = pipeline.check_augment({"photometric": 0.5})["photometric"]
    assert a["blur"] == 0.5 and 0 < a["greyscale"] < 0.5


def test_part_crops_frame_one_part_of_the_body():
    """With part_crop 1 every window is the square of 1.15-1.5 x one part's visible joints, around them:
    those joints all land inside the input and span 1/1.5 to 1/1.15 of it (before the jitter of the
    centre, which keeps them inside); the geometry of the 2D and 3D stays consistent."""
    import tensorflow as tf

    rng = np.random.default_rng(4)
    B, size = 64, 64
    samples = [fake_sample(rng, i) for i in range(B)]
    batch = {k: tf.constant(np.stack([s[k] for s in samples])) for k in ("joints_2d", "visibility")}
    parts = np.array([[float(j in names) for j in H36M.joints] for names in skeletons.BODY_PARTS.values()], np.float32)
    aug = pipeline.check_augment({"crop_prob": 0.0, "part_crop": 1.0})
    A, M, flip = pipeline.random_transforms(tf.constant(3, tf.int64), B, aug, S, size, batch["joints_2d"],
                                            batch["visibility"], parts)
    A = A.numpy()
    j2 = np.einsum("bij,bkj->bki", A[:, :2, :2], batch["joints_2d"].numpy()) + A[:, None, :2, 2]
    vis = batch["visibility"].numpy() > 0
    spans = []
    for i in range(B):
        best = None
        for mask in parts > 0:
            use = mask & vis[i]
            span = (j2[i, use].max(0) - j2[i, use].min(0)).max() / size
            if 1 / 1.5 - 1e-3 <= span <= 1 / 1.15 + 1e-3 and (j2[i, use] >= -0.2 * size).all():
                best = span
        assert best is not None, f"sample {i}: no body part spans 1/1.5..1/1.15 of the window"
        spans.append(best)
    assert np.ptp(spans) > 0.05  # the window's size varies
    # off: the windows are the whole record frame, scaled to the input
    A0 = pipeline.random_transforms(tf.constant(3, tf.int64), B, pipeline.check_augment({"crop_prob": 0.0}), S,
                                    size, batch["joints_2d"], batch["visibility"], parts)[0].numpy()
    np.testing.assert_allclose(A0[:, 0, 0], size / S, rtol=1e-6)
