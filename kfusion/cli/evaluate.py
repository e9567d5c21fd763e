"""`kfusion evaluate --model M --data D`: errors overall and per action, as markdown and JSON."""
import sys
from pathlib import Path

PROTOCOLS = ("synthetic", "h36m", "humaneva", "kth", "lsp", "coco", "real3d")
PHOTO_PROTOCOLS = ("lsp", "coco", "real3d")  # real photographs through the estimator, optionally beside --peer


def add_arguments(parser):
    parser.add_argument("--model", required=True,
                        help="an end-to-end model: a .keras file (uint8 image -> pose_3d) or an exported folder")
    parser.add_argument("--data", required=True, help="records folder (with manifest.json), or a pose-pair "
                        "folder (kfusion prepare h36m without videos) for a lifting model")
    parser.add_argument("--split", default="test", help="which split to evaluate (default: test; lsp: val = "
                        "images 4501-5000 to choose settings on, test = the held-out 5001-6000)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="synthetic",
                        help="which tables to print: synthetic (per action), h36m (Tables 1-2), "
                             "humaneva (Table 3), kth (Table 4), lsp (real photographs: --data is an "
                             "LSP-extended folder, held-out images 5001-6000, PCK@0.2), coco (--data: COCO "
                             "person_keypoints.json + images/, PCK@0.2, also on the person detector's crops), "
                             "real3d (--data: the real3d folder of Human3.6M and MPI-INF-3DHP frames with true 3D: "
                             "MPJPE, PA-MPJPE, 2D error per frame)")
    parser.add_argument("--peer", default=None,
                        help="lsp, coco, real3d: also run MediaPipe BlazePose-full (pose_landmark_full.tflite) "
                             "on the same crops, its 2D landmarks and its 3D world landmarks")
    parser.add_argument("--out", default=None, help="folder for evaluation.md/.json (default: beside the model)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int, default=None, help="evaluate at most this many samples (lsp, coco: "
                        "images; real3d: frames)")


def run(args):
    if args.protocol in PHOTO_PROTOCOLS:
        return _run_photos(args)
    from kfusion.data import posepairs
    from kfusion.eval import evaluate
    from kfusion.export.runners import load_keras_or_saved

    pairs = posepairs.is_pose_pairs(args.data)
    if not pairs:
        from kfusion.data.records import check_split

        check_split(args.data, args.split)  # before the model loads: bad records are a quick refusal
    model = load_keras_or_saved(args.model)
    if pairs:
        pred, gt, meta = evaluate.predict_pose_pairs(model, args.data, args.split, limit=args.limit)
        skeleton = posepairs.read_manifest(args.data)["skeleton"]
    else:
        from kfusion.data.records import read_manifest

        pred, gt, meta = evaluate.predict_records(model, args.data, args.split, batch_size=args.batch_size,
                                                  limit=args.limit)
        skeleton = read_manifest(args.data)["skeleton"]
    out_dir = Path(args.out or Path(args.model).parent)
    if args.protocol == "synthetic":
        from kfusion import skeletons

        root = skeletons.get(skeleton).root
        summary, table = evaluate.summarize(pred, gt, meta["action"], meta["subject"], root=root)
        md = evaluate.write_report(summary, table, out_dir, title=f"kfusion evaluate: {args.data} ({args.split})")
    else:
        from kfusion.eval import protocols

        md = protocols.write_protocol_report(args.protocol, pred, gt, meta, out_dir)
    print(md)
    print(f"kfusion evaluate: wrote {out_dir}/evaluation.md and .json", file=sys.stderr)
    return 0


def _run_photos(args):
    """``--protocol lsp|coco|real3d``: kfusion (and ``--peer``) on real photographs (``kfusion.eval.photos``,
    ``kfusion.eval.real3d``)."""
    from kfusion.errors import KfusionError
    from kfusion.eval import photos, real3d
    from kfusion.peers import BlazePoseFull
    from kfusion.runtime.estimator import load
    from kfusion.io import write_json, write_text

    if args.protocol == "lsp" and args.split not in photos.SPLITS:
        raise KfusionError(f"--split {args.split!r}: protocol lsp has the splits {sorted(photos.SPLITS)}")
    if args.limit is not None and args.limit < 1:
        raise KfusionError(f"--limit {args.limit}: expected a whole number >= 1")
    estimator = load(args.model)
    peer = BlazePoseFull(args.peer) if args.peer else None
    if args.protocol == "lsp":
        first, last = photos.SPLITS[args.split]
        if args.limit:
            last = min(last, first + int(args.limit))
        result = photos.evaluate(estimator, args.data, peer=peer, first=first, last=last, log=sys.stderr)
    elif args.protocol == "coco":
        result = photos.evaluate_coco(estimator, args.data, peer=peer, limit=args.limit, log=sys.stderr)
    else:
        result = real3d.evaluate(estimator, args.data, peer=peer, limit=args.limit, log=sys.stderr)
    out_dir = Path(args.out or f"runs/evaluate-{args.protocol}")  # not into the model's folder: it may be a shipped one
    md = f"# kfusion evaluate: protocol {args.protocol} ({args.model})\n\n{result['markdown']}\n"
    write_text(out_dir / "evaluation.md", md)
    write_json(out_dir / "evaluation.json", {k: v for k, v in result.items() if k != "markdown"})
    print(md)
    print(f"kfusion evaluate: wrote {out_dir}/evaluation.md and .json", file=sys.stderr)
    return 0
