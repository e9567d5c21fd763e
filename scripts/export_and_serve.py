#!/usr/bin/env python
"""Export a trained end-to-end model (SavedModel + TFLite), load it back and predict, then print how
to serve it with TensorFlow Serving.

    python scripts/export_and_serve.py --model runs/fit/end_to_end.keras --out saved_models/fit
    python scripts/export_and_serve.py --model runs/fit/end_to_end.keras --out /tmp/fit-export \
        --variants float32 --num-parity 4 --image photo.jpg --bbox 280,44,218,346

``--model``: an ``end_to_end.keras`` (``scripts/train_fusion_with_fit.py`` or ``kfusion train
fusion`` writes one) or a run folder. The export is ``kfusion.export.package.export_model``, the same
as ``kfusion export`` (layout in the README, "Export and serving"); the model is then loaded with
``kfusion.load(OUT)`` (TFLite float32 first) and with the SavedModel backend, and both predict the
3D pose of ``--image`` (default: a held-out synthetic render). Writes ``OUT`` (the export),
``OUT.request.json`` (a TF Serving REST request with the model's input crop) and, with
``--prediction PATH``, the prediction as JSON.
"""
import argparse
import json
from pathlib import Path

import numpy as np

import kfusion
from kfusion import logfilter
from kfusion.io import write_json, write_text

SERVE = """docker run --rm -p 8501:8501 \\
  -v "{folder}:/models/kfusion" -e MODEL_NAME=kfusion tensorflow/serving
curl -s -X POST localhost:8501/v1/models/kfusion:predict -d @{request}"""


def held_out_image(size, seed=12345):
    """One held-out synthetic render (test split), uint8 (size, size, 3)."""
    from kfusion.synthetic.benchmark import iter_samples

    return np.asarray(next(iter_samples("test", 1, seed=seed, image_size=size, workers=1))["image"], np.uint8)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="an end_to_end.keras or a run folder")
    parser.add_argument("--out", required=True, help="the export folder (saved_models/NAME)")
    parser.add_argument("--version", type=int, default=1, help="the SavedModel version folder (TF Serving)")
    parser.add_argument("--variants", nargs="+", default=["float32", "float16", "int8"],
                        choices=["float32", "float16", "int8"], help="TFLite variants")
    parser.add_argument("--num-parity", type=int, default=16, help="images of the TFLite parity check")
    parser.add_argument("--speed-repeats", type=int, default=10, help="timed calls per backend (model card)")
    parser.add_argument("--image", help="an image to predict (default: a held-out synthetic render)")
    parser.add_argument("--bbox", help="person box x,y,w,h in image pixels (default: the centre square)")
    parser.add_argument("--prediction", help="write the prediction here as JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace an export already in OUT")
    args = parser.parse_args(argv)
    logfilter.install()  # TensorFlow's start-up chatter off stderr (KFUSION_RAW_STDERR=1 keeps it)

    from kfusion.runtime.estimator import parse_bbox
    from kfusion.export.package import export_model

    out = Path(args.out).resolve()
    # 1. export: <version>/ SavedModel, tflite/, end_to_end.keras, kfusion.json, parity, model card
    report = export_model(args.model, out, version=args.version, num_parity=args.num_parity,
                          speed_repeats=args.speed_repeats, variants=args.variants, overwrite=args.overwrite)
    for variant, r in report["variants"].items():
        print(f"TFLite {variant}: {r['size_bytes'] / 1024:.0f} KiB, pose_3d vs Keras max "
              f"{r['pose_3d']['max']:.3f} mm over {report['num_images']} images")

    # 2. load it back (TFLite float32 first) and predict; the SavedModel (what TF Serving runs) too
    estimator = kfusion.load(out)
    image = args.image or held_out_image(2 * estimator.input_size)
    bbox = parse_bbox(args.bbox) if args.bbox else "center"  # a held-out render fills its square
    result = estimator.predict(image, bbox=bbox)
    saved = kfusion.load(out, backend="savedmodel").predict(image, bbox=bbox)
    gap = float(np.abs(result["pose_3d"] - saved["pose_3d"]).max())
    joints = ", ".join(f"{name} ({x:.0f}, {y:.0f}, {z:.0f})"
                       for name, (x, y, z) in zip(result["joints_3d"][1:4], result["pose_3d"][1:4]))
    print(f"{estimator}: pose_3d (mm, camera frame, root-relative) {joints} ...; "
          f"the SavedModel's differs by at most {gap:.3f} mm")
    if args.prediction:
        write_json(args.prediction, {
            "backend": estimator.backend, "pose_3d_mm": result["pose_3d"].tolist(),
            "pose_2d_px": result["pose_2d"].tolist(), "confidence": result["confidence"].tolist(),
            "joints_3d": result["joints_3d"], "joints_2d": result["joints_2d"],
            "savedmodel_max_difference_mm": gap})

    # 3. serving: a REST request with this crop, and the TF Serving command (README, "Export and serving")
    request = out.with_name(f"{out.name}.request.json")
    write_text(request, json.dumps({"signature_name": "serving_default",
                                    "instances": [{"image": result["crop"].tolist()}]}))
    print("Serve it with TensorFlow Serving (REST on port 8501):\n" + SERVE.format(folder=out, request=request))
    return result


if __name__ == "__main__":
    main()
