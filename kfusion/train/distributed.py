"""Multi-worker training on ``tf.distribute.MultiWorkerMirroredStrategy`` with a custom loop.

Keras 3 ``model.fit`` fails under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585), so
``kfusion train ... --distribute multiworker`` runs this loop instead. Every worker runs the same
program with its own ``TF_CONFIG``; per step:

- each replica takes its per-replica batch (global batch / replicas) of its input shard;
- loss = ``compute_average_loss(per-example loss, global_batch_size)`` +
  ``scale_regularization_loss(sum(model.losses))`` (the fusion layer's ``lambda / alpha^2``), so
  the gradients summed over replicas by the Keras optimizer equal the single-process gradients of
  the global batch;
- the logged loss and MPJPE are ``strategy.reduce(SUM)`` of the per-replica terms.

Checkpoints (``tf.train.Checkpoint`` of the model, optimizer and epoch counter) are written by
every worker: the chief into ``<run>/checkpoints/``, the others into ``<run>/workers/<type>-<id>/``
(the multi-worker pattern of the TF docs; a worker's own copy lets it restart without a shared
file system). A restarted cluster resumes from each worker's latest checkpoint and checks that all
workers resumed at the same epoch. Only the chief writes ``log.csv`` (Keras ``CSVLogger`` format),
``fusion_trace.json`` (``FusionTrace`` format), ``tensorboard/`` and ``model.keras``.

Input sharding: the fusion stage keeps elements ``i::n`` of the identically seeded, shuffled
stream of the heatmap cache (``trainer.fusion_dataset(num_shards=, shard_index=)``), so one step's
per-worker batches make up the batch of a single-process run; the hourglass stage reads the
TFRecord shard files ``i::n`` (``make_dataset(num_shards=, shard_index=)``).
"""
import math
import sys
import time
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError
from kfusion.io import write_json
from kfusion.train import trainer


# ----------------------------------------------------------------------------- cluster
def make_strategy():
    """A ``MultiWorkerMirroredStrategy`` from ``TF_CONFIG`` (one local worker when it is unset).

    Must be called before TensorFlow runs any op in this process (TF's rule for collectives).
    """
    import tensorflow as tf

    return tf.distribute.MultiWorkerMirroredStrategy()


def worker_info(strategy):
    """``(task_type, task_id, is_chief, num_workers)`` of this process in the strategy's cluster.

    The chief is task ``chief`` 0 or, with no ``chief`` task in the cluster, ``worker`` 0 (the TF
    convention); a single process without ``TF_CONFIG`` is its own chief.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    task_id = int(getattr(resolver, "task_id", None) or 0)
    spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
    num_workers = sum(len(spec.get(k, [])) for k in ("chief", "worker")) or 1
    is_chief = (task_type in (None, "chief")
                or (task_type == "worker" and task_id == 0 and "chief" not in spec))
    return task_type, task_id, is_chief, num_workers


def _worker_dir(run_dir, task_type, task_id, is_chief):
    if is_chief:
        return Path(run_dir) / "checkpoints"
    return Path(run_dir) / "workers" / f"{task_type}-{task_id}"


# ----------------------------------------------------------------------------- the loop
def fit_distributed(strategy, build_model, loss_fn, dataset_fn, run_dir, *, global_batch_size, epochs,
                    steps_per_epoch, learning_rate, metric_fn=None, metric_name="mpjpe", evaluate_fn=None,
                    fusion_trace=False, checkpoint_every=1, jit_compile=False, profile=False, verbose=1):
    """Train ``build_model()`` with a ``strategy.run`` loop; returns ``(model, history)``.

    Args:
        strategy: a ``tf.distribute`` strategy (``make_strategy()``; any strategy works).
        build_model: ``() -> keras.Model``, called in ``strategy.scope()``.
        loss_fn: ``(targets, outputs) -> (B,)`` float32 per-example loss (``model.losses`` are added
            to its batch average).
        dataset_fn: ``(tf.distribute.InputContext, per_replica_batch) -> tf.data.Dataset`` of
            ``(features, targets)`` per-replica batches that repeats forever; it must shard by
            ``input_context.input_pipeline_id`` / ``num_input_pipelines``.
        run_dir: output folder (see the module docstring).
        global_batch_size: samples per step over all replicas (a multiple of the replica count).
        epochs, steps_per_epoch: training length (steps are global, per epoch).
        learning_rate: Adam's learning rate.
        metric_fn: ``(targets, outputs) -> (B,)`` per-example metric (e.g. MPJPE, mm) or None.
        evaluate_fn: ``(model, shard_index, num_shards) -> (sum_loss, sum_metric, count)`` over this
            worker's shard of the validation data (local, no collectives; ``sum_loss`` includes the
            added losses per sample, as Keras' ``val_loss`` does), or None.
        fusion_trace: write ``fusion_trace.json`` (models with a ``FusionWeights`` layer).
        checkpoint_every: epochs between checkpoints (the last epoch is always saved).
        jit_compile: XLA-compile the per-replica forward and backward pass.
        profile: the chief writes a profiler trace of global steps 2-4 under ``tensorboard/``.
        verbose: 0 silent, else one line per epoch on the chief (stderr).

    Returns:
        the trained model (variables mirrored under ``strategy``) and the history dict
        ``{"loss": [...], metric_name: [...], "val_loss": [...], ...}`` of the epochs run here.
    """
    import keras
    import tensorflow as tf

    from kfusion.train.callbacks import FusionTrace

    run_dir = Path(run_dir)
    task_type, task_id, is_chief, num_workers = worker_info(strategy)
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise KfusionError(f"batch size {global_batch_size} is not a multiple of the {replicas} replicas "
                           f"in sync; set a batch_size divisible by {replicas}")
    per_replica = global_batch_size // replicas

    with strategy.scope():
        model = build_model()
        optimizer = keras.optimizers.Adam(learning_rate)
        if keras.mixed_precision.global_policy().name == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_var)
    manager = tf.train.CheckpointManager(ckpt, str(_worker_dir(run_dir, task_type, task_id, is_chief)),
                                         max_to_keep=3 if is_chief else 1)
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    start = _agreed_epoch(strategy, int(epoch_var.numpy()))

    # a resumed run skips the batches it has trained on, so it sees what an uninterrupted run would
    skip = start * steps_per_epoch
    dist_ds = strategy.distribute_datasets_from_function(lambda ctx: dataset_fn(ctx, per_replica).skip(skip))
    iterator = iter(dist_ds)

    @tf.function(jit_compile=bool(jit_compile))
    def forward_backward(features, targets):
        with tf.GradientTape() as tape:
            outputs = model(features, training=True)
            per_example = tf.cast(loss_fn(targets, outputs), tf.float32)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
            if model.losses:
                added = tf.add_n([tf.cast(x, tf.float32) for x in model.losses])
                loss += tf.nn.scale_regularization_loss(added)
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_variables)
        metric = tf.zeros((), tf.float32)
        if metric_fn is not None:
            metric = tf.nn.compute_average_loss(tf.cast(metric_fn(targets, outputs), tf.float32),
                                                global_batch_size=global_batch_size)
        return loss, metric, grads

    def replica_step(features, targets):
        loss, metric, grads = forward_backward(features, targets)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, metric

    @tf.function
    def train_step(it):
        loss, metric = strategy.run(replica_step, args=next(it))
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, metric, axis=None))

    @tf.function
    def all_sum(values):
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.identity(values)), axis=None)

    csv = trace = writer = None
    if is_chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        csv = keras.callbacks.CSVLogger(str(run_dir / "log.csv"), append=True)
        csv.set_model(model)
        csv.on_train_begin()
        if fusion_trace:
            from kfusion.models.fusion import find_fusion_weights_layer

            if find_fusion_weights_layer(model) is not None:
                trace = FusionTrace(run_dir / "fusion_trace.json")
                trace.set_model(model)
                trace.on_train_begin()
        writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))

    history = {}
    global_step = start * steps_per_epoch
    try:
        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            total_loss = total_metric = 0.0
            for _ in range(steps_per_epoch):
                if profile and is_chief and global_step == 2:
                    tf.profiler.experimental.start(str(run_dir / "tensorboard"))
                loss, metric = train_step(iterator)
                if profile and is_chief and global_step == 4:
                    tf.profiler.experimental.stop()
                global_step += 1
                total_loss += float(loss)
                total_metric += float(metric)
            if not math.isfinite(total_loss):
                raise KfusionError(f"{run_dir}: the training loss became {total_loss} in epoch {epoch}; "
                                   "lower the learning rate or use float32")
            logs = {"loss": total_loss / steps_per_epoch}
            if metric_fn is not None:
                logs[metric_name] = total_metric / steps_per_epoch
            if evaluate_fn is not None:
                local = np.asarray(evaluate_fn(model, _worker_index(strategy),
                                               num_workers), np.float64)
                s_loss, s_metric, count = all_sum(tf.constant(local, tf.float64)).numpy()
                logs["val_loss"] = s_loss / max(count, 1.0)
                if metric_fn is not None:
                    logs[f"val_{metric_name}"] = s_metric / max(count, 1.0)
            epoch_var.assign(epoch + 1)
            if (checkpoint_every > 0 and (epoch + 1) % checkpoint_every == 0) or epoch + 1 == epochs:
                manager.save(checkpoint_number=epoch + 1)  # every worker saves (collectives may run)
            for k, v in logs.items():
                history.setdefault(k, []).append(float(v))
            if is_chief:
                csv.on_epoch_end(epoch, logs)
                if trace is not None:
                    trace.on_epoch_end(epoch, logs)
                with writer.as_default(step=epoch + 1):
                    for k, v in logs.items():
                        tf.summary.scalar(k, v)
                if verbose:
                    text = " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())
                    print(f"kfusion: epoch {epoch + 1}/{epochs} - {time.perf_counter() - t0:.1f}s - {text}",
                          file=sys.stderr, flush=True)
    finally:
        if csv is not None:
            csv.on_train_end()
    return model, history


def _worker_index(strategy):
    """This worker's index among all workers (chief first), for sharding evaluation data."""
    task_type, task_id, _, _ = worker_info(strategy)
    resolver = getattr(strategy, "cluster_resolver", None)
    spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if task_type == "chief" or task_type is None:
        return 0
    return len(spec.get("chief", [])) + int(task_id)


def _agreed_epoch(strategy, epoch):
    """The epoch every worker resumes at; raises when their checkpoints disagree."""
    import tensorflow as tf

    @tf.function
    def all_sum(x):
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.identity(x)), axis=None)

    n, s1, s2 = all_sum(tf.constant([1.0, epoch, epoch * epoch], tf.float64)).numpy()
    if s2 / n - (s1 / n) ** 2 > 1e-6:  # the epochs differ between workers
        raise KfusionError(f"the workers resumed from checkpoints of different epochs (mean {s1 / n:g}, "
                           f"this one {epoch}); remove the newer checkpoints or give every worker the same ones")
    return int(epoch)


def _save_plain_copy(model, build_model, path):
    """Save ``model``'s weights through a fresh model built outside any strategy (a plain .keras)."""
    plain = build_model()
    plain.set_weights([np.asarray(w) for w in model.get_weights()])
    trainer.save_model(plain, path)
    return plain


# ----------------------------------------------------------------------------- stages
def fusion_loss(targets, outputs):
    """Per-example pose loss (B,), mm^2: ``kfusion.train.losses.pose_loss``."""
    from kfusion.train.losses import pose_loss

    return pose_loss(_pose(targets), outputs)


def fusion_mpjpe(targets, outputs):
    """Per-example MPJPE (B,), mm."""
    import tensorflow as tf

    d = tf.cast(outputs, tf.float32) - tf.cast(_pose(targets), tf.float32)
    return tf.reduce_mean(tf.norm(d, axis=-1), axis=-1)


def _pose(targets):
    return targets["pose_3d"] if isinstance(targets, dict) else targets


def train_fusion(cfg, train_cache, val_cache, run_dir, *, strategy, strategy_name=None, epochs=None,
                 profile=False, verbose=1):
    """Multi-worker training of one fusion network on heatmap caches; returns the chief's model.

    Same outputs as ``trainer.train_fusion`` (chief only): ``model.keras``, ``log.csv``,
    ``fusion_trace.json``, ``train_summary.json``; checkpoints as in the module docstring.
    """
    run_dir = Path(run_dir)
    _, _, is_chief, num_workers = worker_info(strategy)
    trainer._set_seed(cfg["seed"])
    f = cfg["fusion"]
    global_batch = int(f["batch_size"])
    steps = cfg["train"]["steps_per_epoch"] or max(1, len(train_cache) // global_batch)
    epochs = int(epochs if epochs is not None else f["epochs"])

    def dataset_fn(ctx, per_replica):
        return trainer.fusion_dataset(train_cache, cfg, training=True, batch_size=per_replica, repeat=True,
                                      num_shards=ctx.num_input_pipelines, shard_index=ctx.input_pipeline_id)

    evaluate_fn = None
    if val_cache is not None and cfg["train"]["validate"]:
        def evaluate_fn(model, index, count):
            return _evaluate_fusion(model, _slice_cache(val_cache, index, count), cfg)

    def build():
        return trainer.build_fusion_from_config(cfg, strategy_name)

    t0 = time.perf_counter()
    model, history = fit_distributed(
        strategy, build, fusion_loss, dataset_fn, run_dir, global_batch_size=global_batch, epochs=epochs,
        steps_per_epoch=steps, learning_rate=f["learning_rate"], metric_fn=fusion_mpjpe,
        evaluate_fn=evaluate_fn, fusion_trace=True, checkpoint_every=cfg["train"]["checkpoint_every"],
        jit_compile=cfg["train"]["jit_compile"], profile=profile, verbose=verbose)
    if is_chief:
        _write_outputs(model, build, run_dir, strategy, history, seconds=time.perf_counter() - t0,
                       epochs=epochs, workers=num_workers)
    return model


def _write_outputs(model, build, run_dir, strategy, history, *, seconds, epochs, workers):
    """The chief's outputs, as the fit path writes them: ``model.keras`` and ``train_summary.json``."""
    from kfusion.train.callbacks import history_from_log

    _save_plain_copy(model, build, run_dir / "model.keras")
    write_json(run_dir / "train_summary.json", {  # a resumed run's log.csv holds every epoch
        "seconds": seconds, "epochs": epochs, "workers": workers,
        "replicas": strategy.num_replicas_in_sync, "history": history_from_log(run_dir / "log.csv") or history})


def _slice_cache(cache, index, count):
    """Samples ``index::count`` of a HeatmapCache (this worker's share of the validation set)."""
    fields = {k: (v[index::count] if isinstance(v, np.ndarray) and v.ndim and len(v) == len(cache) else v)
              for k, v in cache.__dict__.items()}
    return type(cache)(**fields)


def _evaluate_fusion(model, cache, cfg, batch_size=256):
    """``(sum of pose loss + added losses, sum of MPJPE, count)`` over a cache, locally."""
    import tensorflow as tf

    if len(cache) == 0:
        return 0.0, 0.0, 0.0

    @tf.function
    def step(features, pose):
        out = model(features, training=False)
        loss = fusion_loss(pose, out)
        if model.losses:
            loss += tf.add_n([tf.cast(x, tf.float32) for x in model.losses])
        return tf.reduce_sum(loss), tf.reduce_sum(fusion_mpjpe(pose, out)), tf.cast(tf.shape(loss)[0], tf.float32)

    totals = np.zeros(3)
    for features, pose in trainer.fusion_dataset(cache, cfg, training=False, batch_size=batch_size):
        totals += [float(v) for v in step(features, pose)]
    return tuple(totals)


def train_hourglass(cfg, run_dir, *, strategy, epochs=None, profile=False, verbose=1):
    """Multi-worker training of the stacked hourglass on the TFRecords; returns the chief's model.

    Worker ``i`` of ``n`` reads the shard files ``i::n`` of the training split (so the split needs at
    least ``n`` shard files); the loss is the heatmap MSE summed over the stacks (intermediate
    supervision), as in ``trainer.train_hourglass``.
    """
    import tensorflow as tf

    from kfusion import skeletons
    from kfusion.data.pipeline import make_dataset
    from kfusion.train.losses import heatmap_loss

    run_dir = Path(run_dir)
    _, _, is_chief, num_workers = worker_info(strategy)
    trainer._set_seed(cfg["seed"])
    hg = cfg["hourglass"]
    size, hm = trainer.hourglass_sizes(cfg)
    global_batch = int(hg["batch_size"])
    epochs = int(epochs if epochs is not None else hg["epochs"])
    steps = cfg["train"]["steps_per_epoch"]
    if not steps:
        from kfusion.data.records import read_manifest

        count = read_manifest(cfg["data"]["records"])["splits"][cfg["data"]["train_split"]]["count"]
        steps = max(1, int(count) // global_batch)

    def build():
        from kfusion.models import load_model

        if hg["checkpoint"]:
            return load_model(hg["checkpoint"])
        from kfusion.models.hourglass import build_hourglass

        num_joints = skeletons.get(cfg["data"]["heatmap_skeleton"]).num_joints
        return build_hourglass(hg["preset"], input_size=size, num_joints=num_joints)

    def records(split, *, training, batch_size, num_shards, shard_index, repeat):
        return make_dataset(cfg["data"]["records"], split, batch_size=batch_size, training=training,
                            input_size=size, heatmap_size=hm, heatmap_skeleton=cfg["data"]["heatmap_skeleton"],
                            sigma=hg["sigma"], augment=cfg["augment"] if training else None, seed=cfg["seed"],
                            num_shards=num_shards, shard_index=shard_index, repeat=repeat)

    def dataset_fn(ctx, per_replica):
        ds = records(cfg["data"]["train_split"], training=True, batch_size=per_replica,
                     num_shards=ctx.num_input_pipelines, shard_index=ctx.input_pipeline_id, repeat=True)
        return ds.map(lambda f, t: (f["image"], t["heatmaps"]))

    def loss_fn(target, outputs):
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return tf.add_n([heatmap_loss(target, o) for o in outputs])

    evaluate_fn = None
    if cfg["train"]["validate"]:
        def evaluate_fn(model, index, count):
            from kfusion.data.records import record_files

            files = len(record_files(cfg["data"]["records"], cfg["data"]["val_split"]))
            if index >= files:  # fewer shard files than workers: this worker has no share
                return 0.0, 0.0, 0.0
            ds = records(cfg["data"]["val_split"], training=False, batch_size=global_batch,
                         num_shards=min(count, files), shard_index=index, repeat=False)
            totals = np.zeros(3)
            for f, t in ds:
                loss = loss_fn(t["heatmaps"], model(f["image"], training=False))
                totals += [float(tf.reduce_sum(loss)), 0.0, float(tf.shape(loss)[0])]
            return tuple(totals)

    t0 = time.perf_counter()
    model, history = fit_distributed(
        strategy, build, loss_fn, dataset_fn, run_dir, global_batch_size=global_batch, epochs=epochs,
        steps_per_epoch=steps, learning_rate=hg["learning_rate"], evaluate_fn=evaluate_fn,
        checkpoint_every=cfg["train"]["checkpoint_every"], jit_compile=cfg["train"]["jit_compile"],
        profile=profile, verbose=verbose)
    if is_chief:
        _write_outputs(model, build, run_dir, strategy, history, seconds=time.perf_counter() - t0,
                       epochs=epochs, workers=num_workers)
    return model


def train_stage(cfg, stage, run_dir, *, hourglass=None, epochs=None, profile=False, verbose=1):
    """``kfusion train STAGE --distribute multiworker``: one worker's part; returns the stage folder.

    Every worker runs this with its own ``TF_CONFIG``. For the fusion stage each worker loads (or,
    if missing, computes) the heatmap caches of ``run_dir/cache`` (``driver.caches``); compute them
    once beforehand on a shared file system so the workers do not all predict them.
    """
    from kfusion.train import driver

    strategy = make_strategy()  # before any other TF op in this process
    run_dir = Path(run_dir)
    if stage == "hourglass":
        out = run_dir / "hourglass"
        train_hourglass(cfg, out, strategy=strategy, epochs=epochs, profile=profile, verbose=verbose)
        return out
    if stage != "fusion":
        raise KfusionError(f"--distribute multiworker trains the stages hourglass and fusion; got {stage!r}")
    hourglass = Path(hourglass or run_dir / "hourglass" / "model.keras")
    splits = [cfg["data"]["train_split"]]
    if cfg["train"]["validate"]:
        splits.append(cfg["data"]["val_split"])
    c = driver.caches(cfg, run_dir, hourglass, splits)
    out = run_dir / f"fusion-{cfg['fusion']['strategy']}"
    train_fusion(cfg, c[splits[0]], c.get(cfg["data"]["val_split"]) if len(splits) > 1 else None, out,
                 strategy=strategy, epochs=epochs, profile=profile, verbose=verbose)
    return out
