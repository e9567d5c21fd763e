"""`kfusion reproduce --preset quick|full --out R`: the paper's comparisons on the synthetic benchmark."""


def add_arguments(parser):
    parser.add_argument("--preset", choices=("quick", "full", "smoke"), default="quick",
                        help="quick: <= 30 min on a 2-core CPU; full: for a GPU; smoke: a minutes-long check")
    parser.add_argument("--out", default="runs/reproduce", help="run folder (resumable)")
    parser.add_argument("--config", default="configs/synthetic.yaml", help="base config the preset overrides")
    parser.add_argument("--workers", type=int, default=None, help="rendering processes")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key after the preset, e.g. --set data.root=../shared/data/h36m")
    parser.add_argument("--seeds", type=int, default=1,
                        help="train every fusion network with this many seeds; Table 5 gives mean +- std")
    parser.add_argument("--report-dir", default=None,
                        help="also copy report.md, results.json and the figures here (e.g. docs/results)")


def run(args):
    from kfusion import config as config_mod
    from kfusion.experiments import reproduce

    overrides = dict(config_mod.parse_override(s) for s in args.set)
    reproduce.run(args.preset, args.out, args.config, workers=args.workers, report_dir=args.report_dir,
                  overrides=overrides, seeds=args.seeds)
    return 0
