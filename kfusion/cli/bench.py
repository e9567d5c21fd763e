"""`kfusion bench WHAT`: benchmarks that print markdown tables (they are not tests).

One sub-command per stage; each runs ``<module>.run_bench(args)``.
"""
import importlib

# what -> (module, one-line help)
BENCHES = {
    "data": ("kfusion.bench.data", "rendering and tf.data pipeline rates"),
    "models": ("kfusion.bench.models", "hourglass and fusion latency/throughput, pruned vs unpruned, FLOPs"),
    "export": ("kfusion.bench.export", "end-to-end model as Keras, SavedModel and TFLite"),
    "predict": ("kfusion.bench.predict", "kfusion's predict (detector + model) against BlazePose-full, per image"),
    "video": ("kfusion.bench.video", "kfusion predict VIDEO end to end: frames/s with and without the annotated video"),
}


def add_arguments(parser):
    sub = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    for name, (module, help_text) in BENCHES.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--out", default=None, help="also write the table to this markdown file")
        globals()[f"_add_{name}"](p)


def run(args):
    return importlib.import_module(BENCHES[args.what][0]).run_bench(args)


def _add_data(p):
    p.add_argument("--num", type=int, default=1000, help="images to render / samples to read")
    p.add_argument("--image-size", type=int, default=128)


def _add_models(p):
    p.add_argument("--repeats", type=int, default=20, help="timed batches per measurement")
    p.add_argument("--presets", nargs="+", default=None, metavar="PRESET",
                   help="model presets to measure, of tiny, cpu, paper (default: cpu paper; tiny: a quick check)")


def _add_export(p):
    p.add_argument("--model", default=None, help="exported model folder (default: the shipped one)")
    p.add_argument("--repeats", type=int, default=20)


def _add_predict(p):
    p.add_argument("--images", nargs="+", default=None, metavar="IMAGE",
                   help="images to time (default: the demo photos in kfusion/assets/photos)")
    p.add_argument("--model", default=None, help="exported model folder or .tflite (default: the shipped one)")
    p.add_argument("--peer", default=None, metavar="pose_landmark_full.tflite",
                   help="MediaPipe BlazePose-full (default: ../shared/models/mediapipe/ beside the checkout)")
    p.add_argument("--repeats", type=int, default=20, help="timed calls per image and pipeline, after warm-up")


def _add_video(p):
    p.add_argument("--video", default=None, metavar="VIDEO",
                   help="the video to time (default: ../shared/data/video/street.avi beside the checkout)")
    p.add_argument("--model", default=None, help="exported model folder (default: the shipped one)")
    p.add_argument("--repeats", type=int, default=1, help="runs of each row (the median is shown)")
    p.add_argument("--max-people", type=int, default=None, metavar="N", help="follow at most N people (default 10)")
