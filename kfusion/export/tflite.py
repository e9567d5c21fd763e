"""TFLite variants of the end-to-end model, a batch runner on LiteRT, and the parity report.

Variants (``VARIANTS``): ``float32`` (no optimisation), ``float16`` (weights stored in float16,
computed in float32), ``int8`` (dynamic-range quantisation: int8 weights, activations quantised on
the fly). All take the SavedModel's ``serving_default`` input ``image`` uint8 (N, S, S, 3).
"""
import threading
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError, one_line
from kfusion.io import atomic_path

VARIANTS = ("float32", "float16", "int8")
PARITY_OUTPUTS = {"pose_3d": "mm", "pose_2d": "px"}


def tflite_name(variant):
    return f"kfusion_{variant}.tflite"


def convert(saved_model_dir, variant="float32"):
    """TFLite flatbuffer (bytes) of a SavedModel's ``serving_default`` for ``variant``."""
    import tensorflow as tf

    if variant not in VARIANTS:
        raise KfusionError(f"TFLite variant {variant!r}; expected one of {list(VARIANTS)}")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=["serving_default"])
    if variant in ("float16", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def write_tflite(saved_model_dir, path, variant):
    """Convert and write ``path`` atomically; returns the path."""
    flatbuffer = convert(saved_model_dir, variant)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(flatbuffer)
    return Path(path)


class TFLiteRunner:
    """Run a kfusion ``.tflite`` on batches with LiteRT (``ai_edge_litert``), no TensorFlow needed.

    ``runner(images)`` maps uint8 (N, S, S, 3) to a dict of numpy outputs (``pose_3d``, ...). One
    runner may be called from many threads: a LiteRT interpreter holds one set of tensors, so calls
    take turns (resize, set, invoke, copy out under one lock).
    """

    def __init__(self, path, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        if not self.path.is_file():
            raise KfusionError(f"{self.path}: TFLite model not found")
        try:
            self.interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
        except ValueError as e:
            raise KfusionError(f"{self.path}: not a readable TFLite model ({one_line(e)})") from None
        signatures = self.interpreter.get_signature_list()
        self.signature = "serving_default" if "serving_default" in signatures else next(iter(signatures), None)
        details = self.interpreter.get_input_details()
        if len(details) != 1:
            raise KfusionError(f"{self.path}: {len(details)} inputs; expected one image input")
        self._input = details[0]
        self.input_size = int(self._input["shape_signature"][1])
        self._batch = None
        self._outputs = None
        self._lock = threading.Lock()

    def _prepare(self, batch):
        if batch == self._batch:
            return
        self.interpreter.resize_tensor_input(self._input["index"], [batch, self.input_size, self.input_size, 3])
        self.interpreter.allocate_tensors()
        self._batch = batch
        if self.signature is not None:
            sig = self.interpreter.get_signature_runner(self.signature)
            names = sig.get_output_details()
            self._outputs = {name: d["index"] for name, d in names.items()}
        else:
            self._outputs = {d["name"]: d["index"] for d in self.interpreter.get_output_details()}

    def __call__(self, images):
        images = np.ascontiguousarray(images, dtype=np.uint8)
        if images.ndim != 4 or images.shape[1:] != (self.input_size, self.input_size, 3):
            raise KfusionError(f"{self.path}: images have shape {images.shape}; expected "
                               f"(N, {self.input_size}, {self.input_size}, 3) uint8")
        with self._lock:
            self._prepare(len(images))
            self.interpreter.set_tensor(self._input["index"], images)
            self.interpreter.invoke()
            return {name: self.interpreter.get_tensor(index).copy() for name, index in self._outputs.items()}


def joint_distances(a, b):
    """Euclidean distance per joint between (N, J, D) arrays -> (N, J)."""
    return np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1)


def parity(reference, candidate):
    """Max and mean per-joint differences of ``candidate`` outputs vs ``reference`` (dicts of arrays).

    Returns ``{output: {"max": float, "mean": float, "unit": str}}`` for ``pose_3d`` (mm) and
    ``pose_2d`` (crop px), plus ``confidence`` (absolute difference, no unit).
    """
    out = {}
    for name, unit in PARITY_OUTPUTS.items():
        d = joint_distances(reference[name], candidate[name])
        out[name] = {"max": float(d.max()), "mean": float(d.mean()), "unit": unit}
    if "confidence" in reference and "confidence" in candidate:
        d = np.abs(np.asarray(reference["confidence"], np.float64) - candidate["confidence"])
        out["confidence"] = {"max": float(d.max()), "mean": float(d.mean()), "unit": ""}
    return out


def run_batched(fn, images, batch_size=16):
    """``fn`` over ``images`` in batches; concatenated dict of numpy outputs."""
    parts = []
    for i in range(0, len(images), batch_size):
        parts.append({k: np.asarray(v) for k, v in fn(images[i:i + batch_size]).items()})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def parity_markdown(report):
    lines = [f"# TFLite parity against Keras", "",
             f"{report['num_images']} images ({report['inputs']}). Per-joint Euclidean differences: "
             "pose_3d in mm, pose_2d in crop pixels.", "",
             "| variant | size (KiB) | pose_3d max (mm) | pose_3d mean (mm) | pose_2d max (px) | pose_2d mean (px) |",
             "|---|---:|---:|---:|---:|---:|"]
    for variant, r in report["variants"].items():
        lines.append(f"| {variant} | {r['size_bytes'] / 1024:.1f} | {r['pose_3d']['max']:.3f} | "
                     f"{r['pose_3d']['mean']:.3f} | {r['pose_2d']['max']:.3f} | {r['pose_2d']['mean']:.3f} |")
    return "\n".join(lines) + "\n"
