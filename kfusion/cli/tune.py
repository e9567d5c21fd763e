"""`kfusion tune --config C --trials N`: keras-tuner search over lambda and the initial beta."""
import sys
from pathlib import Path


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="experiment YAML (configs/*.yaml)")
    parser.add_argument("--trials", type=int, required=True,
                        help="number of trials in all (a resumed search adds the missing ones)")
    parser.add_argument("--out", default=None, help="output folder (default: <output_dir>/tune)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per trial (default: fusion.epochs)")
    parser.add_argument("--objective", default="val_mpjpe", choices=("val_mpjpe", "val_loss", "mpjpe", "loss"),
                        help="the metric to minimise (val_mpjpe: validation MPJPE, mm)")
    parser.add_argument("--algorithm", default="random", choices=("random", "bayesian"),
                        help="search algorithm (bayesian needs scikit-learn)")
    parser.add_argument("--tune-alpha", action="store_true", help="also search the initial alpha (fusion.alpha_init)")
    parser.add_argument("--hourglass", default=None,
                        help="trained hourglass whose predicted maps the trials fit on "
                             "(default: <output_dir>/hourglass/model.keras)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set fusion.batch_size=32 (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="less output per trial")


def run(args):
    from kfusion import config as config_mod

    cfg = config_mod.load(args.config, dict(config_mod.parse_override(s) for s in args.set))
    run_dir = Path(cfg["output_dir"])
    out = Path(args.out) if args.out else run_dir / "tune"

    from kfusion.train import driver
    from kfusion.experiments import tune

    splits = [cfg["data"]["train_split"], cfg["data"]["val_split"]]
    caches = driver.caches(cfg, run_dir, Path(args.hourglass or run_dir / "hourglass" / "model.keras"), splits)
    result = tune.search(cfg, caches[splits[0]], caches[splits[1]], out, trials=args.trials, epochs=args.epochs,
                         objective=args.objective, algorithm=args.algorithm, tune_alpha=args.tune_alpha,
                         verbose=2 if args.quiet else 1)
    if result is None:
        print("kfusion tune: worker done", file=sys.stderr)
        return 0
    print((out / "trials.md").read_text(), end="")
    print(f"kfusion tune: best config -> {out / 'best_config.yaml'}", file=sys.stderr)
    return 0
