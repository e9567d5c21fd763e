"""`kfusion predict IMAGE|DIR|VIDEO ... --out OUT`: 3D pose per image or video frame (JSON + figure)."""
import sys


def add_arguments(parser):
    parser.add_argument("inputs", nargs="+", metavar="IMAGE|DIR|VIDEO", help="image files, folders or videos")
    parser.add_argument("--out", required=True, help="output folder for <name>.json and <name>.png")
    parser.add_argument("--bbox", default=None, metavar="x,y,w,h",
                        help="person box in full-image pixels (default: the centre square)")
    parser.add_argument("--model", default=None, help="export folder, .keras or .tflite (default: the shipped model)")
    parser.add_argument("--backend", default="auto", choices=("auto", "tflite", "savedmodel", "keras"))
    parser.add_argument("--stride", type=int, default=1, help="videos: keep every N-th frame")
    parser.add_argument("--no-figures", action="store_true", help="write only the JSON files")


def run(args):
    from kfusion.export.estimator import load, parse_bbox
    from kfusion.export.predict import list_inputs, predict_paths

    bbox = parse_bbox(args.bbox, "--bbox") if args.bbox else None
    list_inputs(args.inputs)  # an empty folder is refused before the model loads
    estimator = load(args.model, backend=args.backend)
    done, failed = predict_paths(estimator, args.inputs, args.out, bbox=bbox, stride=args.stride,
                                 figures=not args.no_figures)
    if failed and not done:  # nothing came out: the inputs' own error lines above say why
        return 2
    print(f"kfusion predict: {done} prediction(s) in {args.out} ({estimator.backend}: {estimator.source})"
          + (f"; {len(failed)} input(s) failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0
