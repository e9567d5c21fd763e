"""The hourglass's predictions kept once per split, and the fusion and lifting datasets made from them.

``predict_cache`` runs a trained hourglass over a split of the records (no augmentation) and keeps its
*predicted* confidence maps with the images at the fusion input size and the 3D targets
(``HeatmapCache``, one ``.npz`` per split); ``fusion_dataset`` and ``lifting_dataset`` turn a cache
into ``tf.data`` batches for the fusion networks and the lifting baseline.

A fusion network can also learn from photographs with 2D joints only (``fusion.extra_records``):
their batches carry *packed* targets (``pack_targets``), which ``kfusion.models.losses.pose_loss``
reads as a 3D term where the pose has 3D and a projection term where it has 2D.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np

from kfusion import skeletons
from kfusion.data.pipeline import make_dataset, random_crops
from kfusion.io import atomic_path, load_npz

# The joints whose 2D position in a photograph teaches the 3D pose (fusion.extra_records)
PROJECTION_JOINTS = skeletons.LIMB_JOINTS


def hourglass_sizes(cfg):
    """``(input_size, heatmap_size)`` of the hourglass of ``cfg``."""
    hg = cfg["hourglass"]
    return hg["input_size"], hg["heatmap_size"] or hg["input_size"] // 4


@dataclass
class HeatmapCache:
    """The hourglass's predictions over one split, with everything the fusion stage needs.

    Arrays (N = samples): ``images`` uint8 (N, F, F, 3) at the fusion input size F;
    ``heatmaps`` float16 (N, h, h, Jh) predicted maps; ``pose_3d`` float32 (N, J, 3) mm root-relative;
    ``joints_2d`` float32 (N, Jh, 2) decoded from the predicted maps, crop pixels of the hourglass
    input (size S); ``confidence`` float32 (N, Jh); ``joints_2d_gt`` float32 (N, Jh, 2);
    ``actions``, ``subjects`` str (N,); ``frames`` int64 (N,); ``input_size`` S; ``visibility``
    float32 (N, Jh), 1 where ``joints_2d_gt`` is labelled (None in caches written before it was kept);
    ``teacher_3d`` float32 (N, J, 3) and ``teacher_weight`` float32 (N, J): a teacher's 3D of 2D-only
    photographs (``kfusion.data.teacher``; None: none).
    """

    images: np.ndarray
    heatmaps: np.ndarray
    pose_3d: np.ndarray
    joints_2d: np.ndarray
    confidence: np.ndarray
    joints_2d_gt: np.ndarray
    actions: np.ndarray
    subjects: np.ndarray
    frames: np.ndarray
    input_size: int
    visibility: Optional[np.ndarray] = None
    teacher_3d: Optional[np.ndarray] = None
    teacher_weight: Optional[np.ndarray] = None

    def __len__(self):
        return len(self.pose_3d)

    def subset(self, index):
        """The samples ``index`` (a slice or an index array) as a new cache."""
        n = len(self)
        return type(self)(**{k: (v[index] if isinstance(v, np.ndarray) and v.ndim and len(v) == n else v)
                             for k, v in self.__dict__.items()})

    def save(self, path):
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **{k: np.asarray(v) for k, v in self.__dict__.items() if v is not None})

    @classmethod
    def load(cls, path):
        optional = [k for k, f in cls.__dataclass_fields__.items() if f.default is None]
        z = load_npz(path, required=[k for k in cls.__dataclass_fields__ if k not in optional])
        z["input_size"] = int(z["input_size"])
        return cls(**{k: z[k] for k in cls.__dataclass_fields__ if k in z})


def predict_cache(hourglass, cfg, split, path=None, batch_size=64, records=None):
    """Run ``hourglass`` over ``split`` of the records (``records``: another folder than the config's,
    e.g. 2D-only photographs) without augmentation; returns a HeatmapCache."""
    import tensorflow as tf

    from kfusion.heatmaps import decode_heatmaps, last_stack

    size, hm = hourglass_sizes(cfg)
    fusion_size = cfg["fusion"]["input_size"]
    ds = make_dataset(records or cfg["data"]["records"], split, batch_size=batch_size, training=False, input_size=size,
                      heatmap_size=hm, heatmap_skeleton=cfg["data"]["heatmap_skeleton"],
                      sigma=cfg["hourglass"]["sigma"], with_meta=True)
    out = {k: [] for k in ("images", "heatmaps", "pose_3d", "joints_2d_gt", "visibility", "actions", "subjects",
                           "frames")}
    predict = tf.function(lambda x: last_stack(hourglass(x, training=False)))
    for features, targets, meta in ds:
        pred = predict(features["image"]).numpy()
        img = tf.image.resize(features["image"], (fusion_size, fusion_size), antialias=True)
        out["images"].append(np.clip(np.rint(img.numpy() * 255), 0, 255).astype(np.uint8))
        out["heatmaps"].append(pred.astype(np.float16))
        out["pose_3d"].append(targets["pose_3d"].numpy().astype(np.float32))
        out["joints_2d_gt"].append(targets["joints_2d"].numpy().astype(np.float32))
        out["visibility"].append(targets["visibility"].numpy().astype(np.float32))
        out["actions"].append(meta["action"].numpy().astype(str))
        out["subjects"].append(meta["subject"].numpy().astype(str))
        out["frames"].append(meta["frame"].numpy().astype(np.int64))
    arrays = {k: np.concatenate(v) for k, v in out.items()}
    uv, conf = decode_heatmaps(arrays["heatmaps"].astype(np.float32))
    cache = HeatmapCache(joints_2d=(uv * size / hm).astype(np.float32), confidence=conf.astype(np.float32),
                         input_size=size, **arrays)
    if path is not None:
        cache.save(path)
    return cache


def pack_targets(cache, cfg, *, has_3d):
    """A fusion stage's targets when it also learns from 2D-only photographs: (N, J, 8) float32, per
    3D joint ``x, y, z`` (mm, root-relative), ``w3`` (1 where the pose has 3D), ``u, v`` (crop px),
    ``w2`` (1 where the joint is labelled in 2D; ``PROJECTION_JOINTS`` only) and ``wt`` (the weight
    of a teacher's 3D, ``fusion.teacher_weight`` where taught, 0 elsewhere).

    ``has_3d``: the cache's ``pose_3d`` is the target (renders) and its 2D is not used, or it has no
    3D (photographs) and its labelled ``PROJECTION_JOINTS`` of ``joints_2d_gt`` are the target, with
    its ``teacher_3d`` as ``x, y, z`` where it has one.
    """
    skel3 = skeletons.get(cfg["data"]["skeleton"])
    n, j = len(cache), skel3.num_joints
    out = np.zeros((n, j, 8), np.float32)
    if has_3d:
        out[..., :3] = cache.pose_3d
        out[..., 3] = 1.0
        return out
    teacher = float(cfg["fusion"]["teacher_weight"])
    if teacher > 0:
        if cache.teacher_3d is None:
            raise ValueError("pack_targets: fusion.teacher_weight > 0 but the photographs have no teacher's 3D "
                             "(kfusion prepare teacher)")
        out[..., :3] = cache.teacher_3d
        out[..., 7] = teacher * cache.teacher_weight
    if cache.visibility is None:
        raise ValueError("pack_targets: a 2D-only cache needs its visibility (a cache written by this kfusion)")
    src, dst = skeletons.mapping(cfg["data"]["heatmap_skeleton"], skel3.name)
    keep = np.isin([skel3.joints[d] for d in dst], PROJECTION_JOINTS)
    src, dst = src[keep], dst[keep]
    out[:, dst, 4:6] = cache.joints_2d_gt[:, src]
    out[:, dst, 6] = cache.visibility[:, src] > 0
    return out


def fusion_dataset(cache, cfg, *, training, batch_size=None, repeat=False, num_shards=1, shard_index=0,
                   photos=None):
    """HeatmapCache -> ({"image", "heatmaps"}, pose_3d (B, J, 3) mm) batches at the fusion input size.

    The confidence maps are resized to the image size and, when training, both get the same random
    crop (``augment.crop_prob``, ``augment.scale``, ``augment.translate``; ``pipeline.random_crops``,
    the hourglass's crop): the authors' only augmentation for this stage. The 3D target (root-relative,
    camera frame) is unchanged by it.
    ``num_shards``/``shard_index``: keep elements ``shard_index::num_shards`` of the (identically
    seeded) stream before batching: the workers' batches of one step make up one global batch.

    ``photos``: a HeatmapCache of 2D-only photographs (training, repeated): a ``fusion.extra_weight``
    share of the samples comes from them and the targets are packed (``pack_targets``, (B, J, 8)).
    The crop leaves their loss unchanged: the projection term fits scale and shift.

    ``fusion.flip``: when training, each sample is mirrored with that probability (``mirror_sample``).
    """
    import tensorflow as tf

    size = cfg["fusion"]["input_size"]
    batch_size = batch_size or cfg["fusion"]["batch_size"]
    aug = cfg["augment"]

    def source(c, targets, seed):
        return _ordered(tf.data.Dataset.from_tensor_slices((c.images, c.heatmaps, targets)), len(c),
                        seed, training, repeat, num_shards, shard_index)

    if photos is None:
        ds = source(cache, cache.pose_3d, cfg["seed"])
    else:
        if not (training and repeat):
            raise ValueError("fusion_dataset: photos are mixed in only when training on a repeated stream")
        w = float(cfg["fusion"]["extra_weight"])
        ds = tf.data.Dataset.sample_from_datasets(
            [source(cache, pack_targets(cache, cfg, has_3d=True), cfg["seed"]),
             source(photos, pack_targets(photos, cfg, has_3d=False), cfg["seed"] + 1)],
            weights=[1.0 - w, w], seed=cfg["seed"])
    ds = ds.batch(batch_size, drop_remainder=training)
    crop = training and aug["crop_prob"] > 0
    flip = float(cfg["fusion"]["flip"]) if training else 0.0
    mirror = mirror_sample(cfg, cache.input_size) if flip > 0 else None

    def to_inputs(images, heatmaps, pose, rseed=None):
        img = tf.cast(images, tf.float32) / 255.0
        hms = tf.image.resize(tf.cast(heatmaps, tf.float32), (size, size))
        if flip > 0:
            seed = tf.stack([rseed, tf.constant(104729, tf.int64)])
            chosen = tf.random.stateless_uniform(tf.shape(img)[:1], seed=seed) < flip
            img, hms, pose = mirror(img, hms, pose, chosen)
        x = tf.concat([img, hms], axis=-1)
        if crop:  # the same crop for the image and its maps
            x = random_crops(x, rseed, aug)
        return {"image": x[..., :3], "heatmaps": x[..., 3:]}, pose

    if crop or flip > 0:
        rng = tf.data.Dataset.random(seed=cfg["seed"] + 7919 * shard_index, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, rng)).map(lambda batch, rseed: to_inputs(*batch, rseed),
                                                num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(to_inputs, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def mirror_sample(cfg, input_size):
    """``mirror(images, heatmaps, pose, chosen)``: the ``chosen`` (B,) samples of a fusion batch
    mirrored left to right: images and maps (B, S, S, C) reversed along x, the maps' joints relabelled
    (the heatmap skeleton's ``flip_permutation``); the 3D pose (B, J, 3) or packed targets (B, J, 8,
    ``pack_targets``) relabelled with the 3D skeleton's permutation, x negated (camera frame) and
    the 2D label u mirrored in the crop of ``input_size`` px (u -> input_size - u); a teacher's 3D
    (channels 0-2) mirrors as the pose does and its weights are relabelled."""
    import tensorflow as tf

    perm_maps = skeletons.get(cfg["data"]["heatmap_skeleton"]).flip_permutation
    perm_3d = skeletons.get(cfg["data"]["skeleton"]).flip_permutation
    size = float(input_size)

    def mirror(images, heatmaps, pose, chosen):
        pick = lambda a, b: tf.where(tf.reshape(chosen, [-1] + [1] * (len(a.shape) - 1)), b, a)  # noqa: E731
        images = pick(images, images[:, :, ::-1])
        heatmaps = pick(heatmaps, tf.gather(heatmaps[:, :, ::-1], perm_maps, axis=-1))
        swapped = tf.gather(pose, perm_3d, axis=1)
        sign = [-1.0] + [1.0] * (int(pose.shape[-1]) - 1)  # x negated
        offset = [0.0] * int(pose.shape[-1])
        packed = int(pose.shape[-1]) > 3
        if packed:  # u -> size - u
            sign[4], offset[4] = -1.0, size
        mirrored = swapped * tf.constant(sign, pose.dtype) + tf.constant(offset, pose.dtype)
        if packed:  # u of an unlabelled joint stays 0
            mirrored = tf.concat([mirrored[..., :4], mirrored[..., 4:5] * swapped[..., 6:7], mirrored[..., 5:]], -1)
        return images, heatmaps, pick(pose, mirrored)

    return mirror


def lifting_inputs(cache, ground_truth=False):
    """Decoded 2D joints of the predicted maps (or, with ``ground_truth``, the true 2D joints),
    normalised to [-1, 1] over the crop: (N, Jh, 2)."""
    uv = cache.joints_2d_gt if ground_truth else cache.joints_2d
    return (uv / cache.input_size * 2.0 - 1.0).astype(np.float32)


def lifting_dataset(cache, cfg, *, training, ground_truth=False, batch_size=None, repeat=False, num_shards=1,
                    shard_index=0):
    """HeatmapCache -> (joints_2d (B, Jh, 2) in [-1, 1], pose_3d (B, J, 3) mm) batches
    (``lifting_inputs``); sharding as in ``fusion_dataset``."""
    import tensorflow as tf

    ds = _ordered(tf.data.Dataset.from_tensor_slices((lifting_inputs(cache, ground_truth), cache.pose_3d)),
                  len(cache), cfg["seed"], training, repeat, num_shards, shard_index)
    return ds.batch(batch_size or cfg["lifting"]["batch_size"]).prefetch(tf.data.AUTOTUNE)


def _ordered(ds, count, seed, training, repeat, num_shards, shard_index):
    """Shuffled when training (seeded, anew each epoch), repeated, then this worker's elements
    ``shard_index::num_shards`` of that identically seeded stream."""
    if training:
        ds = ds.shuffle(min(count, 20000), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.shard(num_shards, shard_index) if num_shards > 1 else ds
