"""`kfusion bench data`: synthetic rendering rate, record writing rate and tf.data pipeline rates.

Prints a markdown table (and writes it to ``--out``). Not a test: numbers depend on the machine.
"""
import os
import resource
import tempfile
import time

import numpy as np

from kfusion import skeletons
from kfusion.bench.tables import publish
from kfusion.data import pipeline, records
from kfusion.eval.tables import markdown_table
from kfusion.timing import cpu_cores

FULL_AUGMENT = {"crop_prob": 0.7, "scale": [0.8, 1.0], "translate": 0.1, "rotate_deg": 30.0,
                "flip": True, "color": 0.2}


def _render(num, image_size, seed=0):
    """``num`` samples from ``kfusion.synthetic.benchmark.iter_samples`` (one process) and the seconds taken."""
    try:
        from kfusion.synthetic.benchmark import iter_samples
    except ImportError:
        return None, None
    t0 = time.perf_counter()
    samples = list(iter_samples("train", num, seed=seed, image_size=image_size, workers=1))
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


def _cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rate(ds, num, batch_size):
    """(samples per wall second, samples per CPU second) of a repeating dataset over about ``num``
    samples, after two warm-up batches. The CPU rate does not depend on other processes' load."""
    it = iter(ds)
    for _ in range(2):
        next(it)
    steps = max(1, num // batch_size)
    t0, c0 = time.perf_counter(), _cpu_seconds()
    for _ in range(steps):
        next(it)
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    return steps * batch_size / wall, steps * batch_size / max(cpu, 1e-9)


def run_bench(args):
    import tensorflow as tf

    num, size = int(args.num), int(args.image_size)
    rows = []  # (stage, samples per wall second, samples per CPU second or None, unit)
    samples, seconds = _render(min(num, 256), size)
    if samples:
        rows.append(("synthetic rendering (`synthetic.iter_samples`, 1 process)", len(samples) / seconds,
                     None, "images/s"))
        source = "synthetic"
    else:
        rows.append(("synthetic rendering", float("nan"), None, "kfusion.synthetic.benchmark not found"))
        samples, source = list(fake_samples(min(num, 256), size)), "fake"
    batch = 32
    with tempfile.TemporaryDirectory(prefix="kfusion-bench-") as tmp:
        t0, c0 = time.perf_counter(), _cpu_seconds()
        n = records.write_records(samples, tmp, "train", num_shards=4, skeleton="h36m17")
        rows.append((f"record writing (PNG + TFRecord, {source} samples)", n / (time.perf_counter() - t0),
                     n / (_cpu_seconds() - c0) / cpu_cores(), "samples/s (one thread)"))
        records.write_manifest(tmp, skeleton="h36m17", image_size=size, splits={"train": n}, source=source)
        hm = max(1, size // 4)
        files = records.record_files(tmp, "train")
        parse = tf.data.TFRecordDataset(files).repeat().map(
            lambda s: records.parse_example(s, num_joints=17, image_size=size),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=False).batch(batch).prefetch(tf.data.AUTOTUNE)
        rows.append(("parse + PNG decode only", *_rate(parse, num, batch), "samples/s"))
        common = dict(batch_size=batch, input_size=size, heatmap_size=hm, repeat=True)
        ev = pipeline.make_dataset(tmp, "train", training=False, **common)
        rows.append((f"evaluation pipeline (decode + {hm}x{hm} heatmaps)", *_rate(ev, num, batch), "samples/s"))
        tr = pipeline.make_dataset(tmp, "train", training=True, **common)
        rows.append(("training pipeline, authors' augmentation (crop/scale)", *_rate(tr, num, batch), "samples/s"))
        tr = pipeline.make_dataset(tmp, "train", training=True, augment=FULL_AUGMENT, **common)
        rows.append(("training pipeline, crop + rotate + flip + colour", *_rate(tr, num, batch), "samples/s"))
    cores = cpu_cores()
    table = [[name, f"{rate:,.0f}", "" if cpu_rate is None else f"{cpu_rate * cores:,.0f}", unit]
             for name, rate, cpu_rate, unit in rows]
    return publish(
        f"Data benchmark: image size {size}, batch {batch}, {cores} CPU cores, TensorFlow {tf.__version__}, "
        f"load average {os.getloadavg()[0]:.1f}. 'per CPU-second x cores' is the rate this process "
        f"would reach with the cores to itself.",
        markdown_table(["stage", "rate", "per CPU-second x cores", "unit"], table, align="lrrl"),
        out=getattr(args, "out", None))
