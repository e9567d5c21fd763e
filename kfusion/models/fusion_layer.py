"""The trainable fusion weights of Tekin et al. (ICCV 2017), Eq. 3 and 4, and the per-block mix.

``FusionWeights`` owns alpha and beta and produces the L fusion weights

    w_l = sigmoid(alpha * (l - beta)),  l = 0 .. L-1                (Eq. 3)

(``alpha_squared=True``: ``sigmoid(alpha^2 * (l - beta))``, the form of the authors' code), and
adds the sharpness penalty ``penalty / alpha^2`` of Eq. 4 with ``add_loss``. ``FusionMix`` computes
the input of fusion block l, ``w_l * Z + (1 - w_l) * concat(I, X)`` (Eq. 1).

alpha, beta and the weights are float32 even under a mixed-precision policy (the penalty and the
sigmoid need the range); the weights are cast to the compute dtype where they mix feature maps.
"""
import keras
from keras import ops

MODES = ("trainable", "fixed", "free")


@keras.saving.register_keras_serializable(package="kfusion")
class FusionWeights(keras.layers.Layer):
    """The L fusion weights, computed once per forward pass.

    Args:
        num_weights: L, the number of fusion-stream blocks (one weight per block).
        mode: ``"trainable"``: ``w_l = sigmoid(alpha (l - beta))`` with trainable float32 scalars
            alpha and beta and the penalty ``penalty / alpha^2`` added as a loss;
            ``"fixed"``: ``w_l = 1[l > beta]`` (no variables, no penalty);
            ``"free"``: ``w_l = sigmoid(logit_l)`` with L free trainable logits, no penalty (the
            paper's Table 6 "without regularisation"); the logits start at
            ``alpha_init * (l - beta_init)`` so it starts where ``"trainable"`` does.
        alpha_init: initial alpha (the paper: 0.1).
        beta_init: initial beta; in mode ``"fixed"`` the fusion layer beta itself (``w_l = 1[l > beta]``;
            ``kfusion.models.fusion`` says which blocks that activates).
        penalty: lambda of Eq. 4 (5e3 with the data loss in mm^2 as
            ``0.5 * mean_batch sum (y_hat - y)^2``); 0 disables the loss.
        alpha_squared: use ``sigmoid(alpha^2 (l - beta))`` (the authors' code).

    How fast alpha and beta learn is the optimizer's business, not the layer's: kfusion trains them
    on their own Adam (:mod:`kfusion.train.step`). Files saved by kfusion <= 0.1 may hold a config
    ``rate`` r (the variables then held alpha / r, beta / r): they load with the values multiplied back.

    Call: ``layer(x)`` with any tensor ``x`` (only ties the layer into the graph); returns the
    weights, shape (L,), in the layer's compute dtype.
    """

    def __init__(self, num_weights, mode="trainable", alpha_init=0.1, beta_init=0.0, penalty=5e3,
                 alpha_squared=False, **kwargs):
        legacy_rate = float(kwargs.pop("rate", 1.0))  # files of kfusion <= 0.1 (see the class docstring)
        super().__init__(**kwargs)
        self._legacy_rate = legacy_rate
        if mode not in MODES:
            raise ValueError(f"FusionWeights: mode is {mode!r}; expected one of {list(MODES)}")
        if int(num_weights) < 1:
            raise ValueError(f"FusionWeights: num_weights is {num_weights}; expected >= 1")
        if mode == "trainable" and float(alpha_init) == 0.0 and float(penalty) > 0:
            raise ValueError("FusionWeights: alpha_init is 0; the penalty lambda / alpha^2 would be infinite")
        self.num_weights = int(num_weights)
        self.mode = mode
        self.alpha_init = float(alpha_init)
        self.beta_init = float(beta_init)
        self.penalty = float(penalty)
        self.alpha_squared = bool(alpha_squared)
        if legacy_rate <= 0:
            raise ValueError(f"FusionWeights: rate is {legacy_rate}; expected > 0")

    def build(self, input_shape=None):
        if self.mode == "trainable":
            self.alpha = self.add_weight(name="alpha", shape=(), dtype="float32", autocast=False,
                                         initializer=keras.initializers.Constant(self.alpha_init))
            self.beta = self.add_weight(name="beta", shape=(), dtype="float32", autocast=False,
                                        initializer=keras.initializers.Constant(self.beta_init))
        elif self.mode == "free":
            logits = [self.alpha_init * (l - self.beta_init) for l in range(self.num_weights)]
            self.logits = self.add_weight(name="logits", shape=(self.num_weights,), dtype="float32",
                                          autocast=False, initializer=keras.initializers.Constant(logits))
        self.built = True

    def fusion_weights(self):
        """The weights w_0 .. w_(L-1) as a float32 tensor of shape (L,) (no loss is added)."""
        layers = ops.arange(self.num_weights, dtype="float32")
        if self.mode == "fixed":
            return ops.cast(ops.greater(layers, self.beta_init), "float32")
        if self.mode == "free":
            return ops.sigmoid(ops.convert_to_tensor(self.logits))
        alpha = self.alpha_value()
        slope = alpha * alpha if self.alpha_squared else alpha
        return ops.sigmoid(slope * (layers - self.beta_value()))

    def alpha_value(self):
        """alpha (float32 scalar tensor)."""
        return ops.convert_to_tensor(self.alpha)

    def beta_value(self):
        """beta (float32 scalar tensor)."""
        return ops.convert_to_tensor(self.beta)

    def load_own_variables(self, store):
        super().load_own_variables(store)
        if self._legacy_rate != 1.0:  # the file's variables hold alpha / rate, beta / rate, logits / rate
            for v in self.trainable_variables:
                v.assign(v * self._legacy_rate)
            self._legacy_rate = 1.0

    def penalty_loss(self):
        """``penalty / alpha^2`` as a float32 scalar (mode "trainable" only)."""
        alpha = self.alpha_value()
        return self.penalty / (alpha * alpha)

    def call(self, inputs):
        if self.mode == "trainable" and self.penalty > 0:
            self.add_loss(self.penalty_loss())
        return ops.cast(self.fusion_weights(), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (self.num_weights,)

    def get_config(self):
        config = super().get_config()
        config.pop("rate", None)  # a legacy file's rate is folded into the variables on load
        config.update(num_weights=self.num_weights, mode=self.mode, alpha_init=self.alpha_init,
                      beta_init=self.beta_init, penalty=self.penalty, alpha_squared=self.alpha_squared)
        return config


@keras.saving.register_keras_serializable(package="kfusion")
class FusionMix(keras.layers.Layer):
    """Input of fusion block l: ``w_l * fused + (1 - w_l) * data`` (Eq. 1 of the paper).

    Call: ``layer([weights, fused, data])`` with ``weights`` (L,) from ``FusionWeights``, ``fused``
    the previous fusion block's output Z and ``data`` = concat(I, X) of the data streams, both of
    the same shape (B, H, W, C) or (B, C). Returns that shape.
    """

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def build(self, input_shape):
        w_shape, fused_shape, data_shape = input_shape
        if tuple(fused_shape[1:]) != tuple(data_shape[1:]):
            raise ValueError(f"FusionMix {self.name}: the fusion stream's shape {tuple(fused_shape)} differs "
                             f"from the data streams' concatenation {tuple(data_shape)}")
        if w_shape[0] is not None and not 0 <= self.index < w_shape[0]:
            raise ValueError(f"FusionMix {self.name}: index {self.index} outside the {w_shape[0]} fusion weights")
        self.built = True

    def call(self, inputs):
        weights, fused, data = inputs
        w = ops.cast(weights[self.index], fused.dtype)
        return w * fused + (1.0 - w) * data

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        config = super().get_config()
        config.update(index=self.index)
        return config
