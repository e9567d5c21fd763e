"""The one training step of every stage, on one device, under ``MirroredStrategy`` and in the
multi-worker loop.

``TrainingModel`` wraps a stage's functional network (the file that is saved and exported stays
that plain network). Its ``update(x, y)`` is the step: forward pass, the compiled loss plus the
losses the layers add (the fusion layer's ``lambda / alpha^2``, Eq. 4), scaled for the replicas in
sync, and the update by **two optimizers**:

- ``optimizer`` for the network's weights;
- ``fusion_optimizer`` for alpha of ``FusionWeights`` (the one variable the penalty acts on), when
  one is given; without it (the paper's setting) the one optimizer updates all. beta, the free
  weights' logits and every other weight stay on ``optimizer``.

Why alpha has its own optimizer: the penalty's gradient ``-2 lambda / alpha^3`` is about -1e7 at
alpha = 0.1. Adam keeps that gradient's square in its second moment and forgets it at rate
``beta_2`` per step, so with the usual ``beta_2 = 0.999`` alpha's steps stay tiny for thousands of
steps after the penalty has stopped being large; an Adam with a short memory (``beta_2 = 0.9``) for
alpha alone lets it grow as the penalty asks, and the weights' optimizer keeps its usual settings.
beta is not on it: the penalty does not act on beta, and where to fuse is the data's to decide, at
the pace of the other weights.

``model.fit`` calls ``train_step`` (``update`` plus Keras' loss tracker and compiled metrics); the
multi-worker loop (:mod:`kfusion.train.distributed`) calls ``update`` itself inside
``strategy.run``.
"""
import keras
import tensorflow as tf

from kfusion.models.fusion import find_fusion_weights_layer


def fusion_variables(layer):
    """The variable the penalty acts on: alpha of a trainable ``FusionWeights`` layer; [] without one
    (beta, the free weights' logits and every other weight stay on the main optimizer)."""
    return [layer.alpha] if layer is not None and layer.trainable else []


class TrainingModel(keras.Model):
    """``network`` with the training step of :mod:`kfusion.train.step`.

    ``compile(optimizer=..., fusion_optimizer=None, loss=..., metrics=...)``: ``fusion_optimizer``
    updates alpha (see the module docstring); the rest is Keras' ``compile``.
    """

    def __init__(self, network, **kwargs):
        super().__init__(name=kwargs.pop("name", f"training_{network.name}"), **kwargs)
        self.network = network
        self.fusion_optimizer = None
        # the trainable FusionWeights layer (alpha, beta), or None
        layer = find_fusion_weights_layer(network)
        self.fusion_layer = layer if layer is not None and layer.mode == "trainable" else None
        # beta once the fusion point is settled (NaN: not yet); see settle_fusion_point
        self.settled_beta = self.add_weight(shape=(), initializer=keras.initializers.Constant(float("nan")),
                                            trainable=False, name="settled_beta")
        self.built = network.built  # a functional network is built: so is its wrapper (backups need it)
        self.output_names = list(network.output_names)  # losses and metrics by output name (the hourglass)

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    def compile(self, optimizer="adam", fusion_optimizer=None, **kwargs):
        super().compile(optimizer=optimizer, **kwargs)
        self.fusion_optimizer = fusion_optimizer if fusion_variables(self.fusion_layer) else None
        self.build_optimizers()  # now, with each optimizer's own variables (a backup restores into them)

    def settle_fusion_point(self):
        """From now on beta stays in the middle of the fusion block it points at, ``floor(beta) + 0.5``
        (the block every weight above it fuses from), while alpha keeps growing: the weights turn
        binary and the network has the rest of the run to adapt to that fusion point. Returns the
        settled beta, or None for a network without trainable fusion weights. Idempotent."""
        layer = self.fusion_layer
        if layer is None:
            return None
        if bool(tf.math.is_nan(self.settled_beta)):
            last = layer.num_weights - 1
            self.settled_beta.assign(min(max(float(tf.floor(layer.beta)) + 0.5, -0.5), last - 0.5))
            layer.beta.assign(self.settled_beta)
        return float(self.settled_beta)

    def variable_groups(self):
        """``(weights, fusion)``: the variables of ``optimizer`` and of ``fusion_optimizer``."""
        fusion = fusion_variables(self.fusion_layer) if self.fusion_optimizer is not None else []
        ids = {id(v) for v in fusion}
        return [v for v in self.trainable_variables if id(v) not in ids], fusion

    def build_optimizers(self):
        """Create the optimizers' slots now (before a checkpoint is restored into them)."""
        weights, fusion = self.variable_groups()
        self.optimizer.build(weights)
        if fusion:
            self.fusion_optimizer.build(fusion)

    def update(self, x, y, sample_weight=None):
        """One optimisation step on a batch; returns ``(loss, y_pred)``.

        ``loss`` is the data loss plus the added losses, divided by the replicas in sync (summed
        over the replicas it is the loss of the global batch).
        """
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            scaled = self.optimizer.scale_loss(loss)
        weights, fusion = self.variable_groups()
        grads = tape.gradient(scaled, weights + fusion)
        self.optimizer.apply_gradients(zip(grads[:len(weights)], weights))
        if fusion:
            # a loss-scaling optimizer scaled the loss for its own variables: undo it for these
            unscale = 1.0 / self.optimizer.scale_loss(tf.constant(1.0, scaled.dtype))
            fusion_grads = [tf.where(tf.math.is_finite(g), g * tf.cast(unscale, g.dtype), tf.zeros_like(g))
                            for g in grads[len(weights):]]
            self.fusion_optimizer.apply_gradients(zip(fusion_grads, fusion))
        self._hold_settled_beta()
        return loss, y_pred

    def _hold_settled_beta(self):
        layer = self.fusion_layer
        if layer is not None:
            settled = tf.convert_to_tensor(self.settled_beta)
            layer.beta.assign(tf.where(tf.math.is_nan(settled), tf.convert_to_tensor(layer.beta), settled))

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        loss, y_pred = self.update(x, y, sample_weight)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        batch = tf.shape(tf.nest.flatten(x)[0])[0]
        for metric in self.metrics:
            if metric.name == "loss":  # Keras' loss tracker: the unscaled loss, weighted by the batch
                metric.update_state(loss * replicas, sample_weight=batch)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
