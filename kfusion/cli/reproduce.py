"""`kfusion reproduce --preset quick|full --out R`: the paper's comparisons on the synthetic benchmark;
with ``--curves 12,36,72``, learning curves of the fusion strategies instead."""
from kfusion.errors import KfusionError

CURVES_ONLY = ("variants", "until", "hours", "hourglass", "report_only")


def add_arguments(parser):
    parser.add_argument("--preset", choices=("quick", "full", "smoke"), default="quick",
                        help="quick: <= 30 min on a 2-core CPU; full: for a GPU; smoke: a minutes-long check")
    parser.add_argument("--out", default=None, help="run folder (resumable; default runs/reproduce, "
                                                    "with --curves runs/curves)")
    parser.add_argument("--config", default="configs/synthetic.yaml", help="base config the preset overrides")
    parser.add_argument("--workers", type=int, default=None, help="rendering processes")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key after the preset, e.g. --set data.root=../shared/data/h36m")
    parser.add_argument("--seeds", type=int, default=1,
                        help="train every fusion network with this many seeds; Table 5 gives mean +- std")
    parser.add_argument("--report-dir", default=None,
                        help="also copy the report, its JSON and figures here (e.g. docs/results)")
    curves = parser.add_argument_group("learning curves (kfusion/experiments/curves.py)")
    curves.add_argument("--curves", nargs="?", const="12,36,72", default=None, metavar="EPOCHS",
                        help="train each fusion variant and seed once to the largest budget, measured on the test "
                             "split at each (default 12,36,72); writes learning-curves.md")
    curves.add_argument("--variants", default=None, metavar="KEYS",
                        help="with --curves: some of early,late,trainable,free,settle-0.8,settle-off,paper (default all); "
                             "the report keeps the variants of earlier runs in the same folder")
    curves.add_argument("--until", type=int, default=None, metavar="EPOCHS",
                        help="with --curves: train no budget beyond this one now (the same command later goes on)")
    curves.add_argument("--hours", type=float, default=None,
                        help="with --curves: start no run that would end after this many hours (by the epochs' "
                             "times so far)")
    curves.add_argument("--hourglass", default=None, metavar="PATH.keras",
                        help="with --curves: a trained hourglass (no rendering, no hourglass training; the caches "
                             "come from data.records unless the run folder's cache/ has them)")
    curves.add_argument("--report-only", action="store_true",
                        help="with --curves: rewrite the report from the run folder, train nothing")


def run(args):
    from kfusion import config as config_mod

    overrides = dict(config_mod.parse_override(s) for s in args.set)
    if args.curves is None:
        given = [f"--{name.replace('_', '-')}" for name in CURVES_ONLY if getattr(args, name) not in (None, False)]
        if given:
            raise KfusionError(f"{', '.join(given)}: only with --curves")
        from kfusion.experiments import reproduce

        reproduce.run(args.preset, args.out or "runs/reproduce", args.config, workers=args.workers,
                      report_dir=args.report_dir, overrides=overrides, seeds=args.seeds)
        return 0
    from kfusion.experiments import curves

    out = args.out or "runs/curves"
    if args.report_only:
        curves.report(out, args.report_dir)
        return 0
    curves.run(args.preset, out, args.config, budgets=curves.parse_budgets(args.curves), seeds=args.seeds,
               variants=args.variants, until=args.until, hours=args.hours, hourglass=args.hourglass,
               workers=args.workers, report_dir=args.report_dir, overrides=overrides)
    return 0
