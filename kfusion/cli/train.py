"""`kfusion train`."""
import sys


def add_arguments(parser):
    parser.add_argument("rest", nargs="*", help="(not built yet)")


def run(args):
    print("kfusion train: not built yet (issue #5 builds it).", file=sys.stderr)
    return 2
