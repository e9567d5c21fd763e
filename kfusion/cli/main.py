"""The ``kfusion`` command: every sub-command is registered once, in ``COMMANDS``.

Each sub-command lives in ``kfusion/cli/<name>.py`` with ``add_arguments(parser)`` and
``run(args) -> int``. Those modules import TensorFlow only inside ``run``, so ``kfusion --help``
and ``kfusion --version`` stay fast.
"""
import argparse
import importlib
import sys

from kfusion import __version__
from kfusion.errors import KfusionError

# name -> one-line help. The module is kfusion.cli.<name>.
COMMANDS = {
    "prepare": "make training records: the synthetic benchmark or a real dataset",
    "train": "train the hourglass, a fusion network or the lifting baseline",
    "evaluate": "measure a model on records (MPJPE, PA-MPJPE, PCK3D/AUC, per action)",
    "predict": "3D pose from images, a folder or a video",
    "export": "export an end-to-end model: SavedModel (TF Serving), TFLite, model card",
    "calibrate": "measure a model's joint confidences on real people: the video tracker's threshold",
    "bench": "benchmarks: data rates, model latency and throughput",
    "tune": "keras-tuner search over lambda and the initial beta",
    "reproduce": "reproduce the paper's comparisons on the synthetic benchmark",
    "demo": "run the shipped model on held-out synthetic data and real photos",
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="kfusion",
        description="Monocular 3D human pose estimation with trainable fusion of 2D joint "
        "confidence maps and image cues (Tekin et al., ICCV 2017).",
    )
    parser.add_argument("--version", action="version", version=f"kfusion {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"kfusion.cli.{name}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if argv is None:  # the real command line, not a call from Python (tests, notebooks)
        from kfusion import logfilter

        logfilter.install()
    try:
        return int(args._module.run(args) or 0)
    except KfusionError as e:
        print(f"kfusion {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kfusion {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
