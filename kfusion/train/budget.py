"""A training run's length in wall-clock seconds (a lent accelerator's minutes), for any Stage.

``TimeBudget`` is a callback for ``stages.fit`` (``driver.train(..., callbacks=[...])``): after every
batch the fraction of the run done is ``max(elapsed / seconds, steps / total_steps)``, so the run ends
with whichever of the budget and the stage's own steps (epochs x steps per epoch) runs out first.
That fraction drives what the stage would otherwise tie to its step count: a ``cosine`` rate
(``ProgressCosine``, the same curve as Keras' ``CosineDecay`` to 1 %) and the settling of the fusion
point (``fusion.settle_at``). Training stops at the end of the batch where it reaches 1; that epoch is
closed like any other (validation, log, checkpoint, backup).
"""
import math
import time

import keras


class ProgressCosine(keras.optimizers.schedules.LearningRateSchedule):
    """``learning_rate * (alpha + (1 - alpha) * (1 + cos(pi * p)) / 2)`` with ``p`` the fraction of the
    run done (the scalar variable ``progress``, which ``TimeBudget`` sets after every batch), not the
    step count: the rate reaches its end when the budget does, whatever the machine's speed."""

    def __init__(self, learning_rate, alpha=0.01):
        self.learning_rate, self.alpha = float(learning_rate), float(alpha)
        self.progress = keras.Variable(0.0, dtype="float32", trainable=False, name="run_progress")

    def __call__(self, step):
        p = keras.ops.minimum(keras.ops.convert_to_tensor(self.progress), 1.0)
        return self.learning_rate * (self.alpha + (1.0 - self.alpha) * 0.5 * (1.0 + keras.ops.cos(math.pi * p)))

    def get_config(self):
        return {"learning_rate": self.learning_rate, "alpha": self.alpha}


class TimeBudget(keras.callbacks.Callback):
    """Stop training after ``seconds`` of wall clock (tracing and validation included) or
    ``total_steps`` batches, whichever comes first (see the module docstring).

    ``learning_rate``: the stage's cosine rate, replaced at the start of training by a
    ``ProgressCosine`` from it (None: the optimizer's rate is left as it is). ``settle_at``: the
    fraction of the run from which the fusion point is settled (None: never). After training,
    ``steps``, ``seconds`` (training wall clock) and ``stopped`` (the budget ended it) say what ran.
    A resumed run gets its budget anew.
    """

    def __init__(self, seconds, total_steps, *, learning_rate=None, settle_at=None, clock=time.monotonic):
        super().__init__()
        if not seconds > 0:
            raise ValueError(f"TimeBudget: seconds is {seconds!r}; expected > 0")
        self.budget, self.total_steps = float(seconds), max(1, int(total_steps))
        self.schedule = None if learning_rate is None else ProgressCosine(learning_rate)
        self.settle_at, self.clock = settle_at, clock
        self.steps, self.seconds, self.stopped, self.settled = 0, 0.0, False, False

    def on_train_begin(self, logs=None):
        self.start, self.steps, self.stopped = self.clock(), 0, False
        if self.schedule is not None:  # before the first step traces the optimizer's update
            self.model.optimizer.learning_rate = self.schedule

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        done = max((self.clock() - self.start) / self.budget, self.steps / self.total_steps)
        if self.schedule is not None:
            self.schedule.progress.assign(min(done, 1.0))
        if self.settle_at is not None and done >= self.settle_at and not self.settled:
            self.settled = True
            if hasattr(self.model, "settle_fusion_point"):
                self.model.settle_fusion_point()
        if done >= 1.0:
            self.stopped = self.steps < self.total_steps  # the budget, not the step count, ended it
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.seconds = self.clock() - self.start


def for_stage(stage, seconds):
    """The ``TimeBudget`` of a :class:`~kfusion.train.stages.Stage` given ``seconds``: its steps
    (epochs x steps per epoch) as the other bound, its cosine rate and its fusion-point settling
    (``settle_epoch`` as a fraction of its epochs) following the fraction of the run done."""
    return TimeBudget(seconds, stage.steps() * stage.epochs,
                      learning_rate=stage.learning_rate if stage.schedule == "cosine" else None,
                      settle_at=None if stage.settle_epoch is None else stage.settle_epoch / stage.epochs)
