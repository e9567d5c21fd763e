"""`kfusion export`."""
import sys


def add_arguments(parser):
    parser.add_argument("rest", nargs="*", help="(not built yet)")


def run(args):
    print("kfusion export: not built yet (issue #6 builds it).", file=sys.stderr)
    return 2
