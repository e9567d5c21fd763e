"""From a validated config to trained models in a run folder (what `kfusion train` runs).

``train(stage, cfg, run_dir)`` trains one :class:`~kfusion.train.stages.Stage` where
``train.distribute`` says: ``model.fit`` on one device or ``MirroredStrategy``, the multi-worker
loop under ``MultiWorkerMirroredStrategy`` (or any strategy passed in). ``train_hourglass``,
``train_fusion`` and ``train_lifting`` build the stage of a config and train it; ``train_stage`` is
the whole ``kfusion train STAGE`` (run folder, heatmap caches, resume checks, end-to-end model).
"""
import shutil
import sys
from pathlib import Path

import numpy as np

from kfusion import config, skeletons
from kfusion.data import posepairs, teacher
from kfusion.data.cache import HeatmapCache, predict_cache
from kfusion.errors import KfusionError
from kfusion.io import write_json
from kfusion.train import distributed, stages


def set_seed(seed):
    """Seed Python, numpy and TensorFlow (``keras.utils.set_random_seed``)."""
    import keras

    keras.utils.set_random_seed(int(seed))


def train(stage, cfg, run_dir, *, strategy=None, epochs=None, verbose=2, profile=False, callbacks=()):
    """Train ``stage`` into ``run_dir``; returns the trained network.

    ``strategy``: a ``tf.distribute`` strategy to run the multi-worker loop under (any strategy
    works); None: the strategy of ``train.distribute`` (``multiworker`` runs the loop, the others
    ``model.fit``). ``epochs`` overrides the stage's. ``callbacks``: more Keras callbacks (the
    ``model.fit`` path only).
    """
    set_seed(cfg["seed"])
    if epochs is not None:
        stage.epochs = int(epochs)
    options = stages.training_options(cfg)
    name = cfg["train"]["distribute"]
    if strategy is None and name != "multiworker":
        return stages.fit(stage, run_dir, strategy=distributed.get_strategy(name), verbose=verbose,
                          profile=profile, callbacks=callbacks, **options)
    if callbacks:
        raise KfusionError("train.distribute: extra callbacks (e.g. learning-curve budgets) run on the model.fit "
                           f"path only, not with {name!r} or a strategy passed in; use train.distribute=default")
    strategy = strategy or distributed.get_strategy(name)
    network, _ = distributed.fit_distributed(strategy, stage, run_dir, profile=profile, verbose=verbose,
                                             **options)
    return network


def train_hourglass(cfg, run_dir, **kwargs):
    """Train (or resume) the stacked hourglass of ``cfg``; keyword arguments as ``train``."""
    return train(stages.hourglass_stage(cfg), cfg, run_dir, **kwargs)


def train_fusion(cfg, train_cache, val_cache, run_dir, *, strategy_name=None, photos=None, **kwargs):
    """Train one fusion network (``fusion.strategy`` or ``strategy_name``) on heatmap caches
    (``photos``: the 2D-only cache of ``fusion.extra_records``, see ``photo_cache``)."""
    return train(stages.fusion_stage(cfg, train_cache, val_cache, strategy_name, photos), cfg, run_dir, **kwargs)


def train_lifting(cfg, train_cache, val_cache, run_dir, *, ground_truth=False, **kwargs):
    """Train the lifting baseline on a cache's decoded 2D joints (``ground_truth``: its true ones)."""
    return train(stages.lifting_stage(cfg, train_cache, val_cache, ground_truth), cfg, run_dir, **kwargs)


def train_lifting_pairs(cfg, data_dir, run_dir, **kwargs):
    """Train the lifting baseline on ground-truth 2D/3D pose pairs (Martinez et al.'s setting)."""
    return train(stages.lifting_pairs_stage(cfg, data_dir), cfg, run_dir, **kwargs)


def load_hourglass(path, cfg=None):
    """The trained hourglass at ``path`` (a hourglass's ``.keras``, or an end-to-end model's, whose
    hourglass is taken: ``kfusion.models.hourglass.inner_hourglass``); with ``cfg``'s
    ``hourglass.flip_test`` and ``zoom_test``, the hourglass for testing with its mirror image and a
    zoomed view (``kfusion.models.hourglass.with_test_augmentation``)."""
    from kfusion.models import load_model
    from kfusion.models.hourglass import inner_hourglass

    path = Path(path)
    if not path.is_file():
        raise KfusionError(f"{path}: no trained hourglass there (run `kfusion train hourglass` first, "
                           "or pass --hourglass PATH.keras)")
    try:
        model = inner_hourglass(load_model(path))
    except ValueError as e:
        raise KfusionError(f"{path}: {e}; expected a trained hourglass or an end-to-end model") from None
    hg = cfg["hourglass"] if cfg is not None else {"flip_test": False, "zoom_test": None}
    if hg["flip_test"] or hg["zoom_test"]:
        from kfusion.models.hourglass import with_test_augmentation

        flip = skeletons.get(cfg["data"]["heatmap_skeleton"]).flip_permutation if hg["flip_test"] else None
        model = with_test_augmentation(model, flip, zoom=hg["zoom_test"])
    return model


def views_suffix(cfg):
    """The caches' file-name mark of the hourglass's test-time views: '', '-flip', '-flip-zoom0.875'."""
    hg = cfg["hourglass"]
    return ("-flip" if hg["flip_test"] else "") + (f"-zoom{hg['zoom_test']:g}" if hg["zoom_test"] else "")


def save_end_to_end(hourglass_path, fusion, out_dir, cfg=None):
    """Save ``out_dir/end_to_end.keras``: the deployable model (uint8 crop -> pose_3d, pose_2d,
    confidence) of the hourglass (tested as ``cfg`` says, see ``load_hourglass``) and a trained fusion
    network, which ``kfusion export`` takes."""
    from kfusion.models import save_model, uncompiled
    from kfusion.models.end_to_end import build_end_to_end

    path = Path(out_dir) / "end_to_end.keras"
    # no compile config anywhere inside: the deployable file loads without kfusion's training losses
    mirror = None
    if cfg is not None and cfg["fusion"]["flip_test"]:
        data = cfg["data"]
        mirror = (skeletons.get(data["heatmap_skeleton"]).flip_permutation, skeletons.get(data["skeleton"]).flip_permutation)
    model = build_end_to_end(load_hourglass(hourglass_path, cfg), fusion, mirror_3d=mirror)
    save_model(uncompiled(model), path)
    return path


def caches(cfg, run_dir, hourglass_path, splits, records=None):
    """HeatmapCaches for ``splits``, computed once per hourglass (and its test-time views) and
    kept in ``run_dir/cache``; ``records``: another records folder than the config's (its caches are
    named after it)."""
    hourglass_path = Path(hourglass_path)
    if not hourglass_path.is_file():  # before its time is compared with the caches'
        load_hourglass(hourglass_path)
    cache_dir = Path(run_dir) / "cache"
    suffix = views_suffix(cfg)
    prefix = f"{Path(records).name}-" if records else ""
    out, model = {}, None
    for split in splits:
        path = cache_dir / f"{prefix}{split}{suffix}.npz"
        if path.is_file() and path.stat().st_mtime >= hourglass_path.stat().st_mtime:
            out[split] = HeatmapCache.load(path)
            continue
        model = model or load_hourglass(hourglass_path, cfg)
        print(f"kfusion: predicting confidence maps for '{split}' -> {path}", file=sys.stderr)
        out[split] = predict_cache(model, cfg, split, path, records=records)
    return out


def photo_cache(cfg, run_dir, hourglass_path):
    """One HeatmapCache of the training splits of ``fusion.extra_records`` (2D-only photographs), or
    None when there are none."""
    extras = list(cfg["fusion"]["extra_records"])
    if not extras:
        return None
    parts = [caches(cfg, run_dir, hourglass_path, ["train"], records=path)["train"] for path in extras]
    if float(cfg["fusion"]["teacher_weight"]) > 0:  # kfusion prepare teacher, beside each folder's records
        for path, part in zip(extras, parts):
            part.teacher_3d, part.teacher_weight = teacher.load(path, "train", part.frames, cfg["data"]["skeleton"])
    if len(parts) == 1:
        return parts[0]
    fields = [k for k in HeatmapCache.__dataclass_fields__
              if k != "input_size" and any(getattr(p, k) is not None for p in parts)]
    for k in fields:  # e.g. photographs of another skeleton: one line naming both folders
        shapes = [None if getattr(p, k) is None else getattr(p, k).shape[1:] for p in parts]
        if any(sh != shapes[0] for sh in shapes):
            i = next(i for i, sh in enumerate(shapes) if sh != shapes[0])
            raise KfusionError(f"fusion.extra_records: {extras[0]} and {extras[i]} give '{k}' of shapes "
                               f"{shapes[0]} and {shapes[i]} per sample; expected the same skeletons and sizes")
    merged = {k: np.concatenate([getattr(p, k) for p in parts]) for k in fields}
    return HeatmapCache(input_size=parts[0].input_size, **merged)


def stage_dir(cfg, stage, run_dir):
    """The sub-folder of ``run_dir`` that a stage trains into (``model.keras``, ``backup/``, ...)."""
    run_dir = Path(run_dir)
    if stage == "hourglass":
        return run_dir / "hourglass"
    if stage == "fusion":
        return run_dir / f"fusion-{cfg['fusion']['strategy']}"
    if stage == "lifting":
        return run_dir / "lifting"
    raise KfusionError(f"unknown stage {stage!r}; expected hourglass, fusion or lifting")


def check_resumable(cfg, out):
    """Refuse to resume (or to call finished) a stage folder whose saved state came from another config.

    A stage folder with a training backup (``backup/``, or the multi-worker ``checkpoints/checkpoint``)
    resumes from it; with a different config it would train on (or stop at) the old run's weights.
    """
    import json

    out = Path(out)
    saved = out / "config.json"
    state = (out / "backup").is_dir() or (out / "checkpoints" / "checkpoint").is_file()
    if not (state and saved.is_file()):
        return
    try:
        old = json.loads(saved.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    new = json.loads(json.dumps(cfg, default=str))
    if isinstance(old, dict):  # keys added to the schema since that run: their defaults (the old behaviour)
        old = json.loads(json.dumps(config.with_defaults(old), default=str))
    if old != new:
        keys = _changed_keys(old, new) if isinstance(old, dict) else ["config.json unreadable"]
        raise KfusionError(f"{out}: trained with another config (changed: {', '.join(keys[:4])}"
                           f"{' ...' if len(keys) > 4 else ''}); use another --out or delete it")


def _changed_keys(a, b, prefix=""):
    out = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if isinstance(x, dict) and isinstance(y, dict):
            out += _changed_keys(x, y, f"{prefix}{k}.")
        elif x != y:
            out.append(f"{prefix}{k}")
    return out


def train_stage(cfg, stage, run_dir, *, hourglass=None, epochs=None, logical_cpus=None, profile=False,
                verbose=1):
    """Train one stage; returns the run sub-folder that holds ``model.keras``.

    A stage that fails with a KfusionError leaves no new files behind: a run folder this call
    created is removed, and in an existing one the ``config.json`` files it wrote.
    """
    run_dir = Path(run_dir)
    out = stage_dir(cfg, stage, run_dir)
    check_resumable(cfg, out)
    created = [p for p in (run_dir, out) if not p.exists()]
    written = [p for p in (run_dir / "config.json", out / "config.json") if not p.exists()]
    try:
        return _train_stage(cfg, stage, run_dir, out, hourglass=hourglass, epochs=epochs,
                            logical_cpus=logical_cpus, profile=profile, verbose=verbose)
    except KfusionError:
        _undo_unstarted(out, created, written)
        raise


def _undo_unstarted(out, created, written):
    """After a failure before any training output: remove the config.json files and folders it made.

    A stage that has written anything else (a cache, a checkpoint, a log) keeps it: it can resume.
    """
    started = out.is_dir() and any(f.is_file() and f.name != "config.json" for f in out.rglob("*"))
    if started:
        return
    for p in written:
        p.unlink(missing_ok=True)
    for d in reversed(created):  # the stage folder, then the run folder, if nothing else is in them
        if d.is_dir() and not any(f.is_file() for f in d.rglob("*")):
            shutil.rmtree(d, ignore_errors=True)


def _train_stage(cfg, stage, run_dir, out, *, hourglass, epochs, logical_cpus, profile, verbose):
    strategy = None
    if cfg["train"]["distribute"] == "multiworker":
        strategy = distributed.get_strategy("multiworker")  # before any other TF op in this process
    elif logical_cpus:
        distributed.configure_logical_cpus(logical_cpus)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", cfg)
    if cfg["train"]["mixed_precision"]:
        import keras

        keras.mixed_precision.set_global_policy(cfg["train"]["mixed_precision"])
    options = {"strategy": strategy, "epochs": epochs, "verbose": verbose, "profile": profile}
    if stage == "lifting" and posepairs.is_pose_pairs(cfg["data"]["records"]):
        write_json(out / "config.json", cfg)  # ground-truth 2D/3D pairs: no hourglass, no cache
        train_lifting_pairs(cfg, cfg["data"]["records"], out, **options)
        return out
    if stage == "hourglass":
        write_json(out / "config.json", cfg)  # each stage keeps the config it was trained with
        train_hourglass(cfg, out, **options)
        return out
    hourglass = Path(hourglass or run_dir / "hourglass" / "model.keras")
    splits = [cfg["data"]["train_split"]]
    if cfg["train"]["validate"] or strategy is None:
        splits.append(cfg["data"]["val_split"])
    c = caches(cfg, run_dir, hourglass, list(dict.fromkeys(splits)))
    train_cache, val_cache = c[cfg["data"]["train_split"]], c.get(cfg["data"]["val_split"])
    write_json(out / "config.json", cfg)
    if stage == "fusion":
        photos = photo_cache(cfg, run_dir, hourglass)
        fusion = train_fusion(cfg, train_cache, val_cache, out, photos=photos, **options)
        if strategy is None:  # multi-worker runs export from their model.keras afterwards
            save_end_to_end(hourglass, fusion, out, cfg)
    else:
        train_lifting(cfg, train_cache, val_cache, out, **options)
    return out
