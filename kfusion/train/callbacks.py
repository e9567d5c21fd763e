"""Training callbacks: the standard set, the fusion trace of the paper's Fig. 4, and measurements at
chosen epochs (learning curves)."""
import os
import time
from pathlib import Path

import keras

from kfusion.errors import KfusionError, one_line
from kfusion.io import write_json


class FusionTrace(keras.callbacks.Callback):
    """Record alpha, beta and every fusion weight w_l before training and after each epoch.

    Writes ``path`` (JSON: ``{"epochs": [{"epoch", "alpha", "beta", "weights", "loss", ...}]}``)
    atomically after every epoch, so a killed run leaves a valid trace. Models without a fusion
    layer (single-stream baselines) record nothing.
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self.records = []

    def _snapshot(self, epoch, logs=None):
        from kfusion.models.fusion import fusion_weights

        try:
            state = fusion_weights(_network(self.model))
        except ValueError:  # single-stream baselines have no fusion weights
            return
        entry = {"epoch": int(epoch)}
        entry.update({k: _plain(v) for k, v in state.items()})
        entry.update({k: float(v) for k, v in (logs or {}).items() if _is_number(v)})
        self.records = [r for r in self.records if r["epoch"] != entry["epoch"]] + [entry]
        write_json(self.path, {"epochs": self.records})

    def on_train_begin(self, logs=None):
        if self.path.is_file():  # resumed run: keep what was traced before the interruption
            import json

            self.records = json.loads(self.path.read_text()).get("epochs", [])
        if not self.records:
            self._snapshot(0)

    def on_epoch_end(self, epoch, logs=None):
        self._snapshot(epoch + 1, logs)


def _is_number(v):
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def _plain(v):
    if hasattr(v, "tolist"):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [float(x) for x in v]
    return float(v) if _is_number(v) else v


def standard_callbacks(run_dir, *, monitor="val_loss", checkpoint_every=1, fusion_trace=False,
                       tensorboard=True, profile=False):
    """Checkpoints, BackupAndRestore (resume a killed run), TensorBoard, CSV log, TerminateOnNaN.

    ``profile``: the TensorBoard callback also writes a profiler trace of batches 2-4.

    Everything goes under ``run_dir``: ``checkpoints/epoch-{NNN}.keras``, ``backup/``,
    ``tensorboard/``, ``log.csv`` and, for fusion networks, ``fusion_trace.json``.
    """
    run_dir = Path(run_dir)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    cbs = [
        keras.callbacks.TerminateOnNaN(),
        BackupAndRestore(str(run_dir / "backup"), save_freq="epoch", delete_checkpoint=False),
        keras.callbacks.CSVLogger(str(run_dir / "log.csv"), append=True),
        SaveNetwork(run_dir / "checkpoints" / "epoch-{epoch:03d}.keras", checkpoint_every),
    ]
    if tensorboard:
        cbs.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False,
                                                   profile_batch=(2, 4) if profile else 0))
    if fusion_trace:
        cbs.append(FusionTrace(run_dir / "fusion_trace.json"))
    return cbs


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' resume callback with atomic backups: a kill while saving leaves the previous backup
    (Keras overwrites the file in place). A backup it cannot read is one line naming the folder
    instead of an h5py traceback on every rerun."""

    def _save_model(self):
        weights = Path(self._weights_path)
        weights.parent.mkdir(parents=True, exist_ok=True)
        tmp = weights.with_name(f".{weights.name}.tmp.weights.h5")  # save_weights wants this suffix
        self.model.save_weights(str(tmp), overwrite=True)
        os.replace(tmp, weights)
        write_json(self._training_metadata_path, {"epoch": self._current_epoch, "batch": self._last_batch_seen})

    def on_train_begin(self, logs=None):
        try:
            super().on_train_begin(logs)
        except (OSError, ValueError, KeyError) as e:
            raise KfusionError(f"{self.backup_dir}: unreadable training backup ({one_line(e, 80)}); delete that "
                               "folder to train this stage afresh") from None


def history_from_log(path):
    """Per-epoch history ``{name: [value per epoch]}`` of a ``CSVLogger`` file, every run of it included.

    A resumed run appends to the log, so this covers the epochs before the interruption too; an
    epoch logged twice keeps its last row.
    """
    import csv

    path = Path(path)
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        rows = {int(r["epoch"]): r for r in csv.DictReader(f) if r.get("epoch", "").strip().isdigit()}
    names = [k for k in (next(iter(rows.values())) if rows else {}) if k != "epoch"]
    return {k: [float(rows[e][k]) if _is_number(rows[e].get(k)) else None for e in sorted(rows)] for k in names}


def _network(model):
    """The network a :class:`~kfusion.train.step.TrainingModel` trains (or ``model`` itself)."""
    return getattr(model, "network", model)


class SaveNetwork(keras.callbacks.Callback):
    """Every ``n`` epochs (never with n <= 0), save the trained network (not its training wrapper)
    to ``pattern.format(epoch=epoch + 1)``, atomically."""

    def __init__(self, pattern, n):
        super().__init__()
        self.pattern, self.n = str(pattern), int(n)

    def on_epoch_end(self, epoch, logs=None):
        if self.n > 0 and (epoch + 1) % self.n == 0:
            from kfusion.models import save_model

            save_model(_network(self.model), self.pattern.format(epoch=epoch + 1))


class SettleFusion(keras.callbacks.Callback):
    """At the start of epoch ``epoch`` (0-based) and after, settle the fusion point
    (``TrainingModel.settle_fusion_point``): beta stays put, alpha sharpens the weights."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = int(epoch)

    def on_epoch_begin(self, epoch, logs=None):
        if epoch >= self.epoch and hasattr(self.model, "settle_fusion_point"):
            self.model.settle_fusion_point()


class BudgetEvaluation(keras.callbacks.Callback):
    """At the end of each epoch that completes one of ``budgets`` (epoch counts, 1-based), call
    ``measure(network) -> dict`` (e.g. the test split's MPJPE) and, with ``save_pattern``, save the
    network to ``save_pattern.format(epoch=budget)``; the time spent training is summed over epochs.

    Writes ``path`` atomically after every epoch: ``{"epochs_done": n, "seconds": {"train_wall",
    "train_cpu", "measure_wall", "measure_cpu"}, "budgets": {"12": {"epoch": 12, ...measure...,
    "train_wall_seconds", "train_cpu_seconds"}}}`` (the times at a budget: training up to it, summed
    over every process that trained this run; CPU: ``time.process_time``, all threads). A resumed run
    keeps what was recorded before. Put it *before* ``BackupAndRestore`` in the callback list: a run
    killed between the two then trains that epoch again and measures it again, never skips a budget.
    """

    def __init__(self, path, budgets, measure, save_pattern=None):
        super().__init__()
        self.path, self.measure = Path(path), measure
        self.budgets = sorted({int(b) for b in budgets})
        if not self.budgets or self.budgets[0] < 1:
            raise KfusionError(f"budgets {list(budgets)}: expected epoch counts >= 1")
        self.save_pattern = None if save_pattern is None else str(save_pattern)
        self.state = {"epochs_done": 0, "seconds": {k: 0.0 for k in ("train_wall", "train_cpu", "measure_wall",
                                                                      "measure_cpu")}, "budgets": {}}
        self._clock = None

    def on_train_begin(self, logs=None):
        if self.path.is_file():  # a resumed run: keep its budgets and the time trained so far
            from kfusion.io import read_json

            self.state = read_json(self.path)

    def on_epoch_begin(self, epoch, logs=None):
        self._clock = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch, logs=None):
        seconds = self.state["seconds"]
        if self._clock is not None:
            seconds["train_wall"] += time.perf_counter() - self._clock[0]
            seconds["train_cpu"] += time.process_time() - self._clock[1]
        self.state["epochs_done"] = done = int(epoch) + 1
        if done in self.budgets:
            wall, cpu = time.perf_counter(), time.process_time()
            network = _network(self.model)
            entry = {"epoch": done, **self.measure(network), "train_wall_seconds": seconds["train_wall"],
                     "train_cpu_seconds": seconds["train_cpu"]}
            if self.save_pattern is not None:
                from kfusion.models import save_model

                save_model(network, self.save_pattern.format(epoch=done))
            self.state["budgets"][str(done)] = entry
            seconds["measure_wall"] += time.perf_counter() - wall
            seconds["measure_cpu"] += time.process_time() - cpu
        write_json(self.path, self.state)
