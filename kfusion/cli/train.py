"""`kfusion train hourglass|fusion|lifting --config C`: the paper's two-stage recipe."""
import sys
from pathlib import Path

STAGES = ("hourglass", "fusion", "lifting")


def add_arguments(parser):
    parser.add_argument("stage", choices=STAGES, help="what to train")
    parser.add_argument("--config", required=True, help="experiment YAML (configs/*.yaml)")
    parser.add_argument("--hourglass", default=None,
                        help="trained hourglass (.keras, or an end-to-end model such as saved_models/kfusion-synthetic/end_to_end.keras: its hourglass) whose predicted maps feed the fusion/lifting stage "
                             "(default: <output_dir>/hourglass/model.keras)")
    parser.add_argument("--strategy", default=None,
                        help="fusion strategy: trainable, fixed, early, late, free, image_only, cm_only")
    parser.add_argument("--distribute", choices=("default", "mirrored", "multiworker"), default=None,
                        help="tf.distribute strategy (overrides train.distribute)")
    parser.add_argument("--out", default=None, help="run folder (default: the config's output_dir)")
    parser.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set fusion.penalty=1000 (repeatable)")
    parser.add_argument("--logical-cpus", type=int, default=None,
                        help="split the CPU into N logical devices (to run --distribute mirrored without GPUs)")
    parser.add_argument("--profile", action="store_true", help="write a TensorBoard profiler trace of batches 2-4")
    parser.add_argument("--quiet", action="store_true", help="one line per epoch only")


def run(args):
    from kfusion import config as config_mod

    overrides = dict(config_mod.parse_override(s) for s in args.set)
    if args.distribute:
        overrides["train.distribute"] = args.distribute
    if args.strategy:
        overrides["fusion.strategy"] = args.strategy
    cfg = config_mod.load(args.config, overrides)
    run_dir = Path(args.out or cfg["output_dir"])

    from kfusion.train import driver

    driver.train_stage(cfg, args.stage, run_dir, hourglass=args.hourglass, epochs=args.epochs,
                       logical_cpus=args.logical_cpus, profile=args.profile, verbose=2 if args.quiet else 1)
    print(f"kfusion train {args.stage}: done -> {run_dir}", file=sys.stderr)
    return 0
