"""`kfusion export`: one end-to-end ``.keras`` -> a deployable folder, written atomically.

    NAME/
      <version>/saved_model.pb, variables/   TF Serving layout (signature serving_default)
      tflite/kfusion_{float32,float16,int8}.tflite
      end_to_end.keras                       the exported Keras model (safe-mode loadable)
      kfusion.json                           sizes, skeletons, joint names, units, files
      parity.json, parity.md                 TFLite vs Keras on real inputs
      MODEL.md                               the model card

Everything is built in a temporary folder beside ``NAME`` and swapped onto it at the end (a kill
leaves the old export or the new one). What else ``NAME`` held (other ``<version>`` folders, a
user's notes) is kept; replacing an existing export needs ``overwrite=True`` (``--overwrite``).
"""
import itertools
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from kfusion import __version__
from kfusion.errors import KfusionError, one_line
from kfusion.io import umask, replace_dir, write_json, write_text
from kfusion.timing import latency_throughput


def parity_inputs(size, num=16, records=None, seed=12345):
    """Real model inputs uint8 (num, S, S, 3): crops from ``records`` (split ``test``, else the first
    split) or held-out rendered synthetic samples. Returns (images, description)."""
    from kfusion.geometry import crop_image

    if records:
        from kfusion.data.records import iterate_samples, read_manifest

        splits = list(read_manifest(records)["splits"])
        split = "test" if "test" in splits else splits[0]
        samples = list(itertools.islice(iterate_samples(records, split), num))
        desc = f"record crops from {records} ({split})"
    else:
        from kfusion.synthetic.benchmark import iter_samples

        samples = list(iter_samples("test", num, seed=seed, image_size=size, workers=1))
        desc = f"held-out synthetic renders (seed {seed})"
    if not samples:
        raise KfusionError(f"{records}: no samples to measure parity on")
    images = []
    for s in samples:
        img = np.asarray(s["image"], np.uint8)
        if img.shape[:2] != (size, size):
            img = crop_image(img, (0.0, 0.0, float(img.shape[0])), size)
        images.append(img)
    return np.stack(images), desc


# What an export writes at the top of NAME (besides <version>/): only these are replaced.
EXPORT_FILES = ("tflite", "onnx", "end_to_end.keras", "kfusion.json", "parity.json", "parity.md", "MODEL.md")


def check_destination(out, *, overwrite=False):
    """Refuse (one line) an ``out`` that is a file, lies under a file, cannot be created or written,
    or already holds an export (unless ``overwrite``). Creates ``out``'s parent folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise KfusionError(f"--out {out}: is a file; expected a folder for the export")
    if (out / "kfusion.json").is_file() and not overwrite:
        raise KfusionError(f"--out {out}: already holds an exported model; pass --overwrite to replace it "
                           "(files kfusion did not write are kept)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        probe = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        probe.rmdir()
    except OSError as e:
        raise KfusionError(f"--out {out}: cannot write there ({one_line(e)})") from None


def export_model(model_path, out, *, version=1, calibration_data=None, num_parity=16, speed_repeats=10,
                 variants=None, log=None, overwrite=False):
    """Export the end-to-end model at ``model_path`` (``.keras`` or run folder) to ``out``.

    ``overwrite``: replace an export already in ``out`` (else KfusionError). Returns the parity
    report dict (also in ``out/parity.json``).
    """
    log = log or sys.stderr
    check_destination(out, overwrite=overwrite)  # before TensorFlow is imported: a quick refusal
    from kfusion.export import model_card, tflite
    from kfusion.export.runners import keras_model_runner, saved_model_runner
    from kfusion.export.saved_model import (find_end_to_end, load_end_to_end, model_info, signature_summary,
                                            write_saved_model)
    from kfusion.models import uncompiled
    from kfusion.models import save_model

    out = Path(out)
    version = int(version)
    if version < 1:
        raise KfusionError(f"--version {version}: expected a positive integer")
    variants = tuple(variants or tflite.VARIANTS)
    source = find_end_to_end(model_path)
    model = load_end_to_end(source)
    info = model_info(model)
    for stale in out.parent.glob(f".{out.name}.*"):  # half-built folders of an export that was killed
        if stale.is_dir():
            print(f"kfusion export: removing {stale} (left by an interrupted export)", file=log)
            shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        print(f"kfusion export: SavedModel -> {out / str(version)}", file=log)
        saved = write_saved_model(model, tmp / str(version))
        sig = signature_summary(saved)
        save_model(uncompiled(model), tmp / "end_to_end.keras")
        images, desc = parity_inputs(info["input_size"], num_parity, calibration_data)
        reference = tflite.run_batched(lambda x: {k: v.numpy() for k, v in model(x, training=False).items()},
                                       images)
        report = {"num_images": int(len(images)), "inputs": desc, "variants": {}}
        speeds = {"Keras": latency_throughput(keras_model_runner(model), info["input_size"], speed_repeats),
                  "SavedModel": latency_throughput(saved_model_runner(saved)[0], info["input_size"],
                                                   speed_repeats)}
        files = {f"{version}/ (SavedModel)": saved, "end_to_end.keras": tmp / "end_to_end.keras"}
        for variant in variants:
            name = tflite.tflite_name(variant)
            print(f"kfusion export: TFLite {variant} -> {out / 'tflite' / name}", file=log)
            path = tflite.write_tflite(saved, tmp / "tflite" / name, variant)
            runner = tflite.TFLiteRunner(path)
            report["variants"][variant] = {**tflite.parity(reference, tflite.run_batched(runner, images)),
                                           "size_bytes": path.stat().st_size, "file": f"tflite/{name}"}
            speeds[f"TFLite {variant}"] = latency_throughput(runner, info["input_size"], speed_repeats)
            files[f"tflite/{name}"] = path
        report["onnx"] = _onnx_note(saved, tmp)
        write_json(tmp / "parity.json", report)
        write_text(tmp / "parity.md", tflite.parity_markdown(report))
        meta = {"format": "kfusion-export", "format_version": 1, "kfusion_version": __version__,
                "model_version": version, "source": str(source), **info,
                "training_data": model_card.training_data(model_card.find_config(source)),
                "signature": {"name": "serving_default", **sig},
                "units": {"pose_3d": "mm, camera frame (x right, y down, z forward), root-relative",
                          "pose_2d": "pixels of the input crop, corner convention",
                          "confidence": "peak value of the confidence map"},
                "tflite": {v: f"tflite/{tflite.tflite_name(v)}" for v in variants}}
        write_json(tmp / "kfusion.json", meta)
        files.update({"kfusion.json": tmp / "kfusion.json", "parity.json": tmp / "parity.json"})
        model_card.write_model_card(
            tmp / "MODEL.md", out.name, info, source=source, parity=report, speeds=speeds,
            files={k: v for k, v in files.items()}, results_path=model_card.find_results(source),
            config_path=model_card.find_config(source))
        _carry_over(out, tmp)
        tmp.chmod(0o777 & ~umask())  # mkdtemp makes a private folder; an export is shared as usual
        replace_dir(tmp, out)
    except Exception as e:  # disk full, quota, a folder made read-only meanwhile (OSError, or TF's own)
        if not (isinstance(e, OSError) or type(e).__module__.startswith("tensorflow")
                and any(w in str(e) for w in ("File too large", "No space left", "Read-only", "Permission denied"))):
            raise
        raise KfusionError(f"--out {out}: cannot write the export ({one_line(e, 60)}); nothing was changed") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report


def _onnx_note(saved, tmp):
    try:
        import tf2onnx  # noqa: F401
    except ImportError:
        return "skipped: tf2onnx is not installed (pip install tf2onnx to also export ONNX)"
    import subprocess

    target = tmp / "onnx" / "kfusion.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(saved), "--output",
                           str(target)], capture_output=True, text=True)
    return "onnx/kfusion.onnx" if done.returncode == 0 else f"failed: {done.stderr.strip().splitlines()[-1:]}"


def _carry_over(out, tmp):
    """Link into ``tmp`` what ``out`` holds that this export did not rebuild (other versions, a user's
    files): the swap replaces only what kfusion writes."""
    if not out.is_dir():
        return
    for p in out.iterdir():
        target = tmp / p.name
        if target.exists() or p.name in EXPORT_FILES:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.copytree(p, target, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(p, target)


def _link_or_copy(src, dst):
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)
    return dst
