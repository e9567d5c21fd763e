"""The paper's two-stage recipe with ``model.fit`` on ``tf.data``.

1. ``train_hourglass``: heatmap MSE with intermediate supervision on the records.
2. ``predict_cache``: run the trained hourglass once over a split and keep its *predicted* maps,
   with the images at the fusion network's input size and the 3D targets (``HeatmapCache``).
3. ``train_fusion`` (any strategy) and ``train_lifting`` on that cache.

Run folders: ``<run>/hourglass/``, ``<run>/cache/{split}.npz``, ``<run>/fusion-<strategy>/``,
``<run>/lifting/``; each training folder has ``model.keras``, ``log.csv``, ``checkpoints/``,
``backup/`` (resume), ``tensorboard/`` and, for fusion networks, ``fusion_trace.json``.
"""
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kfusion import skeletons
from kfusion.errors import KfusionError
from kfusion.io import atomic_path, load_npz, write_json


# Keras warns on every fit over a tf.data.Dataset that its shuffle flag is ignored: ours shuffle.
warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed")

# ----------------------------------------------------------------------------- distribution
def configure_logical_cpus(n):
    """Split the physical CPU into ``n`` logical devices (before TensorFlow initialises them).

    This is how ``MirroredStrategy`` is exercised on a machine with no GPU.
    """
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:
        pass  # already initialised: keep what is there
    return tf.config.list_logical_devices("CPU")


def get_strategy(name="default"):
    """A ``tf.distribute`` strategy by config name: default | mirrored | multiworker."""
    import tensorflow as tf

    if name in (None, "default"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multiworker":
        raise KfusionError("train.strategy 'multiworker' uses the custom loop: kfusion.train.distributed")
    raise KfusionError(f"train.strategy is {name!r}; expected default, mirrored or multiworker")


def _set_seed(seed):
    import keras

    keras.utils.set_random_seed(int(seed))


# ----------------------------------------------------------------------------- hourglass
def hourglass_sizes(cfg):
    hg = cfg["hourglass"]
    return hg["input_size"], hg["heatmap_size"] or hg["input_size"] // 4


def hourglass_dataset(cfg, split, *, training, output_names, repeat=False):
    """Records -> (image, {output_name: target heatmaps}) for every stack of the hourglass."""
    from kfusion.data.pipeline import make_dataset

    size, hm = hourglass_sizes(cfg)
    ds = make_dataset(
        cfg["data"]["records"], split, batch_size=cfg["hourglass"]["batch_size"], training=training,
        input_size=size, heatmap_size=hm, heatmap_skeleton=cfg["data"]["heatmap_skeleton"],
        sigma=cfg["hourglass"]["sigma"], augment=cfg["augment"] if training else None,
        seed=cfg["seed"], repeat=repeat)
    names = list(output_names)
    ds = ds.map(lambda f, t: (f["image"], {n: t["heatmaps"] for n in names}))
    if not repeat:  # tell Keras the epoch length (progress bar; no "ran out of data" warning)
        import tensorflow as tf

        from kfusion.data.records import read_manifest

        count = int(read_manifest(cfg["data"]["records"])["splits"][split]["count"])
        b = cfg["hourglass"]["batch_size"]
        ds = ds.apply(tf.data.experimental.assert_cardinality(count // b if training else -(-count // b)))
    return ds


def train_hourglass(cfg, run_dir, *, verbose=2, epochs=None, profile=False):
    """Train (or resume) the stacked hourglass; returns the trained ``keras.Model``.

    Saves ``run_dir/model.keras``. With ``hourglass.checkpoint`` set, starts from that model.
    """
    import keras

    from kfusion.models import load_model
    from kfusion.models.hourglass import build_hourglass
    from kfusion.train.losses import heatmap_loss

    run_dir = Path(run_dir)
    _set_seed(cfg["seed"])
    hg = cfg["hourglass"]
    size, hm = hourglass_sizes(cfg)
    strategy = get_strategy(cfg["train"]["strategy"])
    with strategy.scope():
        if hg["checkpoint"]:
            model = load_model(hg["checkpoint"])
        else:
            num_joints = skeletons.get(cfg["data"]["heatmap_skeleton"]).num_joints
            model = build_hourglass(hg["preset"], input_size=size, num_joints=num_joints)
        model.compile(optimizer=keras.optimizers.Adam(hg["learning_rate"]),
                      loss={n: heatmap_loss for n in model.output_names},
                      jit_compile=cfg["train"]["jit_compile"])
    train = hourglass_dataset(cfg, cfg["data"]["train_split"], training=True, output_names=model.output_names)
    val = hourglass_dataset(cfg, cfg["data"]["val_split"], training=False, output_names=model.output_names) \
        if cfg["train"]["validate"] else None
    return _fit(model, train, val, run_dir, cfg, epochs or hg["epochs"], fusion_trace=False, verbose=verbose,
                profile=profile)


# ----------------------------------------------------------------------------- heatmap cache
@dataclass
class HeatmapCache:
    """The hourglass's predictions over one split, with everything the fusion stage needs.

    Arrays (N = samples): ``images`` uint8 (N, F, F, 3) at the fusion input size F;
    ``heatmaps`` float16 (N, h, h, Jh) predicted maps; ``pose_3d`` float32 (N, J, 3) mm root-relative;
    ``joints_2d`` float32 (N, Jh, 2) decoded from the predicted maps, crop pixels of the hourglass
    input (size S); ``confidence`` float32 (N, Jh); ``joints_2d_gt`` float32 (N, Jh, 2);
    ``actions``, ``subjects`` str (N,); ``frames`` int64 (N,); ``input_size`` S.
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

    def __len__(self):
        return len(self.pose_3d)

    def save(self, path):
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **{k: np.asarray(v) for k, v in self.__dict__.items()})

    @classmethod
    def load(cls, path):
        z = load_npz(path, required=list(cls.__dataclass_fields__))
        z["input_size"] = int(z["input_size"])
        return cls(**{k: z[k] for k in cls.__dataclass_fields__})


def predict_cache(hourglass, cfg, split, path=None, batch_size=64):
    """Run ``hourglass`` over ``split`` of the records (no augmentation); returns a HeatmapCache."""
    import tensorflow as tf

    from kfusion.data.pipeline import make_dataset
    from kfusion.heatmaps import decode_heatmaps

    size, hm = hourglass_sizes(cfg)
    fusion_size = cfg["fusion"]["input_size"]
    ds = make_dataset(cfg["data"]["records"], split, batch_size=batch_size, training=False, input_size=size,
                      heatmap_size=hm, heatmap_skeleton=cfg["data"]["heatmap_skeleton"],
                      sigma=cfg["hourglass"]["sigma"], with_meta=True)
    out = {k: [] for k in ("images", "heatmaps", "pose_3d", "joints_2d_gt", "actions", "subjects", "frames")}
    predict = tf.function(lambda x: hourglass(x, training=False)[-1])
    for features, targets, meta in ds:
        pred = predict(features["image"]).numpy()
        img = tf.image.resize(features["image"], (fusion_size, fusion_size), antialias=True)
        out["images"].append(np.clip(np.rint(img.numpy() * 255), 0, 255).astype(np.uint8))
        out["heatmaps"].append(pred.astype(np.float16))
        out["pose_3d"].append(targets["pose_3d"].numpy().astype(np.float32))
        out["joints_2d_gt"].append(targets["joints_2d"].numpy().astype(np.float32))
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


# ----------------------------------------------------------------------------- fusion stage
def fusion_dataset(cache, cfg, *, training, batch_size=None, repeat=False, num_shards=1, shard_index=0):
    """HeatmapCache -> ({"image", "heatmaps"}, pose_3d (B, J, 3) mm) batches at the fusion input size.

    The confidence maps are resized to the image size and, when training, both get the same random
    crop (``augment.crop_prob``, ``augment.scale``, ``augment.translate``): the authors' only
    augmentation for this stage. The 3D target (root-relative, camera frame) is unchanged by it.
    ``num_shards``/``shard_index``: keep elements ``shard_index::num_shards`` of the (identically
    seeded) stream before batching: the workers' batches of one step make up one global batch.
    """
    import tensorflow as tf

    size = cfg["fusion"]["input_size"]
    batch_size = batch_size or cfg["fusion"]["batch_size"]
    aug = cfg["augment"]
    ds = tf.data.Dataset.from_tensor_slices((cache.images, cache.heatmaps, cache.pose_3d))
    if training:
        ds = ds.shuffle(min(len(cache), 20000), seed=cfg["seed"], reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    if num_shards > 1:
        ds = ds.shard(num_shards, shard_index)
    ds = ds.batch(batch_size, drop_remainder=training)
    rng = tf.random.Generator.from_seed(cfg["seed"] + 7919 * shard_index) if training else None

    def to_inputs(images, heatmaps, pose):
        img = tf.cast(images, tf.float32) / 255.0
        hms = tf.image.resize(tf.cast(heatmaps, tf.float32), (size, size))
        x = tf.concat([img, hms], axis=-1)
        if training and aug["crop_prob"] > 0:
            x = _random_crop_batch(x, rng, aug, size)
        return {"image": x[..., :3], "heatmaps": x[..., 3:]}, pose

    return ds.map(to_inputs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _random_crop_batch(x, rng, aug, size):
    """The same random square crop for image and maps of each sample, resized back to ``size``."""
    import tensorflow as tf

    b = tf.shape(x)[0]
    lo, hi = aug["scale"]
    scale = rng.uniform([b], lo, hi)
    do = tf.cast(rng.uniform([b]) < aug["crop_prob"], tf.float32)
    scale = do * scale + (1 - do)
    slack = 1.0 - scale
    off = rng.uniform([b, 2]) * slack[:, None]
    boxes = tf.stack([off[:, 1], off[:, 0], off[:, 1] + scale, off[:, 0] + scale], axis=1)
    return tf.image.crop_and_resize(x, boxes, tf.range(b), (size, size))


def build_fusion_from_config(cfg, strategy_name=None):
    """The fusion network of ``cfg`` (``fusion.init_from``: weights of matching layers loaded)."""
    from kfusion.models.fusion import build_fusion_network

    f = cfg["fusion"]
    model = build_fusion_network(
        f["preset"], strategy_name or f["strategy"], fusion_layer=f["fusion_layer"],
        alpha_init=f["alpha_init"], beta_init=f["beta_init"], penalty=f["penalty"],
        alpha_squared=f["alpha_squared"], fusion_rate=f["fusion_rate"], input_size=f["input_size"],
        num_joints=skeletons.get(cfg["data"]["skeleton"]).num_joints,
        num_heatmaps=skeletons.get(cfg["data"]["heatmap_skeleton"]).num_joints, seed=cfg["seed"])
    if f["init_from"]:
        path = Path(f["init_from"])
        if not path.is_file():
            raise KfusionError(f"fusion.init_from: {path} not found (expected a trained fusion .keras)")
        # e.g. a Human3.6M model fine-tuned on HumanEva: the output layer (other J) starts anew
        model.load_weights(str(path), skip_mismatch=True)
    return model


def _fit(model, train, val, run_dir, cfg, epochs, *, fusion_trace, verbose, profile=False):
    from kfusion.train.callbacks import standard_callbacks

    t0 = time.perf_counter()
    history = model.fit(train, validation_data=val, epochs=epochs, verbose=verbose,
                        steps_per_epoch=cfg["train"]["steps_per_epoch"],
                        callbacks=standard_callbacks(run_dir, checkpoint_every=cfg["train"]["checkpoint_every"],
                                                     fusion_trace=fusion_trace, profile=profile))
    seconds = time.perf_counter() - t0
    save_model(model, Path(run_dir) / "model.keras")
    from kfusion.train.callbacks import history_from_log

    write_json(Path(run_dir) / "train_summary.json", {  # a resumed run's log.csv holds every epoch
        "seconds": seconds, "epochs": epochs,
        "history": history_from_log(Path(run_dir) / "log.csv")
        or {k: [float(x) for x in v] for k, v in history.history.items()}})
    return model


def save_model(model, path):
    """``model.save`` to a temporary ``.keras`` beside ``path``, then rename (nothing half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(str(tmp))
    tmp.replace(path)


def train_fusion(cfg, train_cache, val_cache, run_dir, *, strategy_name=None, verbose=2, epochs=None,
                 profile=False):
    """Train one fusion network (``fusion.strategy`` or ``strategy_name``) on heatmap caches."""
    import keras

    from kfusion.train.losses import MPJPE, pose_loss

    _set_seed(cfg["seed"])
    with get_strategy(cfg["train"]["strategy"]).scope():
        model = build_fusion_from_config(cfg, strategy_name)
        model.compile(optimizer=keras.optimizers.Adam(cfg["fusion"]["learning_rate"]),
                      loss=pose_loss, metrics=[MPJPE()],
                      jit_compile=cfg["train"]["jit_compile"])
    train = fusion_dataset(train_cache, cfg, training=True)
    val = fusion_dataset(val_cache, cfg, training=False) if val_cache is not None else None
    return _fit(model, train, val, run_dir, cfg, epochs or cfg["fusion"]["epochs"], fusion_trace=True,
                verbose=verbose, profile=profile)


# ----------------------------------------------------------------------------- lifting baseline
def lifting_inputs(cache, ground_truth=False):
    """Decoded 2D joints of the predicted maps (or, with ``ground_truth``, the true 2D joints),
    normalised to [-1, 1] over the crop: (N, Jh, 2)."""
    uv = cache.joints_2d_gt if ground_truth else cache.joints_2d
    return (uv / cache.input_size * 2.0 - 1.0).astype(np.float32)


def lifting_dataset(cache, cfg, *, training, ground_truth=False):
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((lifting_inputs(cache, ground_truth), cache.pose_3d))
    if training:
        ds = ds.shuffle(min(len(cache), 20000), seed=cfg["seed"])
    return ds.batch(cfg["lifting"]["batch_size"]).prefetch(tf.data.AUTOTUNE)


def train_lifting(cfg, train_cache, val_cache, run_dir, *, verbose=2, epochs=None, ground_truth=False):
    """Train the lifting baseline (Martinez et al. 2017) on the same predicted maps, decoded to 2D
    (``ground_truth``: on the true 2D joints of the same crops instead)."""
    import keras

    from kfusion.models.lifting import build_lifting_baseline
    from kfusion.train.losses import MPJPE, pose_loss

    _set_seed(cfg["seed"])
    lf = cfg["lifting"]
    with get_strategy(cfg["train"]["strategy"]).scope():
        model = build_lifting_baseline(
            num_joints_2d=train_cache.joints_2d.shape[1], num_joints_3d=train_cache.pose_3d.shape[1],
            units=lf["units"], blocks=lf["blocks"], dropout=lf["dropout"])
        model.compile(optimizer=keras.optimizers.Adam(lf["learning_rate"]), loss=pose_loss,
                      metrics={"pose_3d": [MPJPE()]}, jit_compile=cfg["train"]["jit_compile"])
    train = lifting_dataset(train_cache, cfg, training=True, ground_truth=ground_truth)
    val = lifting_dataset(val_cache, cfg, training=False, ground_truth=ground_truth) if val_cache is not None else None
    return _fit(model, train, val, run_dir, cfg, epochs or lf["epochs"], fusion_trace=False, verbose=verbose)


def pose_pair_arrays(data_dir, split):
    """A pose-pair split (:mod:`kfusion.data.posepairs`) as lifting inputs and targets.

    Returns (joints_2d (N, J, 2) float32 full-image px, pose_3d (N, J, 3) float32 mm root-relative on
    the skeleton's root, meta dict of (N,) labels: action, subject, sequence, camera, frame).
    """
    from kfusion.data import posepairs

    a = posepairs.read_split(data_dir, split)
    root = skeletons.get(posepairs.read_manifest(data_dir)["skeleton"]).root
    pose = a["joints_3d"] - a["joints_3d"][:, root:root + 1]
    meta = {k: a[k] for k in ("action", "subject", "sequence", "camera", "frame")}
    return a["joints_2d"], pose.astype(np.float32), meta


def _learning_rate(cfg_stage, steps_per_epoch, epochs):
    """Constant, or cosine decay to 1 % over the run (``schedule``)."""
    import keras

    if cfg_stage.get("schedule", "constant") == "cosine":
        return keras.optimizers.schedules.CosineDecay(cfg_stage["learning_rate"], steps_per_epoch * epochs,
                                                      alpha=0.01)
    return cfg_stage["learning_rate"]


def train_lifting_pairs(cfg, data_dir, run_dir, *, verbose=2, epochs=None):
    """Train the lifting baseline on ground-truth 2D/3D pose pairs (Martinez et al.'s setting).

    The inputs are full-image pixels, standardised per coordinate with the training set's mean and
    std inside the model, and the outputs are standardised root-relative mm (both as in
    Martinez et al.); the saved model maps pixels to mm on its own.
    """
    import keras
    import tensorflow as tf

    from kfusion.models.lifting import build_lifting_baseline
    from kfusion.train.losses import MPJPE, pose_loss

    _set_seed(cfg["seed"])
    lf = cfg["lifting"]
    x, y, _ = pose_pair_arrays(data_dir, cfg["data"]["train_split"])
    val = None
    if cfg["train"]["validate"]:
        vx, vy, _ = pose_pair_arrays(data_dir, cfg["data"]["val_split"])
        step = max(1, len(vx) // 20000)  # a fixed subset keeps validation cheap
        val = tf.data.Dataset.from_tensor_slices((vx[::step], vy[::step])) \
            .batch(1024).prefetch(tf.data.AUTOTUNE)
    epochs = epochs or lf["epochs"]
    steps = len(x) // lf["batch_size"]
    with get_strategy(cfg["train"]["strategy"]).scope():
        model = build_lifting_baseline(
            num_joints_2d=x.shape[1], num_joints_3d=y.shape[1], units=lf["units"], blocks=lf["blocks"],
            dropout=lf["dropout"], seed=cfg["seed"],
            input_stats=(x.mean(0), x.std(0)), output_stats=(y.mean(0), y.std(0)))
        if lf["init_from"]:  # a longer run: continue from a trained model (its statistics come along)
            path = Path(lf["init_from"])
            if not path.is_file():
                raise KfusionError(f"lifting.init_from: {path} not found (expected a trained lifting .keras)")
            model.load_weights(str(path))
        model.compile(optimizer=keras.optimizers.Adam(_learning_rate(lf, steps, epochs)), loss=pose_loss,
                      metrics=[MPJPE()], jit_compile=cfg["train"]["jit_compile"])
    train = tf.data.Dataset.from_tensor_slices((x, y)) \
        .shuffle(len(x), seed=cfg["seed"], reshuffle_each_iteration=True) \
        .batch(lf["batch_size"], drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    return _fit(model, train, val, run_dir, cfg, epochs, fusion_trace=False, verbose=verbose)


def predict_poses(model, cache, cfg, *, kind="fusion", batch_size=256):
    """Predictions (N, J, 3) mm of a fusion network or lifting baseline over a cache."""
    import tensorflow as tf

    if kind in ("lifting", "lifting_gt"):
        x = lifting_inputs(cache, ground_truth=kind == "lifting_gt")
        return np.concatenate([model(x[i:i + batch_size], training=False).numpy()
                               for i in range(0, len(x), batch_size)])
    ds = fusion_dataset(cache, cfg, training=False, batch_size=batch_size)
    call = tf.function(lambda f: model(f, training=False))
    return np.concatenate([call(f).numpy() for f, _ in ds])


def read_run_config(run_dir):
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise KfusionError(f"{path}: not found (expected the config of a kfusion run)")
    return json.loads(path.read_text())
