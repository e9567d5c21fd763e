"""The training stages of the paper's recipe, each described once, and the ``model.fit`` path.

1. ``hourglass_stage``: the stacked hourglass, heatmap MSE with intermediate supervision.
2. ``fusion_stage``: one fusion network (any strategy) on the heatmap cache of the trained hourglass.
3. ``lifting_stage`` / ``lifting_pairs_stage``: the lifting baseline (Martinez et al. 2017) on the
   cache's decoded 2D joints, or on ground-truth 2D/3D pose pairs.

A :class:`Stage` holds what training needs: the network builder, the ``tf.data`` input, the
per-example loss and metric, the optimizers' settings and the run length. ``fit`` trains it with
``model.fit`` (one device or ``MirroredStrategy``); :func:`kfusion.train.distributed.fit_distributed`
trains the same Stage with the multi-worker loop. Both use the one step of
:mod:`kfusion.train.step`.

Run folders: ``<run>/hourglass/``, ``<run>/cache/{split}.npz``, ``<run>/fusion-<strategy>/``,
``<run>/lifting/``; each training folder has ``model.keras``, ``log.csv``, ``checkpoints/``,
``backup/`` (resume), ``tensorboard/`` and, for fusion networks, ``fusion_trace.json``.
"""
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from kfusion import skeletons
from kfusion.data import cache as cache_lib
from kfusion.errors import KfusionError
from kfusion.io import write_json

# Keras warns on every fit over a tf.data.Dataset that its shuffle flag is ignored: ours shuffle.
warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed")


@dataclass
class Stage:
    """One network to train.

    Attributes:
        name: ``hourglass``, ``fusion`` or ``lifting``.
        build: ``() -> keras.Model``, the functional network (called inside the strategy's scope).
        data: ``(network, batch_size, num_shards, shard_index, repeat) -> tf.data.Dataset`` of
            ``(x, y)`` training batches; worker ``shard_index`` of ``num_shards`` reads its share.
        val_data: the same for validation (no augmentation, no repeat), or None; it returns None
            for a shard that holds no validation data.
        loss: per-example loss ``(y, y_pred) -> (B,)``, or ``{output name: loss}``.
        metric: per-example metric ``(y, y_pred) -> (B,)`` logged as ``mpjpe`` (mm), or None.
        batch_size, epochs: the global batch and the run length; ``steps_per_epoch`` (None: one
            pass over ``num_samples``).
        learning_rate, schedule: Adam's rate for the weights; ``constant`` or ``cosine``.
        fusion_optimizer: ``{"learning_rate", "beta_2"}`` of alpha's own Adam, or None (one
            optimizer for everything: the paper).
        fusion_trace: record alpha, beta and the weights after every epoch (Fig. 4).
        settle_epoch: from this epoch (0-based) on, the fusion point is settled (beta fixed in the
            middle of its block, ``TrainingModel.settle_fusion_point``); None: never (the paper).
    """

    name: str
    build: Callable
    data: Callable
    val_data: Optional[Callable]
    loss: object
    metric: Optional[Callable]
    batch_size: int
    epochs: int
    num_samples: int
    learning_rate: float
    schedule: str = "constant"
    steps_per_epoch: Optional[int] = None
    fusion_optimizer: Optional[dict] = None
    fusion_trace: bool = False
    settle_epoch: Optional[int] = None

    def steps(self):
        return self.steps_per_epoch or max(1, self.num_samples // self.batch_size)

    def output_losses(self, network):
        """The per-example loss, or for a ``{output name or "*": loss}`` stage one loss per output of
        ``network`` (``"*"``: every output not named)."""
        if not isinstance(self.loss, dict):
            return self.loss
        return {n: self.loss.get(n, self.loss.get("*")) for n in network.output_names}

    def compile(self, network, jit_compile=False):
        """``network`` wrapped in a compiled :class:`~kfusion.train.step.TrainingModel` (call this
        inside the strategy's scope)."""
        import keras

        from kfusion.models.losses import MPJPE
        from kfusion.train.step import TrainingModel

        model = TrainingModel(network)
        lr = self.learning_rate
        if self.schedule == "cosine":  # to 1 % over the run
            lr = keras.optimizers.schedules.CosineDecay(lr, self.steps() * self.epochs, alpha=0.01)
        fusion = None
        if self.fusion_optimizer is not None:
            fusion = keras.optimizers.Adam(self.fusion_optimizer["learning_rate"],
                                           beta_2=self.fusion_optimizer["beta_2"], name="fusion_adam")
        model.compile(optimizer=keras.optimizers.Adam(lr), fusion_optimizer=fusion, loss=self.output_losses(network),
                      metrics=[MPJPE()] if self.metric is not None else None, jit_compile=jit_compile)
        return model


def training_options(cfg):
    """The keyword arguments of ``fit``/``fit_distributed`` that come from ``cfg["train"]``."""
    t = cfg["train"]
    return {"checkpoint_every": t["checkpoint_every"], "jit_compile": t["jit_compile"]}


# ----------------------------------------------------------------------------- the fit path
def fit(stage, run_dir, *, strategy, checkpoint_every=1, jit_compile=False, verbose=2, profile=False,
        callbacks=()):
    """Train ``stage`` with ``model.fit`` under ``strategy`` (default or mirrored); returns the
    trained network. Saves ``run_dir/model.keras`` and ``train_summary.json``. ``callbacks``: more
    Keras callbacks, run before the standard ones (e.g. ``BudgetEvaluation`` before the backup)."""
    from kfusion.models import save_model
    from kfusion.train.callbacks import SettleFusion, history_from_log, standard_callbacks

    run_dir = Path(run_dir)
    with strategy.scope():
        network = stage.build()
        model = stage.compile(network, jit_compile)
    train = stage.data(network, stage.batch_size, 1, 0, stage.steps_per_epoch is not None)
    val = stage.val_data(network, stage.batch_size, 1, 0) if stage.val_data is not None else None
    t0 = time.perf_counter()
    history = model.fit(train, validation_data=val, epochs=stage.epochs, verbose=verbose,
                        steps_per_epoch=stage.steps_per_epoch or None,
                        callbacks=list(callbacks)
                        + standard_callbacks(run_dir, checkpoint_every=checkpoint_every,
                                             fusion_trace=stage.fusion_trace, profile=profile)
                        + ([SettleFusion(stage.settle_epoch)] if stage.settle_epoch is not None else []))
    seconds = time.perf_counter() - t0
    save_model(network, run_dir / "model.keras")
    write_json(run_dir / "train_summary.json", {  # a resumed run's log.csv holds every epoch
        "seconds": seconds, "epochs": stage.epochs,
        "history": history_from_log(run_dir / "log.csv")
        or {k: [float(x) for x in v] for k, v in history.history.items()}})
    return network


# ----------------------------------------------------------------------------- hourglass
def hourglass_stage(cfg):
    """The stacked hourglass on the records of ``cfg`` (``hourglass.checkpoint``: start from it)."""
    from kfusion.data.pipeline import make_dataset
    from kfusion.data.records import read_manifest, record_files
    from kfusion.models.losses import heatmap_loss

    hg, data = cfg["hourglass"], cfg["data"]
    size, hm = cache_lib.hourglass_sizes(cfg)

    def build():
        if hg["checkpoint"]:
            from kfusion.models import load_model
            from kfusion.models.hourglass import inner_hourglass, resized, widened

            try:
                network = inner_hourglass(load_model(hg["checkpoint"]))
            except ValueError as e:
                raise KfusionError(f"hourglass.checkpoint: {hg['checkpoint']}: {e}") from None
            trained_at = int(network.inputs[0].shape[1])
            if trained_at != size:
                try:  # e.g. a 64 px network continued at 96 px: finer maps, the same weights to start from
                    network = resized(network, size)
                except ValueError as e:
                    raise KfusionError(f"hourglass.checkpoint: {hg['checkpoint']} ({trained_at} px) cannot run at "
                                       f"hourglass.input_size {size}: {e}") from None
            return widened(network, hg["widen"], seed=cfg["seed"])
        if hg["widen"] != 1:
            raise KfusionError(f"hourglass.widen is {hg['widen']}; it widens a trained network: set "
                               "hourglass.checkpoint too (a new network takes its width from hourglass.preset)")
        from kfusion.models.hourglass import build_hourglass

        return build_hourglass(hg["preset"], input_size=size,
                               num_joints=skeletons.get(data["heatmap_skeleton"]).num_joints)

    extras = list(hg["extra_records"])

    def records(network, split, training, batch_size, num_shards, shard_index, repeat):
        """Records -> (image, {output name: target heatmaps}) for every stack; when training with
        ``hourglass.extra_records``, a ``1 - extra_weight`` share of the batches come from the records
        and the rest from the extra ones (2D only: unlabelled joints are left out of the loss)."""
        import tensorflow as tf

        names = list(network.output_names)

        def one(path, split, repeat, seed):
            ds = make_dataset(path, split, batch_size=batch_size, training=training, input_size=size,
                              heatmap_size=hm, heatmap_skeleton=data["heatmap_skeleton"], sigma=hg["sigma"],
                              augment=cfg["augment"] if training else None, seed=seed, repeat=repeat,
                              num_shards=num_shards, shard_index=shard_index, mask_unlabelled=True)
            return ds.map(lambda f, t: (f["image"], {n: t["heatmaps"] for n in names}))

        if training and extras:
            sources = [one(data["records"], split, True, cfg["seed"])]
            sources += [one(path, "train", True, cfg["seed"] + 1 + i) for i, path in enumerate(extras)]
            w = float(hg["extra_weight"])
            return tf.data.Dataset.sample_from_datasets(
                sources, weights=[1.0 - w] + [w / len(extras)] * len(extras), seed=cfg["seed"])
        ds = one(data["records"], split, repeat, cfg["seed"])
        if not repeat and num_shards == 1:  # tell Keras the epoch length (progress bar, no warning)
            count = int(read_manifest(data["records"])["splits"][split]["count"])
            ds = ds.apply(tf.data.experimental.assert_cardinality(
                count // batch_size if training else -(-count // batch_size)))
        return ds

    def train_data(network, batch_size, num_shards, shard_index, repeat):
        return records(network, data["train_split"], True, batch_size, num_shards, shard_index, repeat)

    def val_data(network, batch_size, num_shards, shard_index):
        files = len(record_files(data["records"], data["val_split"]))
        if shard_index >= files:  # fewer shard files than workers: this worker has no share
            return None
        return records(network, data["val_split"], False, batch_size, min(num_shards, files), shard_index, False)

    count = int(read_manifest(data["records"])["splits"][data["train_split"]]["count"])
    steps = cfg["train"]["steps_per_epoch"]
    if extras:  # an epoch: as many batches as the records and the extra records hold together
        count += sum(int(read_manifest(p)["splits"]["train"]["count"]) for p in extras)
        steps = steps or max(1, count // int(hg["batch_size"]))
    return Stage("hourglass", build, train_data, val_data if cfg["train"]["validate"] else None,
                 loss={"*": heatmap_loss}, metric=None, batch_size=int(hg["batch_size"]), epochs=int(hg["epochs"]),
                 num_samples=count, learning_rate=hg["learning_rate"], schedule=hg["schedule"],
                 steps_per_epoch=steps)


# ----------------------------------------------------------------------------- fusion
def build_fusion_from_config(cfg, strategy_name=None):
    """The fusion network of ``cfg`` (``fusion.init_from``: weights of matching layers loaded)."""
    from kfusion.models.fusion import build_fusion_network

    f = cfg["fusion"]
    model = build_fusion_network(
        f["preset"], strategy_name or f["strategy"], fusion_layer=f["fusion_layer"],
        alpha_init=f["alpha_init"], beta_init=f["beta_init"], penalty=f["penalty"],
        alpha_squared=f["alpha_squared"], input_size=f["input_size"],
        num_joints=skeletons.get(cfg["data"]["skeleton"]).num_joints,
        num_heatmaps=skeletons.get(cfg["data"]["heatmap_skeleton"]).num_joints, seed=cfg["seed"])
    if f["init_from"]:
        path = Path(f["init_from"])
        if not path.is_file():
            raise KfusionError(f"fusion.init_from: {path} not found (expected a trained fusion .keras)")
        # e.g. a Human3.6M model fine-tuned on HumanEva: the output layer (other J) starts anew
        model.load_weights(str(path), skip_mismatch=True)
    return model


def fusion_optimizer_settings(cfg):
    """alpha's own Adam (``fusion.alpha_optimizer``), or None for the paper's one optimizer."""
    f = cfg["fusion"]
    if f["alpha_optimizer"] == "shared":
        return None
    return {"learning_rate": f["alpha_learning_rate"], "beta_2": f["alpha_beta_2"]}


def fusion_stage(cfg, train_cache, val_cache, strategy_name=None, photos=None):
    """One fusion network (``fusion.strategy`` or ``strategy_name``) on heatmap caches; ``photos``: a
    cache of 2D-only photographs (``fusion.extra_records``) mixed into the training batches, which
    teach through the projection term of ``pose_loss`` (validation stays on ``val_cache``, in 3D)."""
    from kfusion.models.losses import mpjpe_per_pose, pose_loss

    f = cfg["fusion"]
    batch = int(f["batch_size"])
    steps = cfg["train"]["steps_per_epoch"]
    loss = pose_loss
    if photos is not None:  # an epoch: the renders' pass, the photographs' share on top (a repeated stream)
        steps = steps or max(1, int(len(train_cache) / (1.0 - float(f["extra_weight"]))) // batch)
        bones = skeletons.get(cfg["data"]["skeleton"]).mirrored_bones

        def loss(y_true, y_pred):  # photos: projection and symmetry terms (models/losses.py)
            return pose_loss(y_true, y_pred, mirrored_bones=bones)

    def train_data(network, batch_size, num_shards, shard_index, repeat):
        return cache_lib.fusion_dataset(train_cache, cfg, training=True, batch_size=batch_size, repeat=repeat,
                                        num_shards=num_shards, shard_index=shard_index, photos=photos)

    def val_data(network, batch_size, num_shards, shard_index):
        part = val_cache.subset(slice(shard_index, None, num_shards))
        return cache_lib.fusion_dataset(part, cfg, training=False, batch_size=batch_size) if len(part) else None

    return Stage("fusion", lambda: build_fusion_from_config(cfg, strategy_name), train_data,
                 val_data if val_cache is not None and cfg["train"]["validate"] else None,
                 loss=loss, metric=mpjpe_per_pose, batch_size=batch, epochs=int(f["epochs"]),
                 num_samples=len(train_cache), learning_rate=f["learning_rate"],
                 steps_per_epoch=steps, fusion_optimizer=fusion_optimizer_settings(cfg),
                 fusion_trace=True, settle_epoch=settle_epoch(cfg))


def settle_epoch(cfg):
    """The epoch (0-based) from which the fusion point is settled (``fusion.settle_at``, a fraction of
    the run), or None."""
    f = cfg["fusion"]
    return None if f["settle_at"] is None else int(round(f["settle_at"] * int(f["epochs"])))


# ----------------------------------------------------------------------------- lifting baseline
def lifting_stage(cfg, train_cache, val_cache, ground_truth=False):
    """The lifting baseline on the same predicted maps, decoded to 2D (``ground_truth``: on the true
    2D joints of the same crops instead)."""
    from kfusion.models.lifting import build_lifting_baseline
    from kfusion.models.losses import mpjpe_per_pose, pose_loss

    lf = cfg["lifting"]

    def build():
        return build_lifting_baseline(
            num_joints_2d=train_cache.joints_2d.shape[1], num_joints_3d=train_cache.pose_3d.shape[1],
            units=lf["units"], blocks=lf["blocks"], dropout=lf["dropout"], seed=cfg["seed"])

    def train_data(network, batch_size, num_shards, shard_index, repeat):
        return cache_lib.lifting_dataset(train_cache, cfg, training=True, ground_truth=ground_truth,
                                         batch_size=batch_size, repeat=repeat, num_shards=num_shards,
                                         shard_index=shard_index)

    def val_data(network, batch_size, num_shards, shard_index):
        part = val_cache.subset(slice(shard_index, None, num_shards))
        return cache_lib.lifting_dataset(part, cfg, training=False, ground_truth=ground_truth,
                                         batch_size=batch_size) if len(part) else None

    return Stage("lifting", build, train_data, val_data if val_cache is not None and cfg["train"]["validate"] else None,
                 loss=pose_loss, metric=mpjpe_per_pose, batch_size=int(lf["batch_size"]), epochs=int(lf["epochs"]),
                 num_samples=len(train_cache), learning_rate=lf["learning_rate"], schedule=lf["schedule"],
                 steps_per_epoch=cfg["train"]["steps_per_epoch"])


def lifting_pairs_stage(cfg, data_dir):
    """The lifting baseline on ground-truth 2D/3D pose pairs (Martinez et al.'s setting).

    The inputs are full-image pixels, standardised per coordinate with the training set's mean and
    std inside the model, and the outputs are standardised root-relative mm (both as in
    Martinez et al.); the saved model maps pixels to mm on its own.
    """
    import tensorflow as tf

    from kfusion.data.posepairs import training_arrays
    from kfusion.models.lifting import build_lifting_baseline
    from kfusion.models.losses import mpjpe_per_pose, pose_loss

    lf = cfg["lifting"]
    x, y, _ = training_arrays(data_dir, cfg["data"]["train_split"])

    def build():
        model = build_lifting_baseline(
            num_joints_2d=x.shape[1], num_joints_3d=y.shape[1], units=lf["units"], blocks=lf["blocks"],
            dropout=lf["dropout"], seed=cfg["seed"], input_stats=(x.mean(0), x.std(0)),
            output_stats=(y.mean(0), y.std(0)))
        if lf["init_from"]:  # a longer run: continue from a trained model (its statistics come along)
            path = Path(lf["init_from"])
            if not path.is_file():
                raise KfusionError(f"lifting.init_from: {path} not found (expected a trained lifting .keras)")
            model.load_weights(str(path))
        return model

    def train_data(network, batch_size, num_shards, shard_index, repeat):
        ds = tf.data.Dataset.from_tensor_slices((x, y)) \
            .shuffle(len(x), seed=cfg["seed"], reshuffle_each_iteration=True)
        ds = ds.repeat() if repeat else ds
        ds = ds.shard(num_shards, shard_index) if num_shards > 1 else ds
        return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    val_data = None
    if cfg["train"]["validate"]:
        vx, vy, _ = training_arrays(data_dir, cfg["data"]["val_split"])
        step = max(1, len(vx) // 20000)  # a fixed subset keeps validation cheap
        vx, vy = vx[::step], vy[::step]

        def val_data(network, batch_size, num_shards, shard_index):
            part = slice(shard_index, None, num_shards)
            return tf.data.Dataset.from_tensor_slices((vx[part], vy[part])).batch(1024).prefetch(tf.data.AUTOTUNE)

    return Stage("lifting", build, train_data, val_data, loss=pose_loss, metric=mpjpe_per_pose,
                 batch_size=int(lf["batch_size"]), epochs=int(lf["epochs"]), num_samples=len(x),
                 learning_rate=lf["learning_rate"], schedule=lf["schedule"],
                 steps_per_epoch=cfg["train"]["steps_per_epoch"])
