"""``fusion.flip``: a mirrored fusion sample is the mirror image of its person, in every field."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from kfusion import config as config_mod
from kfusion import skeletons

_spec = importlib.util.spec_from_file_location("_train_conftest", Path(__file__).parents[1] / "train" / "conftest.py")
_train = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_train)


def _mirror(packed):
    import tensorflow as tf

    from kfusion.data.cache import mirror_sample

    cfg = config_mod.from_dict({})
    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((3, 8, 8, 3)), tf.float32)
    maps = tf.constant(rng.random((3, 8, 8, 16)), tf.float32)
    pose = rng.normal(size=(3, 17, 8 if packed else 3)).astype(np.float32)
    if packed:
        pose[..., 6] = rng.random((3, 17)) > 0.3
        pose[..., 4] *= pose[..., 6]
        pose[..., 7] = rng.random((3, 17)) > 0.5  # a teacher's weights: relabelled, not negated
    chosen = tf.constant([True, False, True])
    out = mirror_sample(cfg, 20)(images, maps, tf.constant(pose), chosen)
    return (images.numpy(), maps.numpy(), pose), [o.numpy() for o in out], mirror_sample(cfg, 20), chosen


@pytest.mark.parametrize("packed", [False, True], ids=["pose_3d", "packed"])
def test_the_chosen_samples_are_mirrored_and_the_rest_untouched(packed):
    (images, maps, pose), (img2, maps2, pose2), mirror, chosen = _mirror(packed)
    p3 = skeletons.get("h36m17").flip_permutation
    ph = skeletons.get("mpii16").flip_permutation
    np.testing.assert_array_equal(img2[1], images[1])
    np.testing.assert_array_equal(pose2[1], pose[1])
    np.testing.assert_array_equal(img2[0], images[0][:, ::-1])
    np.testing.assert_array_equal(maps2[2], maps[2][:, ::-1][..., ph])  # the left knee's map is the right's
    expected = pose[0][p3].copy()
    expected[:, 0] *= -1  # x negated, camera frame
    if packed:
        expected[:, 4] = np.where(expected[:, 6] > 0, 20 - expected[:, 4], 0.0)  # u in the 20 px crop
    np.testing.assert_allclose(pose2[0], expected, atol=1e-6)
    # mirroring twice gives the sample back
    again = [o.numpy() for o in mirror(img2, maps2, pose2, chosen)]
    np.testing.assert_allclose(again[2], pose, atol=1e-5)
    np.testing.assert_array_equal(again[1], maps)


def test_fusion_dataset_mirrors_about_the_share_asked_and_only_when_training():
    from kfusion.data.cache import fusion_dataset

    cache = _train.make_cache(64, seed=3)
    cfg = config_mod.from_dict({"fusion": {"preset": "tiny", "input_size": 20, "flip": 0.5},
                                "augment": {"crop_prob": 0.0}})
    _, pose = next(iter(fusion_dataset(cache, cfg, training=True, batch_size=64)))
    pose = pose.numpy()
    # each sample is its own pose or its mirror; find which
    mirrored = pose_matches = 0
    p3 = skeletons.get("h36m17").flip_permutation
    for p in pose:
        own = np.abs(cache.pose_3d - p).max(axis=(1, 2)).min() < 1e-4
        flipped = cache.pose_3d[:, p3] * np.array([-1.0, 1.0, 1.0])
        mirror = np.abs(flipped - p).max(axis=(1, 2)).min() < 1e-4
        assert own != mirror
        mirrored += mirror
        pose_matches += own
    assert 16 <= mirrored <= 48 and mirrored + pose_matches == 64
    _, plain = next(iter(fusion_dataset(cache, cfg, training=False, batch_size=64)))
    np.testing.assert_array_equal(plain.numpy(), cache.pose_3d)  # evaluation: never mirrored


def test_flip_must_be_a_probability():
    from kfusion.errors import KfusionError

    with pytest.raises(KfusionError, match=r"'fusion.flip' is 1.5; expected a probability in \[0, 1\]"):
        config_mod.from_dict({"fusion": {"flip": 1.5}})
