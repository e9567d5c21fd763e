"""The fusion network of Tekin et al. (ICCV 2017): image, confidence-map and fusion streams.

The network is built from a *block spec*, a list of blocks as data::

    {"kind": "conv", "kernel": 9, "filters": 36}     # conv 'valid' -> max-pool 2 -> ReLU
    {"kind": "conv", "kernel": 5, "filters": 8, "stride": 2}   # a strided conv (default stride 1)
    {"kind": "fc", "units": 2048, "dropout": 0.5}    # (flatten before the first FC) FC -> ReLU (-> dropout)

The spec lists the L - 1 hidden blocks of a *data* stream; block L - 1 is the output FC to 3 J
values, reshaped to ``pose_3d`` (J, 3). The fusion stream has twice the channels / units of a data
stream in every block. Indexing (fusion blocks l = 0 .. L-1, data blocks l = 0 .. L-2; ``img_l``,
``hm_l``, ``f_l`` the outputs of block l of the image, confidence-map and fusion streams)::

    input of fusion block l = w_l * f_(l-1) + (1 - w_l) * concat(img_(l-1), hm_(l-1))
    img_(-1) = image, hm_(-1) = heatmaps, f_(-1) = concat(image, heatmaps)

``f_(-1)`` is the paper's ``Z_0 = concat(I_0, X_0)`` (the authors' code uses ``f_(-1) = 0``,
which would zero the input of early fusion); so fusion block 0 always sees concat(image,
heatmaps) and ``w_0`` has no effect. With ``w_l = 1[l > beta]`` ("fixed" at layer beta) the data
streams run blocks 0 .. beta-1 and the fusion stream runs blocks beta .. L-1 on their concatenation:

- ``early`` (beta = -1, every w = 1; beta = 0 is the same network): the fusion stream alone on
  concat(image, heatmaps) - exactly, since ``1 * f + 0 * d == f`` in floating point.
- ``late`` (beta = L - 1, every w = 0): both data streams run all their L - 1 blocks and only the
  output FC (fusion block L - 1) acts on their concatenation.
- ``trainable``: ``w_l = sigmoid(alpha (l - beta))`` (Eq. 3), alpha and beta learnt with the penalty
  ``lambda / alpha^2`` (Eq. 4); beta starts at ``L / 2 + 0.6`` like the authors' code (4.6 for
  L = 8, i.e. between fusion at block 4 and at block 5).
- ``free``: L free weights in [0, 1] (sigmoid of free logits), no penalty (Table 6).
- ``image_only`` / ``cm_only``: one data stream with the same spec, output FC included.

Every model takes the inputs ``image`` (S, S, 3) float32 in [0, 1] and ``heatmaps`` (S, S, 16)
(confidence maps resized to the image size; single-stream models ignore one of them) and outputs
``pose_3d`` (J, 3), millimetres, root-relative, float32.
"""
import copy

import keras

from kfusion.config import FUSION_STRATEGIES
from kfusion.models.fusion_layer import FusionMix, FusionWeights

PRESETS = {
    # the authors' "type 1" network: 112x112 input, L = 8, about 122.9 M parameters
    "paper": {
        "input_size": 112,
        "blocks": [
            {"kind": "conv", "kernel": 9, "filters": 36},
            {"kind": "conv", "kernel": 5, "filters": 72},
            {"kind": "conv", "kernel": 5, "filters": 72},
            {"kind": "fc", "units": 2048, "dropout": 0.5},
            {"kind": "fc", "units": 2048, "dropout": 0.5},
            {"kind": "fc", "units": 512},
            {"kind": "fc", "units": 512},
        ],
    },
    # small enough to train all seven strategies on a 2-core CPU (a strided first conv: the
    # full-resolution 16-channel maps dominate the cost): 64 -> 31 -> 15 -> 14 -> 7 -> 6 -> 3
    "cpu": {
        "input_size": 64,
        "blocks": [
            {"kind": "conv", "kernel": 4, "filters": 8, "stride": 2},
            {"kind": "conv", "kernel": 2, "filters": 16},
            {"kind": "conv", "kernel": 2, "filters": 32},
            {"kind": "fc", "units": 256, "dropout": 0.5},
            {"kind": "fc", "units": 128},
        ],
    },
    # a wider 3D network for configs/people.yaml: the "cpu" network's depth (L = 6) and input with
    # twice its filters and units; 218 ms a training step on the 2-core CPU against 174. Measured
    # (docs/results/photos/people.md, round 10): no better on photographs, so not shipped
    "people": {
        "input_size": 64,
        "blocks": [
            {"kind": "conv", "kernel": 4, "filters": 16, "stride": 2},
            {"kind": "conv", "kernel": 2, "filters": 32},
            {"kind": "conv", "kernel": 2, "filters": 64},
            {"kind": "fc", "units": 512, "dropout": 0.5},
            {"kind": "fc", "units": 256},
        ],
    },
    # for a lent GPU's minutes (scripts/gpu_recipe.py): the paper's input and depth (L = 7) with
    # narrow blocks, ~1.4 M parameters (the paper's 122.9 M would be a 490 MB file):
    # 112 -> 54 -> 27 -> 25 -> 12 -> 10 -> 5 -> 3 -> 1
    "gpu": {
        "input_size": 112,
        "blocks": [
            {"kind": "conv", "kernel": 5, "filters": 16, "stride": 2},
            {"kind": "conv", "kernel": 3, "filters": 32},
            {"kind": "conv", "kernel": 3, "filters": 64},
            {"kind": "conv", "kernel": 3, "filters": 128},
            {"kind": "fc", "units": 384, "dropout": 0.5},
            {"kind": "fc", "units": 192},
        ],
    },
    # for tests: 20 -> 18 -> 9 -> 7 -> 3
    "tiny": {
        "input_size": 20,
        "blocks": [
            {"kind": "conv", "kernel": 3, "filters": 4},
            {"kind": "conv", "kernel": 3, "filters": 4},
            {"kind": "fc", "units": 16, "dropout": 0.5},
            {"kind": "fc", "units": 8},
        ],
    },
}

STRATEGIES = FUSION_STRATEGIES  # the names, defined once with the config schema
STREAMS = ("image", "heatmaps", "fusion")


def build_fusion_network(preset="cpu", strategy="trainable", *, fusion_layer=None, alpha_init=0.1,
                         beta_init=None, penalty=5e3, alpha_squared=False, num_joints=17,
                         num_heatmaps=16, input_size=None, blocks=None, seed=None, name=None,
                         output_scale=1000.0):
    """Build a fusion network (or a single-stream baseline) as a functional ``keras.Model``.

    Args:
        preset: a key of ``PRESETS`` ("paper", "cpu", "people", "gpu", "tiny") giving ``input_size`` and ``blocks``.
        strategy: one of ``STRATEGIES`` (see the module docstring).
        fusion_layer: beta for strategy "fixed": fusion block ``floor(beta) + 1`` is the first to
            see only the fusion stream; an int in [-1, L - 1] (-1/0 early, L - 1 late).
        alpha_init, beta_init, penalty, alpha_squared: the trainable fusion (Eq. 3, 4); ``beta_init``
            None means ``L / 2 + 0.6``; ``penalty`` is lambda with the data loss in mm^2.
        num_joints: J of the output ``pose_3d`` (J, 3) (17 for h36m17).
        num_heatmaps: channels of the ``heatmaps`` input (16 for mpii16).
        input_size: S of both inputs (default: the preset's).
        blocks: a block spec replacing the preset's (the L - 1 hidden blocks of a data stream).
        seed: int seed of the initialisers and dropout (None: Keras' global RNG).
        name: model name (default ``fusion_{strategy}``).
        output_scale: millimetres per unit of the output dense layer (1000: it predicts metres).

    Returns:
        ``keras.Model`` with inputs {"image": (B, S, S, 3), "heatmaps": (B, S, S, num_heatmaps)}
        and output ``pose_3d`` (B, J, 3) float32.
    """
    if preset not in PRESETS:
        raise ValueError(f"build_fusion_network: preset is {preset!r}; expected one of {list(PRESETS)}")
    if strategy not in STRATEGIES:
        raise ValueError(f"build_fusion_network: strategy is {strategy!r}; expected one of {list(STRATEGIES)}")
    config = copy.deepcopy(PRESETS[preset])
    spec = _check_spec(copy.deepcopy(blocks) if blocks is not None else config["blocks"])
    size = int(input_size if input_size is not None else config["input_size"])
    num_blocks = len(spec) + 1  # L: the hidden blocks and the output FC
    _check_sizes(spec, size)
    seeds = _SeedStream(seed)

    image = keras.Input((size, size, 3), name="image")
    heatmaps = keras.Input((size, size, int(num_heatmaps)), name="heatmaps")
    out_units = 3 * int(num_joints)

    if strategy in ("image_only", "cm_only"):
        stream, x = ("image", image) if strategy == "image_only" else ("heatmaps", heatmaps)
        for l, block in enumerate(spec):
            x = _block(x, block, block_name(stream, l), 1, _is_first_fc(spec, l), seeds)
        x = _output_block(x, block_name(stream, num_blocks - 1), out_units, _needs_flatten(spec), seeds,
                          output_scale)
    else:
        weights_layer = _fusion_weights_layer(strategy, num_blocks, fusion_layer, alpha_init, beta_init,
                                              penalty, alpha_squared)
        w = weights_layer(image)
        img, hm = image, heatmaps
        x = keras.layers.Concatenate(name="concat0")([img, hm])  # f_(-1) = concat(image, heatmaps)
        for l in range(num_blocks):
            if l > 0:
                data = keras.layers.Concatenate(name=f"concat{l}")([img, hm])
                x = FusionMix(l, name=f"mix{l}")([w, x, data])
            if l < num_blocks - 1:
                first_fc = _is_first_fc(spec, l)
                x = _block(x, spec[l], f"fusion{l}", 2, first_fc, seeds)
                img = _block(img, spec[l], f"image{l}", 1, first_fc, seeds)
                hm = _block(hm, spec[l], f"heatmaps{l}", 1, first_fc, seeds)
            else:
                x = _output_block(x, f"fusion{l}", out_units, _needs_flatten(spec), seeds, output_scale)
    pose = keras.layers.Reshape((int(num_joints), 3), name="pose_3d", dtype="float32")(x)
    return keras.Model({"image": image, "heatmaps": heatmaps}, pose, name=name or f"fusion_{strategy}")


def fusion_weights(model):
    """Current fusion parameters of a fusion network.

    Returns:
        dict ``{"mode", "alpha", "beta", "weights"}``: floats (alpha None unless mode "trainable";
        beta None in mode "free"; for "fixed" beta is the fusion layer) and ``weights`` the list
        of the L values w_0 .. w_(L-1) (w_0 has no effect, see the module docstring).

    Raises:
        ValueError: the model has no ``FusionWeights`` layer (e.g. a single-stream baseline).
    """
    layer = find_fusion_weights_layer(model)
    if layer is None:
        raise ValueError(f"fusion_weights: model {model.name!r} has no FusionWeights layer "
                         "(single-stream baselines image_only / cm_only have no fusion weights)")
    weights = [float(v) for v in keras.ops.convert_to_numpy(layer.fusion_weights())]
    alpha = beta = None
    if layer.mode == "trainable":
        alpha = float(keras.ops.convert_to_numpy(layer.alpha_value()))
        beta = float(keras.ops.convert_to_numpy(layer.beta_value()))
    elif layer.mode == "fixed":
        beta = layer.beta_init
    return {"mode": layer.mode, "alpha": alpha, "beta": beta, "weights": weights}


def last_conv_outputs(model):
    """Outputs (B, H, W, C) of the last convolutional block of the image and confidence-map streams.

    These are the features of the paper's Fig. 7 (correlations between the two streams).
    Raises ValueError for models without both data streams or without convolutions.
    """
    outputs = []
    for stream in STREAMS[:2]:
        convs = [layer for layer in model.layers
                 if layer.name.startswith(stream) and layer.name.endswith("_conv")]
        if not convs:
            raise ValueError(f"last_conv_outputs: model {model.name!r} has no convolutional {stream} stream")
        last = max(convs, key=lambda layer: int(layer.name[len(stream):-len("_conv")]))
        outputs.append(model.get_layer(last.name.replace("_conv", "_relu")).output)
    return outputs


def block_name(stream, l):
    """The name prefix of block ``l`` of ``stream`` (its layers are ``<prefix>_conv``, ``_pool``, ...)."""
    return f"{stream}{l}"


def block_layers(model, stream, l):
    """The layers of block ``l`` of ``stream`` in ``model``, in order (``[]`` where the stream has none).

    ``stream``: one of ``STREAMS``, or ``"pose_3d"`` for the output's reshape."""
    prefix = "pose_3d" if stream == "pose_3d" else f"{block_name(stream, l)}_"
    return [layer for layer in model.layers if layer.name.startswith(prefix)]


def find_fusion_weights_layer(model):
    """The model's ``FusionWeights`` layer, or None."""
    for layer in model.layers:
        if isinstance(layer, FusionWeights):
            return layer
    return None


def _fusion_weights_layer(strategy, num_blocks, fusion_layer, alpha_init, beta_init, penalty, alpha_squared):
    if strategy in ("trainable", "free"):
        beta = num_blocks / 2 + 0.6 if beta_init is None else float(beta_init)
        return FusionWeights(num_blocks, mode=strategy, alpha_init=alpha_init, beta_init=beta,
                             penalty=penalty, alpha_squared=alpha_squared, name="fusion_weights")
    if strategy == "early":
        beta = -1
    elif strategy == "late":
        beta = num_blocks - 1
    else:
        if fusion_layer is None:
            raise ValueError("build_fusion_network: strategy 'fixed' needs fusion_layer (beta), "
                             f"an int in [-1, {num_blocks - 1}]")
        beta = fusion_layer
        if not -1 <= beta <= num_blocks - 1:
            raise ValueError(f"build_fusion_network: fusion_layer is {beta}; expected an int in "
                             f"[-1, {num_blocks - 1}] (L = {num_blocks} blocks)")
    return FusionWeights(num_blocks, mode="fixed", beta_init=beta, penalty=0.0, name="fusion_weights")


def _check_spec(spec):
    if not isinstance(spec, (list, tuple)) or not spec:
        raise ValueError(f"block spec: expected a non-empty list of blocks, got {spec!r}")
    seen_fc = False
    for i, block in enumerate(spec):
        kind = block.get("kind") if isinstance(block, dict) else None
        if kind == "conv":
            if seen_fc:
                raise ValueError(f"block spec: block {i} is a conv after an fc block; convs must come first")
            extra = set(block) - {"kind", "kernel", "filters", "stride"}
            if (extra or int(block.get("kernel", 0)) < 1 or int(block.get("filters", 0)) < 1
                    or int(block.get("stride", 1)) < 1):
                raise ValueError(f"block spec: block {i} = {block!r}; expected "
                                 "{'kind': 'conv', 'kernel': k >= 1, 'filters': n >= 1, 'stride': s >= 1 (optional)}")
        elif kind == "fc":
            seen_fc = True
            extra = set(block) - {"kind", "units", "dropout"}
            if extra or int(block.get("units", 0)) < 1 or not 0 <= float(block.get("dropout", 0.0)) < 1:
                raise ValueError(f"block spec: block {i} = {block!r}; expected "
                                 "{'kind': 'fc', 'units': n >= 1, 'dropout': p in [0, 1) (optional)}")
        else:
            raise ValueError(f"block spec: block {i} has kind {kind!r}; expected 'conv' or 'fc'")
    return list(spec)


def _check_sizes(spec, size):
    s = size
    for i, block in enumerate(spec):
        if block["kind"] == "conv":
            s = ((s - int(block["kernel"])) // int(block.get("stride", 1)) + 1) // 2
            if s < 1:
                raise ValueError(f"block spec: input size {size} shrinks to nothing at conv block {i} "
                                 "('valid' conv then max-pool 2); use a larger input_size or smaller kernels")


def _is_first_fc(spec, l):
    return spec[l]["kind"] == "fc" and (l == 0 or spec[l - 1]["kind"] == "conv")


def _needs_flatten(spec):
    return all(block["kind"] == "conv" for block in spec)


class _SeedStream:
    """Distinct, reproducible seeds for the initialisers and dropout layers (None: unseeded)."""

    def __init__(self, seed):
        self.seed = seed
        self.count = 0

    def __call__(self):
        if self.seed is None:
            return None
        self.count += 1
        return int(self.seed) * 1000 + self.count


def _block(x, block, prefix, width, first_fc, seeds):
    """One block of a stream; ``width`` 1 for a data stream, 2 for the fusion stream."""
    if block["kind"] == "conv":
        # the authors' initialisation: He-normal convolutions
        x = keras.layers.Conv2D(width * int(block["filters"]), int(block["kernel"]),
                                strides=int(block.get("stride", 1)), padding="valid",
                                kernel_initializer=keras.initializers.HeNormal(seeds()), name=f"{prefix}_conv")(x)
        x = keras.layers.MaxPooling2D(2, name=f"{prefix}_pool")(x)
        return keras.layers.ReLU(name=f"{prefix}_relu")(x)
    if first_fc:
        x = keras.layers.Flatten(name=f"{prefix}_flatten")(x)
    # the authors: first FC layer N(0, 0.01), later ones uniform +-sqrt(6 / fan_in)
    init = (keras.initializers.RandomNormal(stddev=0.01, seed=seeds()) if first_fc
            else keras.initializers.HeUniform(seeds()))
    x = keras.layers.Dense(width * int(block["units"]), kernel_initializer=init, name=f"{prefix}_dense")(x)
    x = keras.layers.ReLU(name=f"{prefix}_relu")(x)
    rate = float(block.get("dropout", 0.0))
    if rate > 0:
        x = keras.layers.Dropout(rate, seed=seeds(), name=f"{prefix}_dropout")(x)
    return x


def _output_block(x, prefix, units, flatten, seeds, output_scale):
    if flatten:
        x = keras.layers.Flatten(name=f"{prefix}_flatten")(x)
    x = keras.layers.Dense(units, kernel_initializer=keras.initializers.HeUniform(seeds()), name=f"{prefix}_dense")(x)
    # The dense layer works in units of output_scale mm (metres by default): Adam's steps of ~lr then
    # move the pose by millimetres, not micrometres; the function class is unchanged.
    return keras.layers.Rescaling(output_scale, name=f"{prefix}_to_mm")(x)
