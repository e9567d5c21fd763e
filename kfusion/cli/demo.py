"""`kfusion demo`: the shipped model on held-out synthetic renders and real photos -> ./kfusion-demo/."""
import sys


def add_arguments(parser):
    parser.add_argument("--out", default="kfusion-demo", help="output folder (default ./kfusion-demo)")
    parser.add_argument("--model", default=None, help="export folder or model file (default: the shipped model)")
    parser.add_argument("--backend", default="auto", choices=("auto", "tflite", "savedmodel", "keras"))
    parser.add_argument("--num", type=int, default=64, help="held-out synthetic renders to measure")


def run(args):
    from kfusion.runtime.demo import no_model_message, run_demo
    from kfusion.runtime.estimator import default_model_dirs

    if args.model is None and not any(d.exists() for d in default_model_dirs()):
        print(no_model_message(), file=sys.stderr)
        return 2
    run_demo(args.model, args.out, num=args.num, backend=args.backend)
    return 0
