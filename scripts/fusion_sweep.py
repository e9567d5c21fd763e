#!/usr/bin/env python
"""Train the trainable fusion network under several settings on an existing run's heatmap caches.

Prints, per setting, the last validation MPJPEs (mm), the final alpha, beta and fusion weights, how
far the pruned network is from the trained one (when its weights allow pruning), and the time. Used
to find out what makes the fusion sharp (docs/results/report.md), e.g.:

    python scripts/fusion_sweep.py runs/quick "fusion.penalty=5000" "fusion.penalty=500000" \
        "fusion.penalty=50000000;fusion.alpha_learning_rate=0.05;fusion.settle_at=0.5"

docs/results/h36m/sharp-trainable.json is this on the Human3.6M-motion run's caches with the
settings of configs/h36m-render.yaml:

    python scripts/fusion_sweep.py runs/h36m-repro \
        "fusion.penalty=50000000;fusion.alpha_learning_rate=0.05;fusion.settle_at=0.5"

A setting is ``key=value`` pairs joined by ``;`` (values read as YAML); ``strategy=S`` picks the
fusion strategy. Results go to ``<run>/sweep/<setting>/``.
"""
import argparse
import json
import time
from pathlib import Path

from kfusion import config
from kfusion.data import cache as cache_lib
from kfusion.train import driver


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="a `kfusion reproduce` run folder (config.json, cache/train.npz, cache/test.npz)")
    parser.add_argument("settings", nargs="+", help="e.g. 'fusion.penalty=50000;fusion.epochs=24'")
    args = parser.parse_args()
    run = Path(args.run)
    raw = json.loads((run / "config.json").read_text())
    raw.get("fusion", {}).pop("fusion_rate", None)  # runs of kfusion <= 0.1
    if "strategy" in raw.get("train", {}):
        raw["train"]["distribute"] = raw["train"].pop("strategy")
    cfg = config.from_dict(raw)
    train = cache_lib.HeatmapCache.load(run / "cache" / "train.npz")
    test = cache_lib.HeatmapCache.load(run / "cache" / "test.npz")
    for setting in args.settings:
        c, strategy = cfg, "trainable"
        for item in setting.split(";"):
            key, value = config.parse_override(item)
            if key == "strategy":
                strategy = value
            else:
                c = config.override(c, key, value)
        out = run / "sweep" / setting.replace(";", "_").replace("=", "-")
        t0 = time.perf_counter()
        model = driver.train_fusion(c, train, test, out, strategy_name=strategy, verbose=0)
        val = json.loads((out / "train_summary.json").read_text())["history"]["val_mpjpe"]
        trace_path = out / "fusion_trace.json"
        last = json.loads(trace_path.read_text())["epochs"][-1] if trace_path.is_file() else {}
        weights = [round(w, 3) for w in last.get("weights", [])]
        print(f"{setting}: val MPJPE {[round(v, 1) for v in val[-3:]]} mm, alpha {last.get('alpha')}, "
              f"beta {last.get('beta')}, w {weights}, {pruned_difference(model, test, c)}, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)


def pruned_difference(model, cache, cfg):
    """``pruned: max difference X mm`` to the trained network, or why it cannot be pruned exactly."""
    import numpy as np

    from kfusion.eval.evaluate import predict_poses
    from kfusion.models.pruning import prune

    try:
        pruned = prune(model)
    except ValueError as e:  # single streams, soft or non-monotone weights
        return f"not pruned ({str(e)[:60]})"
    diff = np.abs(predict_poses(pruned, cache, cfg) - predict_poses(model, cache, cfg)).max()
    return f"pruned: max difference {diff:.3g} mm, {pruned.count_params()} of {model.count_params()} parameters"


if __name__ == "__main__":
    main()
