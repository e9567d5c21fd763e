"""`kfusion predict IMAGE|DIR|VIDEO ... --out OUT`: the people in each image and every person followed
through each video, in 3D (JSON / JSON lines + figures, annotated videos, optionally BVH)."""
import sys


def add_arguments(parser):
    parser.add_argument("inputs", nargs="+", metavar="IMAGE|DIR|VIDEO", help="image files, folders or videos")
    parser.add_argument("--out", required=True,
                        help="output folder for <name>.json (images), <name>.jsonl and <name>.mp4 (videos) "
                             "and figures")
    parser.add_argument("--bbox", default=None, metavar="x,y,w,h",
                        help="person box in full-image pixels, used for every image and frame "
                             "(default: the person detector finds the people)")
    parser.add_argument("--max-people", type=int, default=None, metavar="N",
                        help="keep at most the N best people the detector finds in an image, follow at most N "
                             "at once in a video (default: all found, up to 10)")
    parser.add_argument("--min-confidence", type=float, default=None, metavar="C",
                        help="videos: a track whose crop's mean joint confidence falls below C weakens and the "
                             "detector looks for it again (default: the model's calibrated value, "
                             "kfusion.json tracking.min_confidence; see `kfusion calibrate`)")
    parser.add_argument("--bvh", default=None, metavar="FILE.bvh",
                        help="write the 3D motion of each person followed through the (one) video as "
                             "FILE_track<id>.bvh (Blender imports it)")
    parser.add_argument("--bvh-units", default="cm", choices=("cm", "m", "mm"),  # kfusion.runtime.motion.BVH_UNITS
                        help="length unit of the BVH files, named in their header comment (default cm); "
                             "Blender's importer reads one unit as one metre: import cm with Scale 0.01")
    parser.add_argument("--model", default=None, help="export folder, .keras or .tflite (default: the shipped model)")
    parser.add_argument("--backend", default="auto", choices=("auto", "tflite", "savedmodel", "keras"))
    parser.add_argument("--stride", type=int, default=1, help="videos: keep every N-th frame")
    parser.add_argument("--no-figures", action="store_true", help="write only the JSON files")
    parser.add_argument("--no-video", action="store_true",
                        help="videos: do not write <name>.mp4, the frames with the people drawn")
    parser.add_argument("--frames", action="store_true",
                        help="videos: also write each annotated frame as <name>_f<frame>.png")


def run(args):
    from kfusion.errors import KfusionError
    from kfusion.runtime.estimator import load, parse_bbox
    from kfusion.runtime.predict import list_inputs, predict_paths

    bbox = parse_bbox(args.bbox, "--bbox") if args.bbox else None
    if args.max_people is not None and args.max_people < 1:
        raise KfusionError(f"--max-people {args.max_people}: expected a whole number >= 1")
    if args.min_confidence is not None and not 0.0 <= args.min_confidence <= 1.0:
        raise KfusionError(f"--min-confidence {args.min_confidence}: expected a mean joint confidence in [0, 1]")
    items = list_inputs(args.inputs)  # an empty folder is refused before the model loads
    videos = sum(kind == "video" for kind, _ in items)
    if args.bvh and videos != 1:
        raise KfusionError(f"--bvh {args.bvh}: expected exactly one video among the inputs, got {videos}")
    estimator = load(args.model, backend=args.backend)
    done, failed = predict_paths(estimator, args.inputs, args.out, bbox=bbox, stride=args.stride,
                                 figures=not args.no_figures, max_people=args.max_people,
                                 min_confidence=args.min_confidence, bvh=args.bvh,
                                 bvh_units=args.bvh_units,
                                 video=not args.no_video, frames=args.frames)
    if failed and not done:  # nothing came out: the inputs' own error lines above say why
        return 2
    print(f"kfusion predict: {done} image(s)/frame(s) in {args.out} ({estimator.backend}: {estimator.source})"
          + (f"; BVH {args.bvh[:-4] if args.bvh.endswith('.bvh') else args.bvh}_track<id>.bvh"
             if args.bvh and not failed else "")
          + (f"; {len(failed)} input(s) failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0
