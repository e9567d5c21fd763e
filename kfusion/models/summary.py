"""Text summaries and analytic FLOP counts of kfusion models."""
import math

import keras

from kfusion.models.fusion import STREAMS, block_layers, find_fusion_weights_layer, fusion_weights


def count_flops(model):
    """Forward-pass FLOPs per image, counted from the layer shapes (2 FLOPs per multiply-add).

    Counts convolutions and dense layers (the bulk); biases, pooling, activations, normalisation,
    additions, up-sampling and the fusion mixes are left out (together well under 5%).
    Returns an int.
    """
    total = 0
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            c_in = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            total += 2 * h * w * c_out * kh * kw * c_in // (layer.groups or 1)
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * int(layer.input.shape[-1]) * int(layer.units)
    return int(total)


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def _describe(layer):
    out = tuple(layer.output.shape[1:])
    if isinstance(layer, keras.layers.Conv2D):
        k = "x".join(str(v) for v in layer.kernel_size)
        stride = f" stride {layer.strides[0]}" if layer.strides[0] != 1 else ""
        return f"conv {k}{stride} {layer.input.shape[-1]}->{layer.filters} {out}"
    if isinstance(layer, keras.layers.Dense):
        return f"fc {layer.input.shape[-1]}->{layer.units}"
    if isinstance(layer, keras.layers.MaxPooling2D):
        return f"pool {out}"
    if isinstance(layer, keras.layers.Dropout):
        return f"dropout {layer.rate:g}"
    if isinstance(layer, keras.layers.Flatten):
        return f"flatten {out[0]}"
    return None


def fusion_summary(model):
    """A text table of a fusion network: per block the layers of the three streams and w_l.

    Shows each stream's layers per block (``conv 9x9 3->36 (52, 52, 36)``, ``fc 7200->2048``,
    '-' where a stream has no block), the fusion weight ``w_l`` that mixes the input of fusion
    block l, and the current alpha and beta. Works for single-stream baselines too.
    """
    rows, l = [], 0
    while True:
        cells = []
        for stream in STREAMS:
            parts = [d for layer in block_layers(model, stream, l) for d in [_describe(layer)] if d]
            cells.append(", ".join(parts) if parts else "-")
        if all(c == "-" for c in cells):
            break
        rows.append((l, *cells))
        l += 1
    layer = find_fusion_weights_layer(model)
    info = fusion_weights(model) if layer is not None else None
    header = ["block", *STREAMS, "w_l"]
    table = [[str(r[0]), r[1], r[2], r[3], f"{info['weights'][r[0]]:.4f}" if info else "-"] for r in rows]
    widths = [max(len(header[i]), *(len(t[i]) for t in table)) for i in range(len(header))]
    fmt = lambda cols: " | ".join(c.ljust(widths[i]) for i, c in enumerate(cols))  # noqa: E731
    lines = [f"model {model.name}: {model.count_params():,} parameters, "
             f"{count_flops(model) / 1e6:.1f} MFLOP per image (conv + dense)",
             fmt(header), "-+-".join("-" * w for w in widths)]
    lines += [fmt(t) for t in table]
    if info:
        def num(v):
            return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"
        lines.append(f"fusion weights: mode {info['mode']}, alpha {num(info['alpha'])}, beta {num(info['beta'])}"
                     " (w_0 has no effect: fusion block 0 always sees concat(image, heatmaps))")
    return "\n".join(lines)
