#!/usr/bin/env python
"""Train a trainable-fusion network with ``model.fit`` through kfusion's Python API (no CLI).

    python scripts/train_fusion_with_fit.py --out runs/fit                  # configs/synthetic.yaml sizes
    python scripts/train_fusion_with_fit.py --out runs/fit --records data/synthetic \
        --hourglass runs/synthetic/hourglass/model.keras                     # existing records, hourglass
    python scripts/train_fusion_with_fit.py --out /tmp/fit --preset tiny --workers 1   # tiny: seconds

Steps: render the embedded synthetic benchmark (unless the records folder already holds records),
train the stacked hourglass (unless ``--hourglass`` names a trained one), predict the heatmap
caches, build the config's fusion network, compile it with kfusion's training step and losses
(``TrainingModel``: ``pose_loss``, ``MPJPE``, an own Adam for alpha and beta), call ``model.fit``
with kfusion's callbacks (the fusion trace among them), save, print the validation MPJPE (mm).

Writes in OUT: ``data/`` (rendered records, without ``--records``), ``hourglass/model.keras``,
``cache/{split}.npz``, ``fusion/`` (``model.keras``, ``log.csv``, ``fusion_trace.json``,
``checkpoints/``, ``backup/``: a rerun resumes, ``tensorboard/``), ``end_to_end.keras`` (the
input of ``scripts/export_and_serve.py``), ``config.json`` and ``results.json``.
"""
import argparse
import time
from pathlib import Path

from kfusion import config, data, logfilter, models, train
from kfusion.io import write_json

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "synthetic.yaml"

# Sizes, as config overrides: "config" keeps the config file's; "tiny" runs in seconds (numbers meaningless).
PRESETS = {
    "config": {},
    "tiny": {
        "data.num_train": 32, "data.num_test": 16, "data.image_size": 64,
        "hourglass.preset": "tiny", "hourglass.input_size": 32, "hourglass.epochs": 1, "hourglass.batch_size": 16,
        "fusion.preset": "tiny", "fusion.input_size": 20, "fusion.epochs": 2, "fusion.batch_size": 16,
        "train.checkpoint_every": 0, "train.validate": True,
    },
}


def load_config(args):
    """The config file, the preset's sizes, then ``--set`` and the size options on top."""
    overrides = dict(PRESETS[args.preset])
    overrides.update(config.parse_override(s) for s in args.set)
    for key, value in (("data.num_train", args.num_train), ("data.num_test", args.num_test),
                       ("fusion.epochs", args.epochs), ("hourglass.epochs", args.hourglass_epochs)):
        if value is not None:
            overrides[key] = value
    overrides["data.records"] = str(args.records or Path(args.out) / "data")
    return config.load(args.config, overrides)


def records_for(cfg, workers):
    """Render the embedded synthetic benchmark into ``data.records`` unless records are there."""
    records = Path(cfg["data"]["records"])
    if not (records / "manifest.json").is_file():
        from kfusion.synthetic.benchmark import build_benchmark

        d = cfg["data"]
        print(f"rendering the synthetic benchmark ({d['num_train']} + {d['num_test']} images) -> {records}")
        build_benchmark(records, num_train=d["num_train"], num_test=d["num_test"], seed=cfg["seed"],
                        image_size=d["image_size"], workers=workers, progress=False)
    return records


def heatmap_cache(hourglass, hourglass_path, cfg, split, path):
    """The hourglass's predictions over ``split``, kept in ``path`` (reused while newer than the hourglass)."""
    if path.is_file() and path.stat().st_mtime >= Path(hourglass_path).stat().st_mtime:
        return data.HeatmapCache.load(path)
    return data.predict_cache(hourglass, cfg, split, path)


def stage_has_fusion(cfg):
    """False for the single-stream baselines (no fusion weights to report)."""
    return cfg["fusion"]["strategy"] not in ("image_only", "cm_only")


def rounded(value, digits=3):
    """A float, a list of floats or None, rounded for printing."""
    if isinstance(value, list):
        return [round(v, digits) for v in value]
    return None if value is None else round(value, digits)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder (see the module docstring)")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="a kfusion YAML config")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="config", help="sizes (tiny: for tests)")
    parser.add_argument("--records", help="existing records (default: render the benchmark into OUT/data)")
    parser.add_argument("--hourglass", help="a trained hourglass .keras (default: train one into OUT/hourglass)")
    parser.add_argument("--num-train", type=int, help="rendered training images (data.num_train)")
    parser.add_argument("--num-test", type=int, help="rendered test images (data.num_test)")
    parser.add_argument("--epochs", type=int, help="fusion epochs (fusion.epochs)")
    parser.add_argument("--hourglass-epochs", type=int, help="hourglass epochs (hourglass.epochs)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any config override, e.g. fusion.penalty=50000 (repeatable)")
    parser.add_argument("--workers", type=int, help="rendering processes (default: all CPUs)")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras fit verbosity")
    args = parser.parse_args(argv)
    logfilter.install()  # TensorFlow's start-up chatter off stderr (KFUSION_RAW_STDERR=1 keeps it)

    import keras

    out = Path(args.out)
    cfg = load_config(args)
    write_json(out / "config.json", cfg)
    records_for(cfg, args.workers)
    t0 = time.perf_counter()

    # 1. the stacked hourglass: trained here (kfusion's stage, model.fit inside) or loaded
    if args.hourglass:
        hourglass_path = Path(args.hourglass)
        hourglass = models.load_model(hourglass_path)
    else:
        hourglass = train.train_hourglass(cfg, out / "hourglass", verbose=args.verbose)
        hourglass_path = out / "hourglass" / "model.keras"

    # 2. its confidence maps over both splits, and the tf.data datasets of the fusion stage
    train_split, val_split = cfg["data"]["train_split"], cfg["data"]["val_split"]
    train_cache = heatmap_cache(hourglass, hourglass_path, cfg, train_split, out / "cache" / f"{train_split}.npz")
    val_cache = heatmap_cache(hourglass, hourglass_path, cfg, val_split, out / "cache" / f"{val_split}.npz")
    steps = cfg["train"]["steps_per_epoch"]
    train_ds = data.fusion_dataset(train_cache, cfg, training=True, repeat=steps is not None)
    val_ds = data.fusion_dataset(val_cache, cfg, training=False)

    # 3. the fusion network of the config, compiled with kfusion's step, losses and optimizers
    keras.utils.set_random_seed(cfg["seed"])
    stage = train.fusion_stage(cfg, train_cache, val_cache)
    network = stage.build()          # build_fusion_network with the config's settings
    model = stage.compile(network)   # TrainingModel: pose_loss (+ lambda / alpha^2), MPJPE, two Adams

    # 4. model.fit with kfusion's callbacks: checkpoints, resume, CSV log, TensorBoard, fusion trace
    fusion_dir = out / "fusion"
    callbacks = train.standard_callbacks(fusion_dir, checkpoint_every=cfg["train"]["checkpoint_every"],
                                         fusion_trace=True)
    model.fit(train_ds, validation_data=val_ds, epochs=cfg["fusion"]["epochs"], steps_per_epoch=steps,
              callbacks=callbacks, verbose=args.verbose)
    models.save_model(network, fusion_dir / "model.keras")

    # 5. validation MPJPE (mm) and the learnt fusion; the deployable model (crop -> 3D pose)
    scores = model.evaluate(val_ds, return_dict=True, verbose=0)
    try:  # the compact test-time network: the inactive streams dropped (sharp fusion weights only)
        deployed = models.prune(network)
    except ValueError as e:
        print(f"fusion network kept unpruned ({e})")
        deployed = network
    end_to_end = out / "end_to_end.keras"
    # (never compiled itself: TrainingModel is what was compiled, so the file loads without kfusion's losses)
    models.save_model(models.build_end_to_end(hourglass, deployed, prune_fusion=False), end_to_end)
    fusion = models.fusion_weights(network) if stage_has_fusion(cfg) else {}
    results = {"val_mpjpe_mm": float(scores["mpjpe"]), "val_loss": float(scores["loss"]),
               "alpha": fusion.get("alpha"), "beta": fusion.get("beta"), "fusion_weights": fusion.get("weights"),
               "pruned": deployed is not network, "epochs": int(cfg["fusion"]["epochs"]),
               "num_train": len(train_cache), "num_val": len(val_cache), "seconds": time.perf_counter() - t0,
               "end_to_end": str(end_to_end)}
    write_json(out / "results.json", results)
    print(f"validation MPJPE {results['val_mpjpe_mm']:.1f} mm on {len(val_cache)} images; "
          f"alpha {rounded(results['alpha'])}, beta {rounded(results['beta'])}, "
          f"w {rounded(results['fusion_weights'])}; "
          f"end-to-end model: {end_to_end}")
    return results


if __name__ == "__main__":
    main()
