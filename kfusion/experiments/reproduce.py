"""`kfusion reproduce`: the paper's comparisons (Tables 1, 5, 6; Figs. 4, 5, 7) on the synthetic benchmark.

One hourglass is trained once; every fusion strategy and the lifting baseline are trained on its
*predicted* confidence maps for the same training split and measured on the same test split. The
run is resumable: a stage whose ``model.keras`` exists is loaded, not retrained.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from kfusion import config as config_mod
from kfusion.io import write_json, write_text

# Presets are data: overrides on top of configs/synthetic.yaml (or the config given).
PRESETS = {
    "quick": {  # <= 30 minutes on a 2-core CPU, data generation included
        "data.num_train": 8000, "data.num_test": 1000,
        "hourglass.epochs": 6, "fusion.epochs": 12, "lifting.epochs": 30,
        "train.checkpoint_every": 0,
    },
    "full": {  # for a GPU
        "data.num_train": 100000, "data.num_test": 5000,
        "hourglass.epochs": 40, "fusion.epochs": 60, "lifting.epochs": 100,
        "train.checkpoint_every": 10,
    },
    "smoke": {  # for tests: minutes on a CPU, numbers meaningless
        "data.num_train": 96, "data.num_test": 32, "hourglass.preset": "tiny", "fusion.preset": "tiny",
        "hourglass.epochs": 1, "fusion.epochs": 2, "lifting.epochs": 1, "lifting.units": 64,
        "hourglass.batch_size": 16, "fusion.batch_size": 16, "train.checkpoint_every": 0,
    },
}

# (row label, fusion strategy or "lifting"), in the order of the paper's Table 5.
VARIANTS = (
    ("Image-Only", "image_only"),
    ("CM-Only", "cm_only"),
    ("Early Fusion", "early"),
    ("Late Fusion", "late"),
    ("Trainable Fusion", "trainable"),
    ("Trainable, no penalty (free w)", "free"),
    ("Lifting baseline (Martinez et al.)", "lifting"),
    ("Lifting baseline on ground-truth 2D", "lifting_gt"),
)

# The paper's Table 1 row (trainable fusion, Human3.6M, MPJPE mm), in its column order, and Table 5.
PAPER_TABLE1 = dict(zip(
    ("Directions", "Discussion", "Eating", "Greeting", "Phone Talk", "Posing", "Buying", "Sitting", "Sitting Down",
     "Smoking", "Taking Photo", "Waiting", "Walking", "Walking Dog", "Walking Pair", "Avg. (All)"),
    (54.23, 61.41, 60.17, 61.23, 79.41, 63.14, 81.63, 70.14, 107.31, 69.29, 78.31, 70.27, 51.79, 74.28, 63.24, 69.73)))
PAPER_TABLE5 = {"Image-Only": 124.13, "CM-Only": 79.28, "Early Fusion": 76.41, "Late Fusion": 74.12,
                "Trainable Fusion": 69.73}


def preset_config(preset, base="configs/synthetic.yaml", out=None, overrides=None):
    """The validated config of a reproduction preset (``overrides``: dotted key -> value, applied last)."""
    if preset not in PRESETS:
        raise config_mod.KfusionError(f"unknown preset {preset!r}; expected one of {sorted(PRESETS)}")
    base_path = Path(base)
    if not base_path.is_file():  # installed package without the repo's configs/: use the schema defaults
        cfg = config_mod.from_dict({"name": "synthetic"})
    else:
        cfg = config_mod.load(base_path)
    for key, value in PRESETS[preset].items():
        cfg = config_mod.override(cfg, key, value)
    if out is not None:
        out = Path(out)
        cfg = config_mod.override(cfg, "output_dir", str(out))
        cfg = config_mod.override(cfg, "data.records", str(out / "data"))
    for key, value in (overrides or {}).items():
        cfg = config_mod.override(cfg, key, value)
    return cfg


def _log(msg):
    print(f"[reproduce {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ensure_benchmark(cfg, workers=None):
    from kfusion.synthetic import benchmark

    records = Path(cfg["data"]["records"])
    if (records / "manifest.json").is_file():
        _log(f"benchmark found at {records}")
        return 0.0
    t0 = time.perf_counter()
    d = cfg["data"]
    if d["source"] == "h36m":
        from kfusion.synthetic import h36m_render

        if not d["root"]:
            raise config_mod.KfusionError("data.root: the Human3.6M folder is needed to render its motions "
                                          "(e.g. --set data.root=../shared/data/h36m)")
        _log(f"rendering Human3.6M motion through its cameras ({d['num_train']} train, test every "
             f"{d['test_every']}th frame) -> {records}")
        h36m_render.build_benchmark(d["root"], records, num_train=d["num_train"], test_every=d["test_every"],
                                    seed=cfg["seed"], image_size=d["image_size"], workers=workers)
        return time.perf_counter() - t0
    _log(f"rendering the synthetic benchmark ({d['num_train']} train, {d['num_test']} test) -> {records}")
    benchmark.build_benchmark(records, num_train=d["num_train"], num_test=d["num_test"], seed=cfg["seed"],
                              image_size=d["image_size"], poses_path=d["poses"], workers=workers,
                              progress=True, backgrounds=d["backgrounds"], background_share=d["background_share"])
    return time.perf_counter() - t0


def hourglass_and_caches(cfg, out, *, workers=None, verbose=2, hourglass=None):
    """The heatmap caches of the train and test splits; returns ``(train_cache, test_cache, seconds)``.

    Without ``hourglass`` (a trained ``.keras``), the benchmark is rendered where missing and the
    hourglass trained into ``out/hourglass`` where it has no ``model.keras``; with it, neither (the
    caches are predicted from ``data.records`` unless ``out/cache`` holds them already).
    ``seconds``: ``{"data", "hourglass", "heatmap_cache"}``, wall-clock.
    """
    from kfusion.train import driver

    out = Path(out)
    times = {"data": 0.0, "hourglass": 0.0}
    if hourglass is None:
        times["data"] = ensure_benchmark(cfg, workers)
        t0 = time.perf_counter()
        hg_dir = out / "hourglass"
        if not (hg_dir / "model.keras").is_file():
            _log("training the hourglass")
            driver.train_hourglass(cfg, hg_dir, verbose=verbose)
        times["hourglass"] = _trained_seconds(hg_dir, time.perf_counter() - t0)
        hourglass = hg_dir / "model.keras"
    t0 = time.perf_counter()
    tr, te = cfg["data"]["train_split"], cfg["data"]["test_split"]
    caches = driver.caches(cfg, out, hourglass, [tr, te])
    times["heatmap_cache"] = time.perf_counter() - t0
    return caches[tr], caches[te], times


def _trained_seconds(run_dir, elapsed):
    """How long the model of ``run_dir`` took to train: its ``train_summary.json`` when this run only
    loaded it (a resumed reproduction), else ``elapsed``."""
    summary = Path(run_dir) / "train_summary.json"
    if summary.is_file():
        try:
            return float(json.loads(summary.read_text())["seconds"])
        except (ValueError, KeyError, TypeError):
            pass
    return elapsed


def _load_or_train(path, train_fn):
    from kfusion.models import load_model

    if (path / "model.keras").is_file():
        _log(f"found {path / 'model.keras'}: not retraining")
        return load_model(path / "model.keras")
    return train_fn()


def fusion_latency(model, cfg, repeats=100, batch=1):
    """Median seconds per forward pass of a fusion network at ``batch`` (CPU, graph mode)."""
    import tensorflow as tf

    size = cfg["fusion"]["input_size"]
    x = {"image": tf.random.uniform((batch, size, size, 3)),
         "heatmaps": tf.random.uniform((batch, size, size, int(model.input["heatmaps"].shape[-1])))}
    call = tf.function(lambda f: model(f, training=False))
    for _ in range(5):
        call(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        y = call(x)
        (y["pose_3d"] if isinstance(y, dict) else y).numpy()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def stream_correlations(model, cache, cfg, n=128):
    """Fig. 7 analogue: R^2 between image-stream and confidence-map-stream features at the last conv block.

    Features are the channels of each stream's last convolutional block, averaged over space, from
    ``n`` test images. Returns (r2 matrix, number of image-stream features, summary dict).
    """
    import keras

    from kfusion.models.fusion import last_conv_outputs
    from kfusion.data.cache import fusion_dataset

    img_out, cm_out = last_conv_outputs(model)
    probe = keras.Model(model.inputs, [img_out, cm_out])
    feats_i, feats_c = [], []
    for f, _ in fusion_dataset(cache, cfg, training=False, batch_size=64):
        a, b = probe(f, training=False)
        feats_i.append(np.asarray(a).mean(axis=(1, 2)))
        feats_c.append(np.asarray(b).mean(axis=(1, 2)))
        if sum(len(x) for x in feats_i) >= n:
            break
    X = np.concatenate([np.concatenate(feats_i)[:n], np.concatenate(feats_c)[:n]], axis=1)
    keep = X.std(axis=0) > 1e-8  # dead ReLU channels have no correlation
    ni = int(keep[: feats_i[0].shape[1]].sum())
    r2 = np.corrcoef(X[:, keep].T) ** 2
    blocks = {
        "image_image": float(_offdiag_mean(r2[:ni, :ni])),
        "cm_cm": float(_offdiag_mean(r2[ni:, ni:])),
        "image_cm": float(r2[:ni, ni:].mean()) if ni and r2.shape[0] > ni else float("nan"),
        "dead_channels": int((~keep).sum()),
    }
    return r2, ni, blocks


def records_generator(cfg):
    """The renderer (``{"name", "version", ...}``) that made ``data.records``, from its manifest; None."""
    from kfusion.data.records import read_manifest

    try:
        return read_manifest(cfg["data"]["records"]).get("generator")
    except (config_mod.KfusionError, TypeError):
        return None


def made_by(generator):
    """`` (`name` version v)`` of a renderer, for a report's sentence; empty when unknown."""
    if not generator:
        return ""
    return f" (`{generator.get('name')}` version {generator.get('version')})"


def _protocol_tables(pred, test_cache):
    """Protocol 1 and 2 per action (``h36m_tables``) of one seed's test predictions."""
    from kfusion.eval.protocols import h36m_tables

    t = h36m_tables(pred, test_cache.pose_3d, test_cache.actions, test_cache.subjects)
    return {"protocol1": t["table1"], "protocol2": t["table2"]}


def _offdiag_mean(m):
    if len(m) < 2:
        return float("nan")
    return (m.sum() - np.trace(m)) / (m.size - len(m))


def run(preset="quick", out="runs/reproduce", base_config="configs/synthetic.yaml", workers=None,
        report_dir=None, verbose=2, overrides=None, seeds=1):
    """Run the whole comparison; returns the results dict and writes ``<out>/report.md``.

    ``seeds``: every fusion network is trained with seeds ``seed .. seed + seeds - 1`` (seed k > 0 in
    ``fusion-<strategy>-seed<k>``); Table 5 gives mean +- std over them. The hourglass, its heatmap
    caches and the lifting baselines are trained once (seed ``seed``): the fusion strategies are
    compared on the same 2D detector, as in the paper.
    """
    from kfusion.eval import evaluate, figures
    from kfusion.eval.tables import comparison_table
    from kfusion.eval import evaluate
    from kfusion.train import driver

    t_start = time.perf_counter()
    if int(seeds) < 1:
        raise config_mod.KfusionError(f"--seeds is {seeds}; expected >= 1")
    out = Path(out)
    cfg = preset_config(preset, base_config, out, overrides)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", cfg)
    hg_dir = out / "hourglass"
    train_cache, test_cache, times = hourglass_and_caches(cfg, out, workers=workers, verbose=verbose)
    hm_pck = _heatmap_quality(test_cache)

    results, models, preds, seed_rows, seed_preds = {}, {}, {}, {}, {}
    for k in range(int(seeds)):
        cfg_k = cfg if k == 0 else config_mod.override(cfg, "seed", cfg["seed"] + k)
        for label, strategy in VARIANTS:
            t0 = time.perf_counter()
            kind = strategy if strategy.startswith("lifting") else "fusion"
            if kind != "fusion" and k > 0:
                continue  # the lifting baselines: one seed
            run_dir = out / (strategy.replace("_", "-") if kind != "fusion" else f"fusion-{strategy}")
            run_dir = run_dir if k == 0 else run_dir.with_name(f"{run_dir.name}-seed{k}")
            _log(f"{label} (seed {cfg_k['seed']}): training -> {run_dir}")
            if kind != "fusion":
                model = _load_or_train(run_dir, lambda: driver.train_lifting(
                    cfg, train_cache, test_cache, run_dir, verbose=verbose, ground_truth=kind == "lifting_gt"))
            else:
                model = _load_or_train(run_dir, lambda: driver.train_fusion(
                    cfg_k, train_cache, test_cache, run_dir, strategy_name=strategy, verbose=verbose))
            if strategy == "trainable" and k == 0 and not (run_dir / "end_to_end.keras").is_file():
                driver.save_end_to_end(hg_dir / "model.keras", model, run_dir, cfg)  # for `kfusion export`
            pred = evaluate.predict_poses(model, test_cache, cfg, kind=kind)
            errors = evaluate.pose_metrics(pred, test_cache.pose_3d)
            row = {m: float(np.mean(v)) for m, v in errors.items()}
            row["train_seconds"] = _trained_seconds(run_dir, time.perf_counter() - t0)
            if kind == "fusion":
                row["params"] = int(model.count_params())
                state = _fusion_state(model)
                if state:
                    row["fusion"] = state
                    row["binary"] = bool(np.all(np.minimum(state["weights"], 1 - np.asarray(state["weights"])) <= 0.01))
            seed_rows.setdefault(label, []).append(row)
            seed_preds.setdefault(label, []).append(pred)
            if k == 0:
                results[label] = dict(row)
                models[strategy], preds[strategy] = model, pred
            _log(f"{label} (seed {cfg_k['seed']}): MPJPE {row['mpjpe']:.1f} mm, PA-MPJPE {row['pa_mpjpe']:.1f} mm")
    for label, rows in seed_rows.items():  # mean and std over the seeds
        for m in ("mpjpe", "pa_mpjpe", "pck3d", "auc3d", "train_seconds"):
            values = [r[m] for r in rows]
            results[label][m] = float(np.mean(values))
            results[label][f"{m}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
            results[label][f"{m}_seeds"] = values
        if "fusion" in rows[0]:
            results[label]["seeds_fusion"] = [{"alpha": r["fusion"].get("alpha"), "beta": r["fusion"].get("beta"),
                                               "weights": r["fusion"]["weights"], "binary": r["binary"]}
                                              for r in rows]

    # Table 6 analogue: the sharpness penalty (pruned) against free weights (unpruned), the seed-0 models.
    table6 = {
        "With regularisation (pruned)": _pruned_row(models["trainable"], preds["trainable"], test_cache, cfg,
                                                    seed_rows["Trainable Fusion"][0]["mpjpe"]),
        "Without regularisation (free w)": _pruned_row(models["free"], preds["free"], test_cache, cfg,
                                                       seed_rows["Trainable, no penalty (free w)"][0]["mpjpe"],
                                                       use_pruned=False),
    }

    # Table 1 analogue: per action, every method.
    per_action = evaluate.per_action_table(
        {label: evaluate.pose_metrics(preds[s], test_cache.pose_3d)["mpjpe"] for label, s in VARIANTS},
        test_cache.actions)
    per_action_seeds = [evaluate.per_action_table(  # every seed's table: mean +- std per cell
        {label: evaluate.pose_metrics(p[k], test_cache.pose_3d)["mpjpe"] for label, p in seed_preds.items()
         if k < len(p)}, test_cache.actions).as_dict() for k in range(int(seeds))]
    h36m_seeds = None  # every seed's protocol 1 and 2 per action: Table 1 gives mean +- std per cell
    if cfg["data"]["source"] == "h36m":
        h36m_seeds = [{label: _protocol_tables(p[k], test_cache) for label, p in seed_preds.items() if k < len(p)}
                      for k in range(int(seeds))]

    figs = _figures(out, cfg, models, preds, test_cache, figures)
    binary_epoch = _binary_epoch(out / "fusion-trainable" / "fusion_trace.json")
    times["total"] = time.perf_counter() - t_start
    results_all = {"preset": preset, "seed": cfg["seed"], "seeds": int(seeds), "config": cfg,
                   "claims": paper_claims(results), "binary_epoch": binary_epoch,
                   "counts": {"train": len(train_cache), "test": len(test_cache)}, "generator": records_generator(cfg),
                   "table5": results, "table6": table6,
                   "table1": per_action.as_dict(), "table1_seeds": per_action_seeds, "heatmaps_2d": hm_pck, "figures": figs, "seconds": times}
    if h36m_seeds:
        results_all["h36m_table1"], results_all["h36m_table1_seeds"] = h36m_seeds[0], h36m_seeds
    write_json(out / "results.json", results_all)
    md = report_markdown(results_all, per_action, comparison_table)
    write_text(out / "report.md", md)
    if report_dir:
        _copy_report(out, Path(report_dir))
    _log(f"done in {times['total'] / 60:.1f} min -> {out / 'report.md'}")
    return results_all


# The paper's claims about Table 5 and 6, as (sentence, better row, worse rows).
CLAIMS = (
    ("Fusion beats both single streams", "Trainable Fusion", ("Image-Only", "CM-Only")),
    ("Late fusion beats early fusion", "Late Fusion", ("Early Fusion",)),
    ("Trainable fusion beats early and late fusion", "Trainable Fusion", ("Early Fusion", "Late Fusion")),
    ("The regularised (trainable) fusion beats free weights", "Trainable Fusion", ("Trainable, no penalty (free w)",)),
)


def paper_claims(results, claims=CLAIMS):
    """Each claim of ``claims`` (``(sentence, better row, worse rows)``, default the paper's ``CLAIMS``) on
    the rows' MPJPE over the seeds (``{label: {"mpjpe": mean, "mpjpe_std": std (ddof 1), "mpjpe_seeds":
    [...]}}``): ``holds`` when the better row's mean is lower than every worse row's by more than twice
    the standard error of the difference, ``sqrt(s_b^2 / n_b + s_w^2 / n_w)``, ``fails`` when it is
    higher by that much, else ``cannot be told at this noise`` (always, for a row of one seed).
    Claims whose rows are all missing are left out. Returns ``[{"claim", "verdict", "evidence",
    "comparisons": [{"better", "worse", "difference", "two_se", "verdict"}]}]``."""
    out = []
    for sentence, better, worse in claims:
        verdicts, parts, comparisons = [], [], []
        b = results.get(better)
        for w in worse:
            o = results.get(w)
            if b is None or o is None:
                continue
            nb, no = (len(r.get("mpjpe_seeds", [r["mpjpe"]])) for r in (b, o))
            sb, so = b.get("mpjpe_std") or 0.0, o.get("mpjpe_std") or 0.0
            se = float(np.sqrt(sb ** 2 / nb + so ** 2 / no)) if min(nb, no) > 1 else float("nan")
            diff = o["mpjpe"] - b["mpjpe"]  # > 0: the better row is better
            verdict = ("cannot be told at this noise" if not np.isfinite(se) or abs(diff) <= 2 * se
                       else "holds" if diff > 0 else "fails")
            verdicts.append(verdict)
            comparisons.append({"better": better, "worse": w, "difference": float(diff), "two_se": 2 * se,
                                "verdict": verdict})
            parts.append(f"{better} {b['mpjpe']:.1f} vs {w} {o['mpjpe']:.1f} mm (difference {diff:+.1f}, "
                         f"2 x standard error {2 * se:.1f})")
        if not verdicts:
            continue
        verdict = verdicts[0] if len(set(verdicts)) == 1 else (
            "fails" if "fails" in verdicts else "cannot be told at this noise")
        out.append({"claim": sentence, "verdict": verdict, "evidence": "; ".join(parts), "comparisons": comparisons})
    return out


def _pruned_row(model, pred, cache, cfg, mpjpe_unpruned, use_pruned=True):
    """Error and runtime of a fusion network, unpruned and pruned (exactly, or snapped to binary)."""
    from kfusion.eval import metrics
    from kfusion.models.pruning import prune
    from kfusion.eval import evaluate
    from kfusion.train import driver

    row = {"mpjpe_unpruned": mpjpe_unpruned, "ms_per_frame_unpruned": 1000 * fusion_latency(model, cfg),
           "params_unpruned": int(model.count_params())}
    try:
        pruned, row["pruning"] = prune(model), "exact"
    except ValueError as e:
        row["not_binary"] = str(e)
        try:
            pruned, row["pruning"] = prune(model, snap=True), "snapped"
        except ValueError as e2:  # e.g. free weights that do not rise monotonically: no single fusion layer
            pruned, row["pruning"], row["not_prunable"] = None, "impossible", str(e2)
    if pruned is not None:
        p_pred = evaluate.predict_poses(pruned, cache, cfg)
        row["pruned_max_diff_mm"] = float(np.abs(p_pred - pred).max())
        row["mpjpe_pruned"] = float(np.mean(metrics.mpjpe(metrics.root_align(p_pred, cache.pose_3d), cache.pose_3d)))
        row["ms_per_frame_pruned"] = 1000 * fusion_latency(pruned, cfg)
        row["params_pruned"] = int(pruned.count_params())
    else:
        row.update(pruned_max_diff_mm=None, mpjpe_pruned=None, ms_per_frame_pruned=None, params_pruned=None)
    key = "pruned" if use_pruned and pruned is not None else "unpruned"
    row.update(mpjpe=row[f"mpjpe_{key}"], ms_per_frame=row[f"ms_per_frame_{key}"], params=row[f"params_{key}"],
               network=key)
    return row


def _binary_epoch(trace_path, tol=0.01):
    """``binary_epoch`` of the fusion trace file ``trace_path`` (``fusion_trace.json``), or None without one."""
    if not Path(trace_path).is_file():
        return None
    return binary_epoch(json.loads(Path(trace_path).read_text())["epochs"], tol)


def binary_epoch(records, tol=0.01, until=None):
    """The first epoch of fusion-trace ``records`` (``[{"epoch", "weights"}, ...]``, any order) from which
    every weight stays within ``tol`` of 0 or 1, up to epoch ``until`` (None: the last); None when
    the weights are not binary at the end."""
    first = None
    for e in sorted(records, key=lambda r: r["epoch"]):
        if until is not None and e["epoch"] > until:
            break
        w = np.asarray(e["weights"], float)
        first = (first if first is not None else e["epoch"]) if np.all(np.minimum(w, 1 - w) <= tol) else None
    return first


def _fusion_state(model):
    from kfusion.models.fusion import fusion_weights

    try:
        return fusion_weights(model)
    except ValueError:  # single-stream baselines
        return None


def _heatmap_quality(cache):
    """2D quality of the hourglass on the test split: mean pixel error and PCK at 5% of the crop."""
    from kfusion.eval import metrics

    err = np.linalg.norm(cache.joints_2d - cache.joints_2d_gt, axis=-1)
    pck = metrics.pck(cache.joints_2d, cache.joints_2d_gt, threshold=0.05 * cache.input_size)
    return {"mean_px": float(err.mean()), "pck_5pct": float(100 * np.mean(pck)),
            "crop_size_px": int(cache.input_size)}


def _figures(out, cfg, models, preds, test_cache, figures):
    made = {}
    traces = {}
    for label, strategy in (("Trainable fusion", "trainable"), ("Free weights (no penalty)", "free")):
        path = out / f"fusion-{strategy}" / "fusion_trace.json"
        if path.is_file():
            traces[label] = json.loads(path.read_text())["epochs"]
    if traces:
        made["fig4"] = str(figures.fusion_trace_figure(traces, out / "fig4_fusion_trace.png").name)
    try:
        r2, ni, blocks = stream_correlations(models["trainable"], test_cache, cfg)
        made["fig7"] = str(figures.correlation_figure(r2, ni, out / "fig7_stream_correlation.png").name)
        made["fig7_blocks"] = blocks
    except (ValueError, KeyError) as e:
        made["fig7_error"] = str(e)
    idx = np.linspace(0, len(test_cache) - 1, 4).astype(int)
    made["fig5"] = str(figures.examples_figure(
        test_cache.images[idx], test_cache.heatmaps[idx], preds["trainable"][idx], test_cache.pose_3d[idx],
        out / "fig5_examples.png",
        joints_2d=test_cache.joints_2d[idx] * test_cache.images.shape[1] / test_cache.input_size,
        titles=[f"{test_cache.actions[i]} ({test_cache.subjects[i]})" for i in idx]).name)
    return made


def report_markdown(r, per_action, comparison_table):
    cfg = r["config"]
    from kfusion.eval.tables import markdown_table

    def cell(v, m):
        std = v.get(f"{m}_std")
        return f"{v[m]:.1f} ± {std:.1f}" if std is not None else f"{v[m]:.2f}"

    seeds = r.get("seeds", 1)
    seed_text = f"seed {r['seed']}" if seeds == 1 else f"seeds {r['seed']}..{r['seed'] + seeds - 1}"
    t5_md = markdown_table(
        ["Method", "MPJPE (mm)", "PA-MPJPE (mm)", "PCK3D@150 (%)", "AUC (%)", "train (s)", "seeds"],
        [[label, *(cell(v, m) for m in ("mpjpe", "pa_mpjpe", "pck3d", "auc3d", "train_seconds")),
          str(len(v.get("mpjpe_seeds", [0])))] for label, v in r["table5"].items()])
    t6 = {f"{label}, {v['network']} network": {"MPJPE (mm)": v["mpjpe"], "ms/frame (batch 1)": v["ms_per_frame"],
                  "parameters": v["params"]} for label, v in r["table6"].items()}
    h36m = cfg["data"]["source"] == "h36m"
    if h36m:
        title = "Human3.6M motion rendered through Human3.6M's cameras"
        data = (f"Data{made_by(r.get('generator'))}: {r['counts']['train']} training renders of S1, S5-S8 (random frames and cameras) and "
                f"{r['counts']['test']} test renders of S9 and S11 (every {cfg['data']['test_every']}th frame, all "
                f"four cameras, 59 of 60 test sequences: S9 Discussion 1 is missing from our copy), "
                f"{cfg['data']['image_size']} px. Real: the 3D poses, the cameras (extrinsics, intrinsics, "
                f"distortion, frame sizes) and the floor plane; not real: the appearance (kfusion's renderer). "
                f"The paper's numbers are on the real videos, with the `paper` networks trained 200 epochs on "
                f"1.5 M frames; ours are CPU-sized networks trained minutes: compare orderings, not values.")
        command = (f"kfusion reproduce --preset {r['preset']} --config configs/h36m-render.yaml "
                   f"--out {cfg['output_dir']} --set data.root={cfg['data']['root']} "
                   f"--set data.num_train={cfg['data']['num_train']}")
    else:
        title = "the synthetic benchmark"
        data = f"Data{made_by(r.get('generator'))}: {cfg['data']['num_train']} training and {cfg['data']['num_test']} test renders " \
               f"({cfg['data']['image_size']} px)."
        command = f"kfusion reproduce --preset {r['preset']} --out {cfg['output_dir']}" + \
            (f" --seeds {seeds}" if seeds > 1 else "")
    lines = [
        f"# kfusion reproduction on {title} (preset `{r['preset']}`, {seed_text})", "",
        f"Command: `{command}`. {data} Hourglass `{cfg['hourglass']['preset']}` "
        f"({cfg['hourglass']['epochs']} epochs), fusion networks `{cfg['fusion']['preset']}` "
        f"({cfg['fusion']['epochs']} epochs, input {cfg['fusion']['input_size']} px, lambda "
        f"{cfg['fusion']['penalty']:g}, alpha0 {cfg['fusion']['alpha_init']}). This run took "
        f"{r['seconds']['total'] / 60:.1f} min (a resumed run only loads the trained models: each model's "
        f"own training time is in Table 5's last column).", "",
        f"Hourglass on the test split: mean 2D error {r['heatmaps_2d']['mean_px']:.2f} px on a "
        f"{r['heatmaps_2d']['crop_size_px']} px crop, PCK@5% {r['heatmaps_2d']['pck_5pct']:.1f} %.", "",
        "## Table 5 analogue: fusion strategies and baselines (test split)", "",
        t5_md, "",
        (f"Fusion networks: mean ± std over {seeds} seeds (the standard deviation of the seeds, ddof 1); "
         "the lifting baselines: one seed." if seeds > 1 else "One seed: differences of a few mm cannot be "
         "told from noise (run `--seeds 3`)."), "",
        "Paper (Human3.6M): Image-Only 124.13, CM-Only 79.28, Early 76.41, Late 74.12, Trainable 69.73 mm.", "",
        "### The paper's claims at this noise", "",
        *[f"- **{c['claim']}: {c['verdict']}.** {c['evidence']}." for c in r.get("claims", [])], "",
        "## Table 6 analogue: the sharpness penalty", "",
        comparison_table(t6), "",
        "Paper (Eating): with regularisation 60.17 mm at 6 ms/frame, without 68.30 mm at 13 ms/frame.", "",
    ]
    for label, v in r["table6"].items():
        head = (f"- {label}: unpruned {v['mpjpe_unpruned']:.2f} mm at {v['ms_per_frame_unpruned']:.3f} ms/frame "
                f"({v['params_unpruned']} parameters); ")
        if v["pruning"] == "impossible":
            lines += [head + f"it cannot be pruned ({v['not_prunable']})."]
            continue
        how = ("exact: its weights were binary" if v["pruning"] == "exact" else
               "snapped: its weights were not yet binary, so the pruned network is the indicator limit")
        lines += [head + f"pruned ({how}) {v['mpjpe_pruned']:.2f} mm at "
                  f"{v['ms_per_frame_pruned']:.3f} ms/frame ({v['params_pruned']} parameters), max difference "
                  f"to the unpruned output {v['pruned_max_diff_mm']:.3g} mm."]
    tr = r["table5"].get("Trainable Fusion", {}).get("fusion")
    if tr:
        lines += ["", f"Learned fusion (seed {r['seed']}): alpha {np.asarray(tr['alpha']).item():.3f}, beta "
                      f"{np.asarray(tr['beta']).item():.3f}, w = "
                      f"[{', '.join(f'{w:.3f}' for w in tr['weights'])}]"
                      + (f"; binary (every w within 0.01 of 0 or 1) from epoch {r['binary_epoch']} on."
                         if r.get("binary_epoch") is not None else "; not binary at the end of training.")]
    per_seed = r["table5"].get("Trainable Fusion", {}).get("seeds_fusion") or []
    if len(per_seed) > 1:
        lines += [f"Every seed of the trainable fusion: " + "; ".join(
            f"alpha {np.asarray(q['alpha']).item():.2f}, beta {np.asarray(q['beta']).item():.2f}"
            f" ({'binary' if q['binary'] else 'not binary'})" for q in per_seed) + "."]
    if "h36m_table1" in r:
        lines += ["", *h36m_table1_markdown(r.get("h36m_table1_seeds") or [r["h36m_table1"]])]
    else:
        lines += ["", "## Table 1 analogue: MPJPE per action (mm)", "",
                  *(table1_over_seeds(r["table1_seeds"]) if len(r.get("table1_seeds", [])) > 1
                    else [per_action.to_markdown(row_label="Method")]), ""]
    f = r["figures"]
    lines += ["## Figures", ""]
    if "fig4" in f:
        lines += ["Fig. 4 analogue, alpha, beta and w_l over training:", "", f"![fig4]({f['fig4']})", ""]
    if "fig7" in f:
        b = f["fig7_blocks"]
        lines += [f"Fig. 7 analogue, R^2 between stream features at the last conv block (128 test images): "
                  f"mean image-image {b['image_image']:.3f}, CM-CM {b['cm_cm']:.3f}, image-CM "
                  f"{b['image_cm']:.3f} ({b['dead_channels']} dead channels left out).", "",
                  f"![fig7]({f['fig7']})", ""]
    lines += ["Fig. 5 analogue, test inputs, confidence maps, predicted and ground-truth 3D poses:", "",
              f"![fig5]({f['fig5']})", ""]
    secs = r["seconds"]
    lines += ["## Time", "", " | ".join(f"{k}: {v / 60:.1f} min" for k, v in secs.items()), ""]
    return "\n".join(lines)


def seed_cell(values, digits=2):
    """A table cell over seeds: ``mean ± std`` (ddof 1, one decimal) for several, the value itself
    (``digits`` decimals) for one, ``-`` where a value is missing."""
    from kfusion.eval.tables import format_value

    if any(v is None for v in values):
        return "-"
    v = np.asarray(values, float)
    return f"{v.mean():.1f} ± {v.std(ddof=1):.1f}" if len(v) > 1 else format_value(float(v[0]), digits)


def table1_over_seeds(tables):
    """Markdown lines of per-action tables of several seeds (``Table.as_dict()`` each): mean ± std of
    every cell over the seeds a row has (one seed: its value)."""
    from kfusion.eval.tables import AVERAGE_LABEL, markdown_table

    columns = tables[0]["columns"]
    rows = []
    for label in tables[0]["rows"]:
        present = [t for t in tables if label in t["rows"]]

        def cell(get):
            return seed_cell([get(t) for t in present], digits=1)

        rows.append([label, *(cell(lambda t, c=c: t["values"][label][c]) for c in columns),
                     cell(lambda t: t["average"][label]), str(len(present))])
    return [markdown_table(["Method", *columns, AVERAGE_LABEL, "seeds"], rows),
            "", "Mean ± std over the seeds of each row (the lifting baselines: one seed)."]


def h36m_table1_markdown(seed_tables):
    """Table 1 in the paper's column order, protocol 1 and 2, every method of ours and the paper's row.

    ``seed_tables``: one ``{label: {"protocol1": ..., "protocol2": ...}}`` per seed (``h36m_tables``'
    ``table1`` and ``table2``); a cell is the mean ± std over the seeds its row has, with a ``seeds``
    column when there are several.
    """
    from kfusion.datasets.h36m import ACTIONS
    from kfusion.eval.tables import format_value, markdown_table

    several = len(seed_tables) > 1
    header = ["Method", *ACTIONS, "Avg."] + (["seeds"] if several else [])
    lines = []
    for key, name, col in (("protocol1", "protocol 1, MPJPE", "mpjpe"), ("protocol2", "protocol 2, PA-MPJPE", "pa_mpjpe")):
        rows = []
        for label in seed_tables[0]:
            present = [t[label][key] for t in seed_tables if label in t]
            rows.append([label, *(seed_cell([t[col][a] for t in present]) for a in ACTIONS),
                         seed_cell([t["avg_all"] for t in present])] + ([str(len(present))] if several else []))
        if key == "protocol1":
            rows.append(["Tekin et al. 2017 (paper, real images)", *(format_value(PAPER_TABLE1[a]) for a in ACTIONS),
                         format_value(PAPER_TABLE1["Avg. (All)"])] + (["-"] if several else []))
        lines += [f"## Table 1 analogue ({name}, mm; Avg. = mean over the 15 actions)", "",
                  markdown_table(header, rows), ""]
    if several:
        lines += ["Mean ± std over the seeds of each row (the lifting baselines: one seed).", ""]
    lines += ["The paper reports protocol 2 only as an average: 50.12 mm (its Table 2).", ""]
    return lines


def _copy_report(out, dest):
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for name in ("report.md", "results.json", "fig4_fusion_trace.png", "fig5_examples.png",
                 "fig7_stream_correlation.png"):
        if (out / name).is_file():
            shutil.copy2(out / name, dest / name)
