"""Test-time pruning of a fusion network whose fusion weights are (near) binary (paper Sec. 3.1).

With ``w_l ~= 0`` for ``1 <= l <= b`` and ``w_l ~= 1`` for ``l > b`` the network is fusion at
layer b (see ``kfusion.models.fusion``): the data streams only matter up to block b - 1 and the
fusion stream only from block b on. ``prune`` rebuilds exactly that sub-network, with copies of
the trained layers and their weights.
"""
import keras

from kfusion.models.fusion import STREAMS, block_layers, find_fusion_weights_layer, fusion_weights


def fusion_point(weights, tol=1e-3):
    """The fusion layer b of near-binary, monotone weights ``w_0 .. w_(L-1)``.

    ``w_0`` is ignored (it has no effect). Returns b = the largest l >= 1 with ``w_l <= tol``
    (0 when there is none). Raises ``ValueError`` naming the weights that are not within ``tol``
    of 0 or 1, or the first that breaks monotonicity.
    """
    ws = [float(w) for w in weights]
    bad = [(l, w) for l, w in enumerate(ws) if l >= 1 and tol < w < 1 - tol]
    if bad:
        listed = ", ".join(f"w_{l} = {w:.6g}" for l, w in bad)
        raise ValueError(f"prune: fusion weights not within tol={tol:g} of 0 or 1: {listed}; "
                         "train longer / with a larger penalty, or use the unpruned model")
    zeros = [l for l, w in enumerate(ws) if l >= 1 and w <= tol]
    ones = [l for l, w in enumerate(ws) if l >= 1 and w >= 1 - tol]
    if zeros and ones and min(ones) < max(zeros):
        raise ValueError(f"prune: fusion weights not monotone: w_{min(ones)} = {ws[min(ones)]:.6g} ~ 1 "
                         f"before w_{max(zeros)} = {ws[max(zeros)]:.6g} ~ 0; cannot fuse at a single layer")
    return max(zeros) if zeros else 0


def snapped_fusion_point(model):
    """The fusion layer b of the indicator ``w_l = 1[l > beta]`` that the sigmoid approximates.

    For a trainable model this is the alpha -> infinity limit of Eq. 3 (``b = floor(beta)``
    clipped to [0, L-1], the last block whose weight is 0); for fixed models it is their own b.
    """
    state = fusion_weights(model)
    num_blocks = len(state["weights"])
    if state["beta"] is None:  # free weights: no beta; round each weight instead
        rounded = [1.0 if w >= 0.5 else 0.0 for w in state["weights"]]
        return fusion_point(rounded, tol=0.0)
    import math

    return int(min(max(math.floor(float(state["beta"])), 0), num_blocks - 1))


def prune(model, tol=1e-3, snap=False):
    """The compact test-time network of a fusion network with near-binary fusion weights.

    Args:
        model: a model from ``build_fusion_network`` (strategy trainable, fixed, early, late or
            free) whose weights ``w_1 .. w_(L-1)`` are each within ``tol`` of 0 or 1 and monotone.
        tol: how close to 0 or 1 a weight must be; the output differs from the unpruned one by
            at most about ``tol`` times the size of the dropped features.
        snap: instead of checking the weights, replace them by the indicator they approximate
            (``snapped_fusion_point``): the network of the alpha -> infinity limit, whose output
            may differ from the unpruned one where the weights were not yet binary.

    Returns:
        a new ``keras.Model`` (name ``{model.name}_pruned``) with the same inputs {"image",
        "heatmaps"} and output ``pose_3d``: data-stream blocks 0 .. b-1, then fusion blocks
        b .. L-1 on their concatenation (no fusion weights, no penalty). Layers are copies with
        the trained weights; the input model is unchanged.

    Raises:
        ValueError: no fusion weights, or weights not near binary / not monotone (the message
            names them and their values).
    """
    if find_fusion_weights_layer(model) is None:
        raise ValueError(f"prune: model {model.name!r} has no FusionWeights layer; only fusion networks "
                         "(strategies trainable, fixed, early, late, free) can be pruned")
    weights = fusion_weights(model)["weights"]
    b = snapped_fusion_point(model) if snap else fusion_point(weights, tol)
    num_blocks = len(weights)
    copies = []

    def apply_block(x, stream, l=None):
        for layer in block_layers(model, stream, l):
            clone = layer.__class__.from_config(layer.get_config())
            x = clone(x)
            copies.append((clone, layer))
        return x

    image = keras.Input(model.input["image"].shape[1:], name="image")
    heatmaps = keras.Input(model.input["heatmaps"].shape[1:], name="heatmaps")
    img, hm = image, heatmaps
    for l in range(b):
        img = apply_block(img, STREAMS[0], l)
        hm = apply_block(hm, STREAMS[1], l)
    x = keras.layers.Concatenate(name=f"concat{b}")([img, hm])
    for l in range(b, num_blocks):
        x = apply_block(x, STREAMS[2], l)
    x = apply_block(x, "pose_3d")
    for clone, layer in copies:
        clone.set_weights(layer.get_weights())
    return keras.Model({"image": image, "heatmaps": heatmaps}, x, name=f"{model.name}_pruned")
