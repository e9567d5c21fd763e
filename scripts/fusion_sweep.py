#!/usr/bin/env python
"""Train the trainable fusion network under several settings on an existing run's heatmap caches.

Prints, per setting, the last validation MPJPEs (mm), the final alpha, beta and fusion weights, and
the time. Used to find out why alpha stays small on the quick preset, e.g.:

    python scripts/fusion_sweep.py runs/quick "fusion.penalty=50000" "fusion.penalty=5000000" \
        "fusion.fusion_rate=100" "fusion.fusion_rate=100;fusion.learning_rate=0.003"

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
    cfg = config.from_dict(json.loads((run / "config.json").read_text()))
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
        driver.train_fusion(c, train, test, out, strategy_name=strategy, verbose=0)
        val = json.loads((out / "train_summary.json").read_text())["history"]["val_mpjpe"]
        trace_path = out / "fusion_trace.json"
        last = json.loads(trace_path.read_text())["epochs"][-1] if trace_path.is_file() else {}
        weights = [round(w, 3) for w in last.get("weights", [])]
        print(f"{setting}: val MPJPE {[round(v, 1) for v in val[-3:]]} mm, alpha {last.get('alpha')}, "
              f"beta {last.get('beta')}, w {weights}, {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
