"""`kfusion bench export`: the end-to-end model as Keras, SavedModel and TFLite, timed on this machine.

Latency is the median wall time of one batch-1 call; throughput is images per second at batch 32.
FLOPs are counted by TensorFlow's profiler on the concrete function of the Keras model (2 FLOPs per
multiply-add), per image; "% of peak" divides the achieved FLOP/s by ``PEAK_GFLOPS``.
"""
import sys
from pathlib import Path

import numpy as np

from kfusion.bench.tables import publish
from kfusion.errors import KfusionError
from kfusion.eval.tables import markdown_table
from kfusion.timing import latency_throughput, time_calls

# float32 matmul peak of the 2-core development machine, measured with a large tf.matmul.
PEAK_GFLOPS = 455.0
TARGET_IMAGES_PER_S = 30.0


def count_flops(model, size=None):
    """FLOPs per image of a Keras model with one image input (TF profiler on its graph), or None."""
    import tensorflow as tf

    size = size or int(model.inputs[0].shape[1])
    dtype = model.inputs[0].dtype
    fn = tf.function(lambda x: model(x, training=False))
    spec = tf.TensorSpec([1, size, size, int(model.inputs[0].shape[-1])], dtype)
    try:
        graph = fn.get_concrete_function(spec).graph
        opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        opts["output"] = "none"
        info = tf.compat.v1.profiler.profile(graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op",
                                             options=opts)
        return int(info.total_float_ops)
    except Exception as e:  # the profiler cannot size some graphs; the table then says n/a
        print(f"kfusion bench: FLOP count failed ({type(e).__name__}: {e})", file=sys.stderr)
        return None


def _stage_models(model):
    """(hourglass, fusion) sub-models of an end-to-end model, or (None, None)."""
    subs = [l for l in model.layers if hasattr(l, "layers") and l.inputs is not None]
    hg = next((l for l in subs if "hourglass" in l.name), None)
    fu = next((l for l in subs if l is not hg and len(l.inputs) == 2), None)
    return hg, fu


def stage_rows(model, repeats):
    """Per-stage rows: the hourglass on float crops (S) and the fusion network on its inputs (Sf)."""
    import tensorflow as tf

    hg, fu = _stage_models(model)
    rows = []
    rng = np.random.default_rng(0)
    for name, sub in (("hourglass", hg), ("fusion", fu)):
        if sub is None:
            continue
        spec = sub.input if isinstance(sub.input, dict) else {"x": sub.input}
        call = tf.function(lambda xs, sub=sub, d=isinstance(sub.input, dict):
                           sub(xs if d else xs["x"], training=False))
        for batch in (1, 32):
            xs = {k: tf.constant(rng.random((batch, *(int(v) for v in t.shape[1:])), dtype=np.float32))
                  for k, t in spec.items()}
            t = time_calls(lambda _: call(xs), None, repeats if batch == 1 else max(repeats // 4, 2))
            rows.append((name, batch, t * 1e3, batch / t))
    return rows


def run_bench(args):
    """Time the shipped (or ``args.model``) export; print (and write ``args.out``) a markdown table."""
    from kfusion.export.runners import find_saved_model, keras_model_runner, saved_model_runner
    from kfusion.runtime.estimator import default_model_path
    from kfusion.export.saved_model import find_end_to_end, load_end_to_end
    from kfusion.export.tflite import VARIANTS, TFLiteRunner, tflite_name

    folder = Path(args.model) if args.model else default_model_path()
    repeats = int(getattr(args, "repeats", 20) or 20)
    keras_path = folder / "end_to_end.keras" if (folder / "end_to_end.keras").is_file() else find_end_to_end(folder)
    model = load_end_to_end(keras_path)
    size = int(model.inputs[0].shape[1])
    flops = count_flops(model)
    runners = [("Keras", keras_model_runner(model))]
    try:
        runners.append(("SavedModel", saved_model_runner(find_saved_model(folder))[0]))
    except KfusionError as e:
        print(f"kfusion bench: no SavedModel ({e})", file=sys.stderr)
    for variant in VARIANTS:
        path = folder / "tflite" / tflite_name(variant)
        if path.is_file():
            runners.append((f"TFLite {variant}", TFLiteRunner(path)))
    rows, best = [], 0.0
    for name, fn in runners:
        ms, ips = latency_throughput(fn, size, repeats)
        best = max(best, 1e3 / ms)
        peak = f"{100 * flops * ips / (PEAK_GFLOPS * 1e9):.2f}" if flops else "n/a"
        rows.append([name, f"{ms:.2f}", f"{1e3 / ms:.1f}", f"{ips:.1f}", peak])
    stages = [[name, str(batch), f"{ms:.2f}", f"{ips:.1f}"] for name, batch, ms, ips in stage_rows(model, repeats)]
    return publish(
        f"# End-to-end model: {folder}",
        f"Input {size}x{size} uint8; {flops / 1e6:.1f} MFLOP per image." if flops else
        f"Input {size}x{size} uint8; FLOPs n/a.",
        markdown_table(["runtime", "batch-1 latency (ms)", "batch-1 images/s", "batch-32 images/s",
                        "% of peak (b32)"], rows),
        f"Target: >= {TARGET_IMAGES_PER_S:.0f} images/s at batch 1; best here {best:.1f} images/s "
        f"({'met' if best >= TARGET_IMAGES_PER_S else 'NOT met'}). Peak {PEAK_GFLOPS:.0f} GFLOP/s.",
        "Per stage (Keras, float inputs):",
        markdown_table(["stage", "batch", "ms per batch", "images/s"], stages),
        out=getattr(args, "out", None))
