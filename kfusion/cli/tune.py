"""`kfusion tune`."""
import sys


def add_arguments(parser):
    parser.add_argument("rest", nargs="*", help="(not built yet)")


def run(args):
    print("kfusion tune: not built yet (issue #8 builds it).", file=sys.stderr)
    return 2
