"""`kfusion bench data`: synthetic rendering rate, record writing rate and tf.data pipeline rates.

Prints a markdown table (and writes it to ``--out``). Not a test: numbers depend on the machine.
"""
import inspect
import os
import tempfile
import time

import numpy as np

from kfusion import skeletons
from kfusion.data import pipeline, records
from kfusion.io import write_text

FULL_AUGMENT = {"crop_prob": 0.7, "scale": [0.8, 1.0], "translate": 0.1, "rotate_deg": 30.0,
                "flip": True, "color": 0.2}


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def _render(num, image_size, seed=0):
    """Samples from ``kfusion.data.synthetic.iter_samples`` if it exists, with the time it took."""
    try:
        from kfusion.data import synthetic
    except ImportError:
        return None, None
    fn = getattr(synthetic, "iter_samples", None)
    if fn is None:
        return None, None
    params = inspect.signature(fn).parameters
    kwargs = {k: v for k, v in (("num", num), ("image_size", image_size), ("seed", seed)) if k in params}
    t0 = time.perf_counter()
    samples = []
    for s in fn(**kwargs):
        samples.append(s)
        if len(samples) >= num:
            break
    return samples, time.perf_counter() - t0


def fake_samples(num, image_size, seed=0):
    """Random but image-like samples (smooth background, a few boxes) with consistent geometry."""
    rng = np.random.default_rng(seed)
    J, S = skeletons.H36M17.num_joints, image_size
    K = np.array([[2.0 * S, 0.0, S / 2], [0.0, 2.0 * S, S / 2], [0.0, 0.0, 1.0]], np.float32)
    yy, xx = np.mgrid[:S, :S] / S
    for i in range(num):
        uv = rng.uniform(0.1 * S, 0.9 * S, (J, 2))
        z = rng.uniform(4000.0, 6000.0, J)
        X = np.stack([(uv[:, 0] - K[0, 2]) / K[0, 0] * z, (uv[:, 1] - K[1, 2]) / K[1, 1] * z, z], -1)
        base = rng.uniform(0, 255, 3) * (0.5 + 0.5 * (xx * rng.uniform() + yy * rng.uniform()))[..., None]
        img = base.astype(np.uint8)
        for u, v in uv.astype(int):
            img[max(v - 3, 0):v + 3, max(u - 3, 0):u + 3] = rng.integers(0, 256, 3, dtype=np.uint8)
        yield {"image": img, "joints_2d": uv.astype(np.float32), "joints_3d": X.astype(np.float32),
               "visibility": np.ones(J, np.float32), "intrinsics": K, "subject": "S0",
               "action": "bench", "camera": "c0", "source": "bench", "frame": i}


def _rate(ds, num, batch_size):
    """Samples/s of a repeating dataset over about ``num`` samples, after two warm-up batches."""
    it = iter(ds)
    for _ in range(2):
        next(it)
    steps = max(1, num // batch_size)
    t0 = time.perf_counter()
    for _ in range(steps):
        next(it)
    return steps * batch_size / (time.perf_counter() - t0)


def run_bench(args):
    import tensorflow as tf

    num, size = int(args.num), int(args.image_size)
    rows = []
    samples, seconds = _render(min(num, 500), size)
    if samples:
        rows.append(("synthetic rendering (`synthetic.iter_samples`)", len(samples) / seconds, "images/s"))
        source = "synthetic"
    else:
        rows.append(("synthetic rendering", float("nan"), "kfusion.data.synthetic.iter_samples not found"))
        samples, source = list(fake_samples(min(num, 500), size)), "fake"
    batch = 32
    with tempfile.TemporaryDirectory(prefix="kfusion-bench-") as tmp:
        t0 = time.perf_counter()
        n = records.write_records(samples, tmp, "train", num_shards=4, skeleton="h36m17")
        rows.append((f"record writing (PNG + TFRecord, {source} samples)", n / (time.perf_counter() - t0),
                     "samples/s"))
        records.write_manifest(tmp, skeleton="h36m17", image_size=size, splits={"train": n}, source=source)
        hm = max(1, size // 4)
        files = records.record_files(tmp, "train")
        parse = tf.data.TFRecordDataset(files).repeat().map(
            lambda s: records.parse_example(s, num_joints=17, image_size=size),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=False).batch(batch).prefetch(tf.data.AUTOTUNE)
        rows.append(("parse + PNG decode only", _rate(parse, num, batch), "samples/s"))
        common = dict(batch_size=batch, input_size=size, heatmap_size=hm, repeat=True)
        ev = pipeline.make_dataset(tmp, "train", training=False, **common)
        rows.append((f"evaluation pipeline (decode + {hm}x{hm} heatmaps)", _rate(ev, num, batch), "samples/s"))
        tr = pipeline.make_dataset(tmp, "train", training=True, **common)
        rows.append(("training pipeline, authors' augmentation (crop/scale)", _rate(tr, num, batch), "samples/s"))
        tr = pipeline.make_dataset(tmp, "train", training=True, augment=FULL_AUGMENT, **common)
        rows.append(("training pipeline, crop + rotate + flip + colour", _rate(tr, num, batch), "samples/s"))
    table = [f"Data benchmark: image size {size}, batch {batch}, {_cores()} CPU cores, "
             f"TensorFlow {tf.__version__}", "", "| stage | rate | unit |", "|---|---:|---|"]
    table += [f"| {name} | {rate:,.0f} | {unit} |" for name, rate, unit in rows]
    text = "\n".join(table) + "\n"
    print(text)
    if getattr(args, "out", None):
        write_text(args.out, text)
    return 0
