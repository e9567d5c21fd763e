"""`kfusion calibrate MODEL_DIR VIDEO|IMAGE|DIR ...`: measure an exported model's joint confidences on
real people and store the video tracker's threshold in the model's ``kfusion.json``."""
import sys


def add_arguments(parser):
    parser.add_argument("model", metavar="MODEL_DIR",
                        help="an export folder (kfusion export) whose kfusion.json gets tracking.min_confidence")
    parser.add_argument("inputs", nargs="+", metavar="VIDEO|IMAGE|DIR",
                        help="real videos, photographs or folders of them, with people in them")
    parser.add_argument("--stride", type=int, default=5, help="videos: use every N-th frame (default 5)")
    parser.add_argument("--backend", default="auto", choices=("auto", "tflite", "savedmodel", "keras"))
    parser.add_argument("--dry-run", action="store_true", help="print the measurement, leave kfusion.json as it is")


def run(args):
    import json
    from pathlib import Path

    from kfusion.errors import KfusionError
    from kfusion.images import read_image
    from kfusion.io import read_json, write_json
    from kfusion.runtime.estimator import METADATA, load
    from kfusion.runtime.predict import list_inputs
    from kfusion.runtime.tracking import calibrate_min_confidence
    from kfusion.video import read_frames

    folder = Path(args.model)
    meta_path = folder / METADATA
    if not meta_path.is_file():
        raise KfusionError(f"{folder}: no {METADATA} (expected an export folder written by `kfusion export`)")
    if args.stride < 1:
        raise KfusionError(f"--stride {args.stride}: expected a whole number >= 1")
    items = list_inputs(args.inputs)
    estimator = load(folder, backend=args.backend)

    def images():  # one frame in memory at a time
        for kind, path in items:
            if kind == "image":
                yield read_image(path)
            else:
                yield from (frame for _, frame in read_frames(path, stride=args.stride))

    report = calibrate_min_confidence(estimator, images())
    report["inputs"] = [str(p) for _, p in items]
    report["command"] = "kfusion calibrate " + " ".join([str(folder), *map(str, args.inputs)]
                                                        + ([f"--stride {args.stride}"] if args.stride != 5 else []))
    print(json.dumps(report, indent=1))
    if not args.dry_run:
        meta = read_json(meta_path)
        meta["tracking"] = report
        write_json(meta_path, meta)
        print(f"kfusion calibrate: tracking.min_confidence {report['min_confidence']} written to {meta_path}",
              file=sys.stderr)
    return 0
