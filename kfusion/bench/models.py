"""`kfusion bench models`: latency, throughput and FLOPs of the hourglass and the fusion network.

Measures on this CPU (not a test: numbers depend on the machine and its load):
- the machine's peak float32 rate (a large matmul and a 3x3 convolution), GFLOP/s;
- per model of each preset in ``args.presets`` (default ``cpu`` and ``paper``; ``tiny`` for a quick
  check): parameters, forward FLOPs per image (``count_flops``), latency per image at batch 1,
  throughput at the preset's batch (``MEASURE``), the achieved GFLOP/s and its fraction of the peak,
  and, where ``MEASURE`` says so, the training rate (batch 64, Adam);
- the fusion network unpruned vs pruned at the *same* weights (alpha 50, beta in the middle of its
  block, so the weights are binary), measured side by side, and the speed-up (the paper: 13 ms vs 6 ms).

Prints a markdown table and writes it to ``args.out`` if given.
"""
import os
import time

import numpy as np

from kfusion.bench.tables import publish
from kfusion.errors import KfusionError
from kfusion.eval.tables import markdown_table
from kfusion.timing import cpu_cores, interleaved_medians, time_calls

# how the models of each preset are measured: the hourglass's throughput batch, whether they get
# the fewer timed batches of the paper-size models, whether the training rate is measured
MEASURE = {
    "tiny": {"hourglass_batch": 32, "few_repeats": False, "train": True},
    "cpu": {"hourglass_batch": 32, "few_repeats": False, "train": True},
    "paper": {"hourglass_batch": 2, "few_repeats": True, "train": False},
}
DEFAULT_PRESETS = ("cpu", "paper")


def measure_peak_gflops(repeats=5):
    """This CPU's float32 rate in GFLOP/s: the best of a 2048^3 matmul and a 3x3 conv 128->128."""
    import tensorflow as tf

    a = tf.random.normal((2048, 2048))
    matmul = tf.function(lambda x: tf.matmul(x, x))
    t_mm = time_calls(matmul, a, repeats)
    x = tf.random.normal((8, 56, 56, 128))
    k = tf.random.normal((3, 3, 128, 128))
    conv = tf.function(lambda v: tf.nn.conv2d(v, k, 1, "SAME"))
    t_conv = time_calls(conv, x, repeats)
    gflops_mm = 2 * 2048 ** 3 / t_mm / 1e9
    gflops_conv = 2 * 8 * 56 * 56 * 9 * 128 * 128 / t_conv / 1e9
    return {"matmul": gflops_mm, "conv": gflops_conv}


def _inputs(model, batch, seed=0):
    rng = np.random.default_rng(seed)
    spec = model.input if isinstance(model.input, dict) else {"image": model.input}
    out = {k: rng.random((batch, *v.shape[1:]), dtype=np.float32) for k, v in spec.items()}
    return out if isinstance(model.input, dict) else out["image"]


def _forward(model):
    import tensorflow as tf

    return tf.function(lambda x: model(x, training=False), reduce_retracing=True)


def _train_rate(model, batch, repeats):
    """Training images per second: Adam steps on one in-memory batch (loss: MSE on every output),
    without XLA like kfusion's training by default."""
    import keras

    x = _inputs(model, batch, seed=1)
    outputs = model.outputs
    y = [np.zeros((batch, *o.shape[1:]), np.float32) for o in outputs]
    # no XLA, as kfusion trains by default (train.jit_compile: false)
    model.compile(keras.optimizers.Adam(1e-3), loss=["mse"] * len(outputs), jit_compile=False)
    y = y if len(y) > 1 else y[0]
    for _ in range(2):
        model.train_on_batch(x, y)
    t0 = time.perf_counter()
    steps = max(3, repeats)
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch / (time.perf_counter() - t0)


def _measure(names, models, repeats, peak, batch=32, train=False, notes=None):
    """Rows for ``models`` (timed side by side, interleaved); ``train``: also the training rate of the first."""
    from kfusion.models.summary import count_flops

    fns = [_forward(m) for m in models]
    latencies = interleaved_medians(fns, [_inputs(m, 1) for m in models], repeats)
    t_batches = interleaved_medians(fns, [_inputs(m, batch) for m in models], repeats)
    rows = []
    for i, (name, model) in enumerate(zip(names, models)):
        flops, rate = count_flops(model), batch / t_batches[i]
        rows.append({"model": name, "params": model.count_params(), "mflop": flops / 1e6,
                     "latency_ms": 1e3 * latencies[i], "batch": batch, "throughput": rate,
                     "gflops": flops * rate / 1e9, "peak": peak,
                     "train": _train_rate(model, 64, repeats) if train and i == 0 else None,
                     "note": (notes or [""] * len(models))[i]})
        print(f"  {name}: {1e3 * latencies[i]:.2f} ms/img at batch 1, {rate:.1f} img/s at batch {batch}", flush=True)
    return rows


def _sharp_middle(model):
    """Set alpha = 50 and beta = floor(L/2) + 0.5, so that the fusion weights are binary (within
    sigmoid(-25) ~ 1e-11 of 0 or 1) and the fusion point is block floor(L/2)."""
    from kfusion.models.fusion import find_fusion_weights_layer

    layer = find_fusion_weights_layer(model)
    layer.alpha.assign(50.0)
    layer.beta.assign(layer.num_weights // 2 + 0.5)


def run_bench(args):
    # imported here: the CLI imports this module lazily, TensorFlow comes in with the models
    from kfusion.models.fusion import build_fusion_network, fusion_weights
    from kfusion.models.hourglass import build_hourglass
    from kfusion.models.pruning import fusion_point, prune

    repeats = int(getattr(args, "repeats", 20))
    presets = list(getattr(args, "presets", None) or DEFAULT_PRESETS)
    unknown = [p for p in presets if p not in MEASURE]
    if unknown:
        raise KfusionError(f"--presets: unknown {unknown}; expected some of {list(MEASURE)}")
    big = max(3, repeats // 5)  # fewer timed batches for the paper-size models
    peaks = measure_peak_gflops()
    peak = max(peaks.values())
    print(f"peak: matmul {peaks['matmul']:.0f} GFLOP/s, conv {peaks['conv']:.0f} GFLOP/s", flush=True)
    rows, speedups = [], []

    for preset in presets:
        how = MEASURE[preset]
        rows += _measure([f"hourglass {preset}"], [build_hourglass(preset)], big if how["few_repeats"] else repeats,
                         peak, batch=how["hourglass_batch"], train=how["train"])

    for preset in presets:
        how = MEASURE[preset]
        reps = big if how["few_repeats"] else repeats
        model = build_fusion_network(preset, "trainable", seed=0)
        _sharp_middle(model)
        pruned = prune(model)
        b = fusion_point(fusion_weights(model)["weights"])
        x = _inputs(model, 4)
        diff = float(np.max(np.abs(np.asarray(pruned(x)) - np.asarray(model(x)))))
        unpruned_row, pruned_row = _measure(
            [f"fusion {preset} unpruned", f"fusion {preset} pruned (fusion at {b})"], [model, pruned], reps, peak,
            train=how["train"], notes=["", f"max abs(pruned - unpruned) = {diff:.2g} mm"])
        rows += [unpruned_row, pruned_row]
        speedups.append((preset, unpruned_row["latency_ms"] / pruned_row["latency_ms"],
                         pruned_row["throughput"] / unpruned_row["throughput"]))
        del model, pruned

    return publish(*report_blocks(rows, peaks, speedups), out=getattr(args, "out", None))


def report_blocks(rows, peaks, speedups):
    """The markdown blocks of the report: title, peak, the table of ``rows``, the pruning speed-ups."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = ["model", "params", "MFLOP/img", "latency b=1 (ms)", "throughput (img/s)", "GFLOP/s", "% of peak",
              "train img/s (b=64)", "note"]
    table = [[r["model"], f"{r['params']:,}", f"{r['mflop']:.1f}", f"{r['latency_ms']:.2f}",
              f"{r['throughput']:.1f} (b={r['batch']})", f"{r['gflops']:.1f}",
              f"{100 * r['gflops'] / r['peak']:.0f}%", f"{r['train']:.0f}" if r["train"] is not None else "-",
              r["note"]] for r in rows]
    return [f"# kfusion bench models ({cpu_cores()} CPU cores, load average {load:.1f} at the end)",
            f"Measured peak float32: matmul {peaks['matmul']:.0f} GFLOP/s, conv 3x3 {peaks['conv']:.0f} GFLOP/s. "
            "FLOPs: forward, conv + dense, 2 per multiply-add.",
            markdown_table(header, table, align="l" + "r" * 7 + "l"),
            "\n".join(f"Pruning speed-up, fusion {preset}: {lat:.2f}x latency (batch 1), {thr:.2f}x throughput "
                      "(the paper, GPU: 13 ms -> 6 ms, 2.2x)." for preset, lat, thr in speedups)]
