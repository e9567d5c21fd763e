"""Where training runs: ``tf.distribute`` strategies, and the multi-worker loop.

``get_strategy`` names the strategies of ``train.distribute``: ``default`` (one device),
``mirrored`` (``MirroredStrategy`` over the GPUs, or the logical CPUs of ``configure_logical_cpus``)
and ``multiworker``. The first two train with ``model.fit`` (:func:`kfusion.train.stages.fit`).

Keras 3 ``model.fit`` fails under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585), so
``multiworker`` runs ``fit_distributed``, a loop that calls the same training step as ``fit``
(``TrainingModel.update`` of :mod:`kfusion.train.step`) inside ``strategy.run``. Every worker
runs the same program with its own ``TF_CONFIG``; per step each replica takes its per-replica batch
(global batch / replicas) of its input shard; the step's loss is the replica's mean loss plus the
added losses (the fusion layer's ``lambda / alpha^2``), divided by the replicas in sync, so the
gradients summed over replicas equal the single-process gradients of the global batch; the logged
loss and MPJPE are ``strategy.reduce(SUM)`` of the per-replica terms.

Checkpoints (``tf.train.Checkpoint`` of the model, both optimizers and the epoch counter) are
written by every worker: the chief into ``<run>/checkpoints/``, the others into
``<run>/workers/<type>-<id>/`` (the multi-worker pattern of the TF docs; a worker's own copy lets it
restart without a shared file system). A restarted cluster resumes from each worker's latest
checkpoint and checks that all workers resumed at the same epoch. Only the chief writes ``log.csv``
(Keras ``CSVLogger`` format), ``fusion_trace.json`` (``FusionTrace`` format), ``tensorboard/`` and
``model.keras``.

Input sharding: the stage's ``data(network, batch, num_shards, shard_index, repeat)`` gives worker
``i`` of ``n`` its share: elements ``i::n`` of the identically seeded, shuffled stream of a heatmap
cache (so one step's per-worker batches make up the batch of a single-process run), or the TFRecord
shard files ``i::n`` for the hourglass.
"""
import math
import sys
import time
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError
from kfusion.io import write_json


# ----------------------------------------------------------------------------- strategies
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
    """A ``tf.distribute`` strategy by ``train.distribute`` name: default | mirrored | multiworker.

    ``multiworker`` must be created before TensorFlow runs any op in this process (TF's rule for
    collectives); its ``TF_CONFIG`` names the cluster (one local worker when it is unset).
    """
    import tensorflow as tf

    if name in (None, "default"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise KfusionError(f"train.distribute is {name!r}; expected default, mirrored or multiworker")


# ----------------------------------------------------------------------------- cluster
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
def fit_distributed(strategy, stage, run_dir, *, checkpoint_every=1, jit_compile=False, profile=False, verbose=1):
    """Train ``stage`` (:class:`kfusion.train.stages.Stage`) with a ``strategy.run`` loop over the
    one training step; returns ``(network, history)``.

    Any strategy works (the default one runs the loop on one device). ``checkpoint_every``: epochs
    between checkpoints (the last epoch is always saved). ``jit_compile``: XLA-compile the step.
    ``profile``: the chief writes a profiler trace of global steps 2-4 under ``tensorboard/``.
    ``verbose``: 0 silent, else one line per epoch on the chief (stderr). The chief saves the
    network as ``model.keras`` (a plain file, no strategy inside) and ``train_summary.json``.

    Returns the trained network (variables mirrored under ``strategy``) and the history dict
    ``{"loss": [...], "mpjpe": [...], "val_loss": [...], ...}`` of the epochs run here.
    """
    import tensorflow as tf

    run_dir = Path(run_dir)
    task_type, task_id, is_chief, num_workers = worker_info(strategy)
    replicas = strategy.num_replicas_in_sync
    global_batch_size, epochs, steps_per_epoch = stage.batch_size, stage.epochs, stage.steps()
    if global_batch_size % replicas:
        raise KfusionError(f"batch size {global_batch_size} is not a multiple of the {replicas} replicas "
                           f"in sync; set a batch_size divisible by {replicas}")
    per_replica = global_batch_size // replicas

    with strategy.scope():
        network = stage.build()
        model = stage.compile(network)
        model.build_optimizers()
    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    ckpt = tf.train.Checkpoint(model=network, optimizer=model.optimizer, epoch=epoch_var,
                               **({"fusion_optimizer": model.fusion_optimizer} if model.fusion_optimizer else {}))
    manager = tf.train.CheckpointManager(ckpt, str(_worker_dir(run_dir, task_type, task_id, is_chief)),
                                         max_to_keep=3 if is_chief else 1)
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    start = _agreed_epoch(strategy, int(epoch_var.numpy()))

    # a resumed run skips the batches it has trained on, so it sees what an uninterrupted run would
    skip = start * steps_per_epoch
    dist_ds = strategy.distribute_datasets_from_function(
        lambda ctx: stage.data(network, per_replica, ctx.num_input_pipelines, ctx.input_pipeline_id, True).skip(skip))
    iterator = iter(dist_ds)
    metric_fn = stage.metric

    @tf.function(jit_compile=bool(jit_compile))
    def replica_step(x, y):
        loss, y_pred = model.update(x, y)
        metric = tf.zeros((), tf.float32)
        if metric_fn is not None:
            metric = tf.reduce_mean(tf.cast(metric_fn(y, y_pred), tf.float32)) / replicas
        return tf.cast(loss, tf.float32), metric

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
        import keras

        from kfusion.train.callbacks import FusionTrace

        run_dir.mkdir(parents=True, exist_ok=True)
        csv = keras.callbacks.CSVLogger(str(run_dir / "log.csv"), append=True)
        csv.set_model(model)
        csv.on_train_begin()
        if stage.fusion_trace:
            trace = FusionTrace(run_dir / "fusion_trace.json")
            trace.set_model(model)
            trace.on_train_begin()
        writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))

    history = {}
    global_step = start * steps_per_epoch
    t_start = time.perf_counter()
    try:
        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            if stage.settle_epoch is not None and epoch >= stage.settle_epoch:
                model.settle_fusion_point()
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
                logs["mpjpe"] = total_metric / steps_per_epoch
            if stage.val_data is not None:
                local = np.asarray(_evaluate_local(stage, network, _worker_index(strategy), num_workers), np.float64)
                s_loss, s_metric, count = all_sum(tf.constant(local, tf.float64)).numpy()
                logs["val_loss"] = s_loss / max(count, 1.0)
                if metric_fn is not None:
                    logs["val_mpjpe"] = s_metric / max(count, 1.0)
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
    if is_chief:
        _write_outputs(network, stage, run_dir, strategy, history, seconds=time.perf_counter() - t_start,
                       workers=num_workers)
    return network, history


def per_example_loss(stage, network, y, y_pred):
    """The stage's data loss of each example (B,): its loss, summed over the outputs it names."""
    import tensorflow as tf

    losses = stage.output_losses(network)
    if not isinstance(losses, dict):
        return tf.cast(losses(y, y_pred), tf.float32)
    outputs = y_pred if isinstance(y_pred, (list, tuple)) else [y_pred]
    return tf.add_n([tf.cast(losses[n](y[n], o), tf.float32) for n, o in zip(network.output_names, outputs)])


def _evaluate_local(stage, network, index, count, batch_size=256):
    """``(sum of data loss + added losses, sum of metric, count)`` over this worker's share of the
    validation data, without collectives (Keras' ``val_loss`` counts the added losses per sample)."""
    import tensorflow as tf

    ds = stage.val_data(network, batch_size, count, index)
    if ds is None:
        return 0.0, 0.0, 0.0

    @tf.function
    def step(x, y):
        out = network(x, training=False)
        loss = per_example_loss(stage, network, y, out)
        if network.losses:
            loss += tf.add_n([tf.cast(v, tf.float32) for v in network.losses])
        metric = stage.metric(y, out) if stage.metric is not None else tf.zeros_like(loss)
        return tf.reduce_sum(loss), tf.reduce_sum(tf.cast(metric, tf.float32)), tf.cast(tf.shape(loss)[0], tf.float32)

    totals = np.zeros(3)
    for x, y in ds:
        totals += [float(v) for v in step(x, y)]
    return tuple(totals)


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


def _write_outputs(network, stage, run_dir, strategy, history, *, seconds, workers):
    """The chief's outputs, as the fit path writes them: ``model.keras`` and ``train_summary.json``.

    The network is saved through a fresh copy built outside any strategy (a plain .keras).
    """
    from kfusion.models import save_model
    from kfusion.train.callbacks import history_from_log

    plain = stage.build()
    plain.set_weights([np.asarray(w) for w in network.get_weights()])
    save_model(plain, run_dir / "model.keras")
    write_json(run_dir / "train_summary.json", {  # a resumed run's log.csv holds every epoch
        "seconds": seconds, "epochs": stage.epochs, "workers": workers,
        "replicas": strategy.num_replicas_in_sync, "history": history_from_log(run_dir / "log.csv") or history})
