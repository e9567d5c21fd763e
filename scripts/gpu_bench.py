"""Training throughput on one accelerator: images/s of hourglass and fusion training steps and the
rate of the fusion input pipeline, for float32 / mixed precision, with and without XLA.

Run on a GPU machine (prints a markdown table; nothing is written):

    python scripts/gpu_bench.py                                 # paper-size networks, all settings
    python scripts/gpu_bench.py --hourglass-preset cpu --fusion-preset cpu --steps 20   # quick check
    python scripts/gpu_bench.py --records data/synthetic        # also the TFRecord pipeline's rate

Each model is timed over ``--steps`` ``train_on_batch`` calls after ``--warmup`` calls (tracing and
XLA compilation excluded) on in-memory batches, so the numbers are the device's training rate; the
pipeline rows time the tf.data pipelines alone (CPU). The "images/s" of the fusion network count
samples (one image + its confidence maps).
"""
import argparse
import itertools
import sys
import time

import numpy as np


def _time_steps(model, x, y, steps, warmup):
    for _ in range(warmup):
        model.train_on_batch(x, y)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(x, y)
    float(np.asarray(loss).ravel()[0])  # wait for the device
    return time.perf_counter() - t0


def bench_hourglass(preset, batch, precision, jit, steps, warmup):
    import keras

    from kfusion.models.hourglass import PRESETS, build_hourglass
    from kfusion.models.losses import heatmap_loss

    keras.mixed_precision.set_global_policy(precision)
    size = PRESETS[preset]["input_size"]
    model = build_hourglass(preset)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=[heatmap_loss] * len(model.outputs),
                  jit_compile=jit)
    rng = np.random.default_rng(0)
    x = rng.random((batch, size, size, 3), dtype=np.float32)
    y = [rng.random((batch, size // 4, size // 4, 16), dtype=np.float32) for _ in model.outputs]
    seconds = _time_steps(model, x, y, steps, warmup)
    keras.mixed_precision.set_global_policy("float32")
    return batch * steps / seconds


def bench_fusion(preset, batch, precision, jit, steps, warmup):
    import keras

    from kfusion.models.fusion import PRESETS, build_fusion_network
    from kfusion.models.losses import pose_loss

    keras.mixed_precision.set_global_policy(precision)
    size = PRESETS[preset]["input_size"]
    model = build_fusion_network(preset, "trainable", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=pose_loss, jit_compile=jit)
    rng = np.random.default_rng(0)
    x = {"image": rng.random((batch, size, size, 3), dtype=np.float32),
         "heatmaps": rng.random((batch, size, size, 16), dtype=np.float32)}
    y = rng.normal(scale=300, size=(batch, 17, 3)).astype(np.float32)
    seconds = _time_steps(model, x, y, steps, warmup)
    keras.mixed_precision.set_global_policy("float32")
    return batch * steps / seconds


def _pipeline_rate(ds, batches):
    it = iter(ds)
    next(it)
    t0 = time.perf_counter()
    n = 0
    for batch in itertools.islice(it, batches):
        n += int(batch[1].shape[0])
    return n / (time.perf_counter() - t0)


def bench_fusion_pipeline(preset, batch, batches):
    from kfusion import config as config_mod
    from kfusion.models.fusion import PRESETS
    from kfusion.data.cache import HeatmapCache, fusion_dataset

    size = PRESETS[preset]["input_size"]
    n, hm = 2048, 64
    rng = np.random.default_rng(0)
    cache = HeatmapCache(
        images=rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8),
        heatmaps=rng.random((n, hm, hm, 16), dtype=np.float32).astype(np.float16),
        pose_3d=rng.normal(size=(n, 17, 3)).astype(np.float32), joints_2d=np.zeros((n, 16, 2), np.float32),
        confidence=np.ones((n, 16), np.float32), joints_2d_gt=np.zeros((n, 16, 2), np.float32),
        actions=np.array(["a"] * n), subjects=np.array(["S1"] * n), frames=np.arange(n), input_size=256)
    cfg = config_mod.from_dict({"fusion": {"preset": preset, "input_size": size, "batch_size": batch}})
    return _pipeline_rate(fusion_dataset(cache, cfg, training=True, repeat=True), batches)


def bench_records_pipeline(records, size, batch, batches):
    from kfusion.data.pipeline import make_dataset

    ds = make_dataset(records, "train", batch_size=batch, training=True, input_size=size,
                      heatmap_size=size // 4, repeat=True)
    return _pipeline_rate(ds, batches)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hourglass-preset", default="paper")
    p.add_argument("--fusion-preset", default="paper")
    p.add_argument("--hourglass-batch", type=int, default=16)
    p.add_argument("--fusion-batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--precisions", default="float32,mixed_float16,mixed_bfloat16")
    p.add_argument("--jit", default="false,true", help="XLA settings to try")
    p.add_argument("--records", default=None, help="a records folder: also time make_dataset on its train split")
    args = p.parse_args(argv)

    import tensorflow as tf

    print(f"devices: {[d.name for d in tf.config.list_physical_devices()]}", file=sys.stderr)
    rows = []
    for precision in args.precisions.split(","):
        for jit in (s.strip() == "true" for s in args.jit.split(",")):
            for name, fn, preset, batch in (("hourglass", bench_hourglass, args.hourglass_preset, args.hourglass_batch),
                                            ("fusion", bench_fusion, args.fusion_preset, args.fusion_batch)):
                try:
                    rate = f"{fn(preset, batch, precision, jit, args.steps, args.warmup):.1f}"
                except Exception as e:  # one failing setting (e.g. bfloat16 on an old GPU) keeps the table
                    rate = f"failed: {type(e).__name__}"
                rows.append((f"{name} train ({preset}, batch {batch})", precision, str(jit), rate))
                print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    rows.append((f"fusion input pipeline ({args.fusion_preset})", "-", "-",
                 f"{bench_fusion_pipeline(args.fusion_preset, args.fusion_batch, 100):.1f}"))
    if args.records:
        from kfusion.models.hourglass import PRESETS

        size = PRESETS[args.hourglass_preset]["input_size"]
        rows.append((f"records pipeline ({args.records}, {size} px)", "-", "-",
                     f"{bench_records_pipeline(args.records, size, args.hourglass_batch, 100):.1f}"))
    print("| what | precision | XLA | images/s |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
