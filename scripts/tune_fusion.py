#!/usr/bin/env python
"""Search lambda and the initial beta of the trainable fusion with keras-tuner, through kfusion's API.

    python scripts/tune_fusion.py --run runs/fit --trials 10 --epochs 5
    python scripts/tune_fusion.py --run /tmp/fit --trials 2 --epochs 1      # on a --preset tiny run

RUN is a folder of ``scripts/train_fusion_with_fit.py`` (or ``kfusion train``): ``config.json`` and
the heatmap caches ``cache/{train_split,val_split}.npz``. keras-tuner's ``RandomSearch`` draws lambda
(``fusion.penalty``, log scale) and the initial beta (``fusion.beta_init``, 0 .. L - 1 for L fusion
blocks); each trial builds the config's fusion network with them (``kfusion.train.fusion_stage``),
compiles it with kfusion's training step and fits it on ``kfusion.data.fusion_dataset`` with the
fusion trace as a callback. The objective is the best epoch's validation MPJPE (mm).

Writes in OUT (default RUN/tune-script): ``tuner/`` (keras-tuner's state: a rerun with more
``--trials`` resumes), ``traces/`` (one fusion trace per trial), ``trials.json`` (best first) and
``best_config.yaml`` (train it with ``kfusion train fusion --config OUT/best_config.yaml``).
``kfusion tune`` (``kfusion/experiments/tune.py``) is the same search with tables and distribution.
"""
import argparse
import json
import math
from pathlib import Path

from kfusion import config, data, logfilter, models, train
from kfusion.io import write_json, write_text


def trial_config(cfg, penalty, beta_init):
    """``cfg`` with one trial's lambda and initial beta (the trainable fusion)."""
    for key, value in (("fusion.strategy", "trainable"), ("fusion.penalty", penalty),
                       ("fusion.beta_init", beta_init)):
        cfg = config.override(cfg, key, value)
    return config.from_dict(cfg, origin="trial config")


def make_hypermodel(cfg, train_cache, val_cache, penalty_range, traces):
    import keras_tuner

    # L: one fusion weight per block of the config's network
    num_blocks = len(models.fusion_weights(train.build_fusion_from_config(cfg, "trainable"))["weights"])

    class FusionHyperModel(keras_tuner.HyperModel):
        def build(self, hp):
            penalty = hp.Float("penalty", *penalty_range, sampling="log")
            beta_init = hp.Float("beta_init", 0.0, float(num_blocks - 1))
            stage = train.fusion_stage(trial_config(cfg, penalty, beta_init), train_cache, val_cache)
            return stage.compile(stage.build())  # TrainingModel: pose_loss + lambda / alpha^2, MPJPE

        def fit(self, hp, model, *args, **kwargs):
            name = f"penalty-{hp.get('penalty'):.4g}_beta-{hp.get('beta_init'):.3f}.json"
            kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [train.FusionTrace(traces / name)]
            return model.fit(data.fusion_dataset(train_cache, cfg, training=True),
                             validation_data=data.fusion_dataset(val_cache, cfg, training=False), **kwargs)

    return FusionHyperModel(name="fusion")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="a training run folder: config.json, cache/*.npz")
    parser.add_argument("--out", help="output folder (default RUN/tune-script)")
    parser.add_argument("--trials", type=int, default=10, help="trials in all (a rerun resumes)")
    parser.add_argument("--epochs", type=int, help="epochs per trial (default fusion.epochs)")
    parser.add_argument("--penalty-range", type=float, nargs=2, default=(1e2, 1e5), metavar=("LOW", "HIGH"),
                        help="lambda, searched on a log scale (data loss in mm^2)")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    args = parser.parse_args(argv)
    logfilter.install()  # TensorFlow's start-up chatter off stderr (KFUSION_RAW_STDERR=1 keeps it)

    import keras_tuner

    run = Path(args.run)
    out = Path(args.out or run / "tune-script")
    cfg = config.from_dict(json.loads((run / "config.json").read_text()), origin=str(run / "config.json"))
    train_cache = data.HeatmapCache.load(run / "cache" / f"{cfg['data']['train_split']}.npz")
    val_cache = data.HeatmapCache.load(run / "cache" / f"{cfg['data']['val_split']}.npz")

    tuner = keras_tuner.RandomSearch(
        make_hypermodel(cfg, train_cache, val_cache, tuple(args.penalty_range), out / "traces"),
        objective=keras_tuner.Objective("val_mpjpe", "min"), max_trials=args.trials, seed=cfg["seed"],
        directory=str(out / "tuner"), project_name="fusion", overwrite=False)
    tuner.search(epochs=args.epochs or cfg["fusion"]["epochs"], verbose=args.verbose)

    trials = sorted(({"trial": t.trial_id, "val_mpjpe_mm": t.score, **t.hyperparameters.values}
                     for t in tuner.oracle.trials.values()),
                    key=lambda r: r["val_mpjpe_mm"] if r["val_mpjpe_mm"] is not None else math.inf)
    write_json(out / "trials.json", {"objective": "val_mpjpe (mm), best epoch", "trials": trials})
    print("| trial | val MPJPE (mm) | lambda | initial beta |\n|---|---:|---:|---:|")
    for r in trials:
        score = "-" if r["val_mpjpe_mm"] is None else f"{r['val_mpjpe_mm']:.1f}"
        print(f"| {r['trial']} | {score} | {r['penalty']:.4g} | {r['beta_init']:.3f} |")
    best = tuner.get_best_hyperparameters(1)[0]
    best_cfg = trial_config(cfg, best.get("penalty"), best.get("beta_init"))
    write_text(out / "best_config.yaml", config.dump(best_cfg))
    print(f"best: lambda {best.get('penalty'):.4g}, initial beta {best.get('beta_init'):.3f} -> "
          f"{out / 'best_config.yaml'}")
    return trials


if __name__ == "__main__":
    main()
