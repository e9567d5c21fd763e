"""Stacked hourglass network (Newell, Yang and Deng, ECCV 2016) for 2D confidence maps.

Layout (``F`` features, input S):
- stem: conv 7x7 stride 2 (F/4) -> BN -> ReLU -> residual (F/2) -> max-pool 2 -> residual (F/2)
  -> residual (F): S/4 x S/4 x F;
- per stack: hourglass of depth ``depth`` (recursive: skip residual at this scale + pool ->
  residual -> inner hourglass -> residual -> nearest up-sampling, added), ``modules`` residuals,
  1x1 conv -> BN -> ReLU, and a 1x1 conv to the J heatmaps (output ``heatmaps_stack{i}``); between
  stacks the features and the heatmaps are remapped by 1x1 convs and added to the stack's input
  (intermediate supervision).
- residual: pre-activation bottleneck BN-ReLU-conv1x1(C/2)-BN-ReLU-conv3x3(C/2)-BN-ReLU-conv1x1(C),
  plus the input (through a 1x1 conv when the channel count changes).
"""
import copy

import keras
import numpy as np

from kfusion.heatmaps import last_stack

PRESETS = {
    # the paper's network: 8 stacks, 256 features, 256x256 input -> 64x64 heatmaps, ~25.6 M parameters
    "paper": {"stacks": 8, "features": 256, "input_size": 256, "depth": 4, "modules": 1},
    # trains on a 2-core CPU in minutes: 64x64 input -> 16x16 heatmaps, bottom of the hourglass 4x4
    "cpu": {"stacks": 2, "features": 32, "input_size": 64, "depth": 2, "modules": 1},
    # for real photographs on a CPU budget: 128x128 input -> 32x32 heatmaps (PCK@0.2 on a person
    # crop is about 1.5 heatmap px), bottom 4x4; ~350 k parameters, about 48 training images/s on 2 cores
    "photo": {"stacks": 2, "features": 64, "input_size": 128, "depth": 3, "modules": 1},
    # for a lent GPU's minutes (scripts/gpu_recipe.py): the 'photo' network with 3 stacks of 128
    # features, ~2 M parameters (8 MB), a file small enough to come back from the machine
    "gpu": {"stacks": 3, "features": 128, "input_size": 128, "depth": 3, "modules": 1},
    # for tests: 32x32 input -> 8x8 heatmaps
    "tiny": {"stacks": 2, "features": 8, "input_size": 32, "depth": 2, "modules": 1},
}


def build_hourglass(preset="cpu", **overrides):
    """Build a stacked hourglass network as a functional ``keras.Model``.

    Args:
        preset: a key of ``PRESETS`` ("paper", "cpu", "photo", "gpu", "tiny").
        **overrides: replace preset values: ``stacks``, ``features`` (divisible by 4),
            ``input_size`` (divisible by 4 * 2**depth), ``depth``, ``modules`` (residuals after
            each hourglass), ``num_joints`` (default 16, mpii16), ``name``.

    Returns:
        ``keras.Model`` with input ``image`` (B, S, S, 3) float32 in [0, 1] and a list of
        ``stacks`` outputs ``heatmaps_stack{i}`` (B, S/4, S/4, J) float32; the last is the prediction.
    """
    if preset not in PRESETS:
        raise ValueError(f"build_hourglass: preset is {preset!r}; expected one of {list(PRESETS)}")
    config = copy.deepcopy(PRESETS[preset])
    config.update(num_joints=16, name=f"hourglass_{preset}")
    unknown = set(overrides) - set(config)
    if unknown:
        raise ValueError(f"build_hourglass: unknown option(s) {sorted(unknown)}; allowed: {sorted(config)}")
    config.update(overrides)
    stacks, features, size = int(config["stacks"]), int(config["features"]), int(config["input_size"])
    depth, modules, joints = int(config["depth"]), int(config["modules"]), int(config["num_joints"])
    if stacks < 1 or depth < 1 or modules < 0 or joints < 1:
        raise ValueError(f"build_hourglass: stacks {stacks}, depth {depth}, modules {modules}, num_joints {joints}; "
                         "expected stacks, depth, num_joints >= 1 and modules >= 0")
    if features < 4 or features % 4:
        raise ValueError(f"build_hourglass: features is {features}; expected a multiple of 4")
    if size % (4 * 2 ** depth):
        raise ValueError(f"build_hourglass: input_size is {size}; expected a multiple of 4 * 2**depth = "
                         f"{4 * 2 ** depth} (depth {depth})")

    image = keras.Input((size, size, 3), name="image")
    x = keras.layers.Conv2D(features // 4, 7, strides=2, padding="same", name="stem_conv")(image)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    x = residual(x, features // 2, "stem_res1")
    x = keras.layers.MaxPooling2D(2, name="stem_pool")(x)
    x = residual(x, features // 2, "stem_res2")
    x = residual(x, features, "stem_res3")

    outputs = []
    for i in range(stacks):
        y = _hourglass(x, depth, features, f"hg{i}")
        for m in range(modules):
            y = residual(y, features, f"hg{i}_out_res{m}")
        y = keras.layers.Conv2D(features, 1, name=f"hg{i}_lin_conv")(y)
        y = keras.layers.BatchNormalization(name=f"hg{i}_lin_bn")(y)
        y = keras.layers.ReLU(name=f"hg{i}_lin_relu")(y)
        # float32 heatmaps even under a mixed-precision policy (losses, decoding)
        heat = keras.layers.Conv2D(joints, 1, dtype="float32", name=f"heatmaps_stack{i}")(y)
        outputs.append(heat)
        if i < stacks - 1:
            y = keras.layers.Conv2D(features, 1, name=f"hg{i}_remap_features")(y)
            h = keras.layers.Conv2D(features, 1, name=f"hg{i}_remap_heatmaps")(heat)
            x = keras.layers.Add(name=f"hg{i}_merge")([x, y, h])
    return keras.Model(image, outputs, name=config["name"])


def residual(x, channels, name):
    """Pre-activation bottleneck residual module: (B, H, W, C_in) -> (B, H, W, channels)."""
    half = channels // 2
    y = keras.layers.BatchNormalization(name=f"{name}_bn1")(x)
    y = keras.layers.ReLU(name=f"{name}_relu1")(y)
    y = keras.layers.Conv2D(half, 1, name=f"{name}_conv1")(y)
    y = keras.layers.BatchNormalization(name=f"{name}_bn2")(y)
    y = keras.layers.ReLU(name=f"{name}_relu2")(y)
    y = keras.layers.Conv2D(half, 3, padding="same", name=f"{name}_conv2")(y)
    y = keras.layers.BatchNormalization(name=f"{name}_bn3")(y)
    y = keras.layers.ReLU(name=f"{name}_relu3")(y)
    y = keras.layers.Conv2D(channels, 1, name=f"{name}_conv3")(y)
    skip = x if x.shape[-1] == channels else keras.layers.Conv2D(channels, 1, name=f"{name}_skip")(x)
    return keras.layers.Add(name=f"{name}_add")([skip, y])


def _hourglass(x, depth, features, name):
    """One hourglass of the given depth: (B, H, W, F) -> (B, H, W, F), H divisible by 2**depth."""
    up = residual(x, features, f"{name}_d{depth}_up")
    low = keras.layers.MaxPooling2D(2, name=f"{name}_d{depth}_pool")(x)
    low = residual(low, features, f"{name}_d{depth}_low1")
    if depth > 1:
        low = _hourglass(low, depth - 1, features, name)
    else:
        low = residual(low, features, f"{name}_d{depth}_bottom")
    low = residual(low, features, f"{name}_d{depth}_low3")
    low = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_d{depth}_upsample")(low)
    return keras.layers.Add(name=f"{name}_d{depth}_add")([up, low])


@keras.saving.register_keras_serializable(package="kfusion")
class Mirror(keras.layers.Layer):
    """Horizontal mirror (B, h, w, C): columns reversed and, with ``permutation`` (the skeleton's
    ``flip_permutation``), channels relabelled: the maps of a mirrored image -> the image's own maps.

    Exact on the map grid: input column ``c`` of an S-wide image mirrors to ``S - 1 - c``, and with
    S = 4 w map column ``j`` (input columns 4j..4j+3) to ``w - 1 - j``.
    """

    def __init__(self, permutation=None, **kwargs):
        super().__init__(**kwargs)
        self.permutation = None if permutation is None else [int(i) for i in permutation]
        if self.permutation is not None and sorted(self.permutation) != list(range(len(self.permutation))):
            raise ValueError(f"Mirror: permutation {self.permutation} is not a permutation of 0..J-1")

    def call(self, x):
        x = keras.ops.flip(x, axis=2)
        if self.permutation is None:
            return x
        return keras.ops.take(x, keras.ops.convert_to_tensor(np.asarray(self.permutation, np.int32)), axis=3)

    def get_config(self):
        return {**super().get_config(), "permutation": self.permutation}


def resized(hourglass, input_size):
    """The same trained hourglass at another input size (the network is fully convolutional): the
    model rebuilt from its config with the input ``(input_size, input_size, 3)``, its weights copied.
    The maps come out at ``input_size / 4``. The network then sees people bigger (or smaller) in
    pixels than it was trained on: fine-tune it at the new size (``hourglass.checkpoint``).

    Raises ValueError when ``input_size`` is not a multiple of the network's total down-sampling.
    """
    size = int(input_size)
    # the stem halves twice (stride-2 convolution, max-pooling), each stack's hourglass ``depth`` times
    poolings = sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in hourglass.layers)
    step = 4 * 2 ** ((poolings - 1) // max(len(hourglass.outputs), 1))
    if size < step or size % step:
        raise ValueError(f"resized: input_size is {size}; {hourglass.name!r} needs a multiple of {step}")
    config = hourglass.get_config()
    inputs = [layer for layer in config["layers"] if layer["class_name"] == "InputLayer"]
    if len(inputs) != 1:
        raise ValueError(f"resized: {hourglass.name!r} has {len(inputs)} inputs; expected one image input")
    shape = list(inputs[0]["config"]["batch_shape"])
    inputs[0]["config"]["batch_shape"] = [shape[0], size, size, shape[3]]
    model = keras.Model.from_config(config)
    model.set_weights(hourglass.get_weights())
    return model


def separable_resample(x, rows, cols):
    """(N, H, W, C) -> (N, h, w, C): ``rows`` (H, h) applied down the columns and ``cols`` (W, w) along
    the rows, i.e. ``rows.T @ x[n, :, :, c] @ cols``. Written as transposes, reshapes and 2D matrix
    products, which TFLite converts to builtin ops (einsum and ScaleAndTranslate it does not)."""
    o = keras.ops
    _, H, W, C = x.shape
    h, w = int(rows.shape[1]), int(cols.shape[1])
    rows = o.convert_to_tensor(rows, dtype=x.dtype)
    cols = o.convert_to_tensor(cols, dtype=x.dtype)
    y = o.transpose(x, (0, 2, 3, 1))  # (N, W, C, H)
    y = o.reshape(o.matmul(o.reshape(y, (-1, H)), rows), (-1, W, C, h))  # (N, W, C, h)
    y = o.transpose(y, (0, 3, 2, 1))  # (N, h, C, W)
    y = o.reshape(o.matmul(o.reshape(y, (-1, W)), cols), (-1, h, C, w))  # (N, h, C, w)
    return o.transpose(y, (0, 1, 3, 2))


def zoom_matrix(n, zoom):
    """(n, n) float32 bilinear resampling of a length-``n`` axis about its centre by ``zoom``: output
    sample ``o`` reads input coordinate ``(o + 0.5) * zoom + n (1 - zoom) / 2`` (corner convention).
    ``zoom < 1`` enlarges the central ``zoom * n`` pixels to ``n``; ``zoom > 1`` shrinks the axis into
    the middle, and samples that fall outside the input get weight 0 (rows summing to less than 1).
    """
    n, zoom = int(n), float(zoom)
    if n < 1 or zoom <= 0:
        raise ValueError(f"zoom_matrix: n {n}, zoom {zoom}; expected n >= 1 and zoom > 0")
    out = np.zeros((n, n), np.float64)
    x = (np.arange(n) + 0.5) * zoom + n * (1.0 - zoom) / 2.0 - 0.5  # pixel-centre index of each sample
    left = np.floor(x).astype(int)
    for o, (i, frac) in enumerate(zip(left, x - left)):
        for j, w in ((i, 1.0 - frac), (i + 1, frac)):
            if 0 <= j < n and w > 0:
                out[o, j] = w
    return out.astype(np.float32)


@keras.saving.register_keras_serializable(package="kfusion")
class CentralZoom(keras.layers.Layer):
    """(B, n, n, C) resampled about the centre by ``zoom`` (``zoom_matrix`` on both axes): with zoom
    0.875 the central 7/8 of a crop enlarged to the whole crop; with 1 / 0.875 the maps of such an
    enlarged crop put back where they belong in the crop's own frame (0 outside). Matrix products
    only, which TFLite runs with builtin ops.
    """

    def __init__(self, zoom, **kwargs):
        super().__init__(**kwargs)
        self.zoom = float(zoom)
        if not self.zoom > 0:
            raise ValueError(f"CentralZoom: zoom is {zoom}; expected > 0")

    def build(self, input_shape):
        _, h, w, _ = input_shape
        if h is None or h != w:
            raise ValueError(f"CentralZoom: input shape {input_shape}; expected square (B, n, n, C) with static n")
        self._matrix = zoom_matrix(h, self.zoom).T.copy()  # (n in, n out)
        self.built = True

    def call(self, x):
        return separable_resample(x, self._matrix, self._matrix)

    def get_config(self):
        return {**super().get_config(), "zoom": self.zoom}


@keras.saving.register_keras_serializable(package="kfusion")
class ViewMean(keras.layers.Layer):
    """The mean of ``plain`` views' maps (the crop, its mirror) and as many zoomed views' maps put
    back by ``CentralZoom(1 / zoom)``, each map pixel over the views that cover it: a zoomed view
    sees only the crop's central ``zoom`` square (partly, at its bilinear edge)."""

    def __init__(self, zoom, plain, **kwargs):
        super().__init__(**kwargs)
        self.zoom, self.plain = float(zoom), int(plain)

    def build(self, input_shape):
        h = int(input_shape[0][1])
        r = zoom_matrix(h, 1.0 / self.zoom).sum(axis=1)  # each map row's coverage by a zoomed view
        zoomed = len(input_shape) - self.plain
        self._inverse_cover = (1.0 / (self.plain + zoomed * np.outer(r, r)))[None, :, :, None].astype(np.float32)
        self.built = True

    def call(self, views):
        total = views[0]
        for v in views[1:]:
            total = total + v
        return total * keras.ops.convert_to_tensor(self._inverse_cover, dtype=total.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "zoom": self.zoom, "plain": self.plain}


def with_test_augmentation(hourglass, flip_permutation=None, zoom=None):
    """The hourglass for testing on more than the crop itself: its last maps averaged with those of
    the horizontally mirrored input, mirrored back (``flip_permutation``: the skeleton's, left and
    right relabelled; ``Mirror``), and, with ``zoom`` in (0, 1), with those of the crop's central
    ``zoom`` square enlarged to the input size (and of its mirror), put back in the crop's frame
    (``CentralZoom``) and averaged where they cover it. Test-time augmentation of pose networks
    (Newell et al. 2016); each view is one more hourglass pass.

    Returns a ``keras.Model`` with the hourglass's input and one output, the averaged maps, which
    ``kfusion.heatmaps.last_stack`` reads as the prediction (as it reads the last of the stacks).
    """
    if flip_permutation is None and zoom is None:
        raise ValueError("with_test_augmentation: nothing to add; give flip_permutation, zoom or both")
    if zoom is not None and not 0.0 < float(zoom) < 1.0:
        raise ValueError(f"with_test_augmentation: zoom is {zoom}; expected a fraction in (0, 1) of the crop")
    shape = tuple(hourglass.inputs[0].shape[1:])
    image = keras.Input(shape, name="image")

    def maps_of(x, tag):
        """The view's maps, and its mirror's mirrored back."""
        direct = last_stack(hourglass(x, training=False))
        if flip_permutation is None:
            return [direct]
        if int(direct.shape[-1]) != len(flip_permutation):
            raise ValueError(f"with_test_augmentation: the hourglass predicts {direct.shape[-1]} maps; the "
                             f"permutation has {len(flip_permutation)}")
        mirrored = Mirror(name=f"mirror_image{tag}")(x)
        return [direct, Mirror(flip_permutation, name=f"mirror_maps{tag}")(last_stack(hourglass(mirrored, training=False)))]

    views = maps_of(image, "")
    name = hourglass.name + ("_flip" if flip_permutation is not None else "")
    if zoom is None:  # then the mirror is there: two views
        mean = keras.layers.Average(dtype="float32", name="heatmaps_tested")(views)
        return keras.Model(image, mean, name=f"{name}_test")
    zoomed = maps_of(CentralZoom(float(zoom), name="zoom_image")(image), "_zoom")
    back = [CentralZoom(1.0 / float(zoom), name=f"zoom_maps{i}")(m) for i, m in enumerate(zoomed)]
    mean = ViewMean(float(zoom), len(views), dtype="float32", name="heatmaps_tested")(views + back)
    return keras.Model(image, mean, name=f"{name}_zoom_test")


def is_hourglass(model):
    """Whether ``model`` is a stacked hourglass (``build_hourglass``): it has 'heatmaps_stack' outputs."""
    return any(layer.name.startswith("heatmaps_stack") for layer in getattr(model, "layers", ()))


def inner_hourglass(model):
    """The stacked hourglass of ``model``: the model itself, or the one held inside a model built around
    it (an end-to-end model of ``kfusion.models.end_to_end`` or an exported ``end_to_end.keras``, where
    it sits inside its test-time views, ``with_test_augmentation``), so that a shipped model's hourglass
    can feed a new fusion network or go on training. Depth first; ValueError when there is none."""
    if is_hourglass(model):
        return model
    for layer in getattr(model, "layers", ()):
        if isinstance(layer, keras.Model):
            try:
                return inner_hourglass(layer)
            except ValueError:
                continue
    raise ValueError(f"{model.name!r} is no stacked hourglass and holds none (no 'heatmaps_stack' outputs)")


def with_flip_test(hourglass, flip_permutation):
    """``with_test_augmentation`` with the mirror image only (twice the computation)."""
    return with_test_augmentation(hourglass, flip_permutation)


def widened(hourglass, factor, noise=0.1, seed=0):
    """The same trained hourglass with ``factor`` times the features, computing the same maps
    (Net2WiderNet, Chen, Goodfellow and Shlens, ICLR 2016): more capacity that starts from what the
    narrow network learned instead of from scratch.

    Every convolution but the heatmap outputs gets ``factor`` times its filters. Channel ``c`` of the
    wide network copies channel ``c % C`` of the narrow one (kernels, biases and batch-norm
    statistics tiled); a convolution whose input was widened divides its weights among the ``factor``
    copies of each input channel. The copies of a weight are split unevenly (a zero-sum noise of
    ``noise`` times the layer's weight std), so the copies learn apart while their sum, and hence the
    function, stays exactly the narrow network's (at float32 precision).

    Raises ValueError when ``factor`` is not an integer >= 1 or the model is not a hourglass.
    """
    if int(factor) != factor or factor < 1:
        raise ValueError(f"widened: factor is {factor!r}; expected an integer >= 1")
    factor = int(factor)
    if factor == 1:
        return hourglass
    if not is_hourglass(hourglass):
        raise ValueError(f"widened: {hourglass.name!r} has no 'heatmaps_stack' outputs; expected a stacked hourglass")
    config = hourglass.get_config()
    convs = [layer for layer in config["layers"] if layer["class_name"] == "Conv2D"]
    for layer in convs:
        if not layer["name"].startswith("heatmaps_stack"):
            layer["config"]["filters"] = int(layer["config"]["filters"]) * factor
    for layer in config["layers"]:  # the layers build anew at their new widths
        layer.pop("build_config", None)
    wide = keras.Model.from_config(config)
    rng = np.random.default_rng(seed)
    for old_layer, new_layer in zip(hourglass.layers, wide.layers):
        old = old_layer.get_weights()
        if not old:
            continue
        new = []
        for w, shape in zip(old, [tuple(v.shape) for v in new_layer.weights]):
            if w.ndim == 4:  # kernel (k, k, C_in, C_out)
                k, _, c_in, c_out = w.shape
                outs, copies = shape[3] // c_out, shape[2] // c_in
                w = np.tile(w, (1, 1, 1, outs))
                if copies > 1:
                    # zero-sum over the copies of an input channel, the same for the copies of an output
                    z = rng.normal(0.0, noise * float(np.std(w)) / copies, (copies, k, k, c_in, c_out))
                    z = np.tile(z - z.mean(axis=0, keepdims=True), (1, 1, 1, 1, outs))
                    w = np.concatenate([w / copies + z[c] for c in range(copies)], axis=2)
            else:  # bias or batch-norm vector
                w = np.tile(w, shape[0] // w.shape[0])
            new.append(w.astype(np.float32))
        new_layer.set_weights(new)
    return wide
