"""From a validated config to trained models in a run folder (what `kfusion train` runs)."""
import sys
from pathlib import Path

from kfusion.data import posepairs
from kfusion.errors import KfusionError
from kfusion.io import write_json
from kfusion.train import trainer


def load_hourglass(path):
    from kfusion.models import load_model

    path = Path(path)
    if not path.is_file():
        raise KfusionError(f"{path}: no trained hourglass there (run `kfusion train hourglass` first, "
                           "or pass --hourglass PATH.keras)")
    return load_model(path)


def save_end_to_end(hourglass_path, fusion, out_dir):
    """Save ``out_dir/end_to_end.keras``: the deployable model (uint8 crop -> pose_3d, pose_2d,
    confidence) of the hourglass and a trained fusion network, which ``kfusion export`` takes."""
    from kfusion.models import uncompiled
    from kfusion.models.end_to_end import build_end_to_end

    path = Path(out_dir) / "end_to_end.keras"
    # no compile config anywhere inside: the deployable file loads without kfusion's training losses
    trainer.save_model(uncompiled(build_end_to_end(load_hourglass(hourglass_path), fusion)), path)
    return path


def caches(cfg, run_dir, hourglass_path, splits):
    """HeatmapCaches for ``splits``, computed once per hourglass and kept in ``run_dir/cache``."""
    hourglass_path = Path(hourglass_path)
    cache_dir = Path(run_dir) / "cache"
    out, model = {}, None
    for split in splits:
        path = cache_dir / f"{split}.npz"
        if path.is_file() and path.stat().st_mtime >= hourglass_path.stat().st_mtime:
            out[split] = trainer.HeatmapCache.load(path)
            continue
        model = model or load_hourglass(hourglass_path)
        print(f"kfusion: predicting confidence maps for '{split}' -> {path}", file=sys.stderr)
        out[split] = trainer.predict_cache(model, cfg, split, path)
    return out


def train_stage(cfg, stage, run_dir, *, hourglass=None, epochs=None, logical_cpus=None, profile=False,
                verbose=1):
    """Train one stage; returns the run sub-folder that holds ``model.keras``."""
    if logical_cpus:
        trainer.configure_logical_cpus(logical_cpus)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", cfg)
    if cfg["train"]["mixed_precision"]:
        import keras

        keras.mixed_precision.set_global_policy(cfg["train"]["mixed_precision"])
    if cfg["train"]["strategy"] == "multiworker":
        from kfusion.train import distributed

        return distributed.train_stage(cfg, stage, run_dir, hourglass=hourglass, epochs=epochs,
                                         profile=profile, verbose=verbose)
    if stage == "hourglass":
        out = run_dir / "hourglass"
        write_json(out / "config.json", cfg)  # each stage keeps the config it was trained with
        trainer.train_hourglass(cfg, out, verbose=verbose, epochs=epochs, profile=profile)
        return out
    if stage == "lifting" and posepairs.is_pose_pairs(cfg["data"]["records"]):
        out = run_dir / "lifting"  # ground-truth 2D/3D pairs: no hourglass, no cache
        write_json(out / "config.json", cfg)
        trainer.train_lifting_pairs(cfg, cfg["data"]["records"], out, verbose=verbose, epochs=epochs)
        return out
    hourglass = Path(hourglass or run_dir / "hourglass" / "model.keras")
    c = caches(cfg, run_dir, hourglass, [cfg["data"]["train_split"], cfg["data"]["val_split"]])
    train_cache, val_cache = c[cfg["data"]["train_split"]], c[cfg["data"]["val_split"]]
    if stage == "fusion":
        out = run_dir / f"fusion-{cfg['fusion']['strategy']}"
        write_json(out / "config.json", cfg)
        fusion = trainer.train_fusion(cfg, train_cache, val_cache, out, verbose=verbose, epochs=epochs,
                                      profile=profile)
        save_end_to_end(hourglass, fusion, out)
    elif stage == "lifting":
        out = run_dir / "lifting"
        write_json(out / "config.json", cfg)
        trainer.train_lifting(cfg, train_cache, val_cache, out, verbose=verbose, epochs=epochs)
    else:
        raise KfusionError(f"unknown stage {stage!r}; expected hourglass, fusion or lifting")
    return out
