"""`kfusion prepare`."""
import sys


def add_arguments(parser):
    parser.add_argument("rest", nargs="*", help="(not built yet)")


def run(args):
    print("kfusion prepare: not built yet (issue #3 builds it).", file=sys.stderr)
    return 2
