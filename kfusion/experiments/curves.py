"""`kfusion reproduce --curves 12,36,72`: learning curves of the fusion strategies, and where the
fusion point comes from.

Every variant of ``VARIANTS`` and seed is trained **once**, to the largest budget, and measured on
the test split when it completes each budget (``kfusion.train.callbacks.BudgetEvaluation``: the
network of that epoch, saved as ``checkpoints/budget-NNN.keras``). Runs are trained budget by budget,
round-robin (every variant and seed to 12 epochs, then every one on to 36, ...): a run continues
from its backup (``BackupAndRestore``), so a session stopped by ``--until``, ``--hours`` or a kill
leaves every smaller budget complete, and the same command run again goes on where it stopped. A
resumed chunk restarts the input pipeline (its epochs are shuffled as the first chunk's were).

The fusion point is settled (``fusion.settle_at``) as a fraction of ``fusion.epochs``, which is set
to the first budget: at every budget the settled networks have settled, at the same epoch as in a
run of the first budget's length (``--set fusion.epochs=72`` makes it a fraction of 72 instead).

Time (the 2-core CPU, estimated from ``docs/results/results.json``, the ``quick`` preset's fusion
networks: 151-220 s for 12 epochs of 8000 samples with validation on the 1000 test renders, about
15.5 s an epoch): one variant and seed to 12 / 36 / 72 epochs takes about 3 / 9 / 19 minutes;
part 1 (4 variants x 3 seeds) to 36 epochs about 1.9 h and to 72 about 3.7 h; all 7 variants x 3
seeds to 36 epochs about 3.3 h, to 72 about 6.5 h; the hourglass (6 epochs, 9.7 min) comes first.
"""
import sys
import time
from pathlib import Path

import numpy as np

from kfusion import config as config_mod
from kfusion.errors import KfusionError
from kfusion.experiments import reproduce
from kfusion.io import read_json, write_json, write_text

BUDGETS = (12, 36, 72)  # epochs
BINARY_TOL = 0.01  # a fusion weight is binary within this of 0 or 1

# (key, row label, fusion strategy, config overrides, parts of the experiment). Part 1: the paper's
# comparison against training length; part 2: where the fusion point comes from. The labels of the
# first four are Table 5's (kfusion.experiments.reproduce.VARIANTS), which the paper's claims name.
VARIANTS = (
    ("early", "Early Fusion", "early", {}, (1,)),
    ("late", "Late Fusion", "late", {}, (1,)),
    ("trainable", "Trainable Fusion", "trainable", {"fusion.settle_at": 0.5}, (1, 2)),
    ("free", "Trainable, no penalty (free w)", "free", {}, (1,)),
    ("settle-0.8", "Trainable, settled at 0.8", "trainable", {"fusion.settle_at": 0.8}, (2,)),
    ("settle-off", "Trainable, never settled", "trainable", {"fusion.settle_at": None}, (2,)),
    ("paper", "Trainable, the paper's setting", "trainable",
     {"fusion.alpha_optimizer": "shared", "fusion.penalty": 5000.0, "fusion.settle_at": None}, (2,)),
)
PARTS = {1: "learning curves (Early, Late, Trainable, Free)",
         2: "the fusion point (settle_at 0.5, 0.8, off; the paper's one Adam with lambda 5e3)"}

# Part 2's questions, judged as the paper's claims are: (sentence, better row, worse rows).
QUESTIONS = (
    ("Settling beta at floor(beta) + 0.5 costs accuracy (never settled beats settled at 0.5)",
     "Trainable, never settled", ("Trainable Fusion",)),
    ("Settling later costs less (settled at 0.8 beats settled at 0.5)", "Trainable, settled at 0.8",
     ("Trainable Fusion",)),
    ("The paper's setting (one Adam, lambda 5e3, beta free) beats the sharp settled fusion",
     "Trainable, the paper's setting", ("Trainable Fusion",)),
)
METRICS = ("mpjpe", "pa_mpjpe", "pck3d", "auc3d")
REPORT = "learning-curves"  # .md, .json, .png


def _log(msg):
    print(f"[curves {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_budgets(text):
    """``"12,36,72"`` -> ``(12, 36, 72)`` (sorted, distinct, each >= 1)."""
    try:
        budgets = sorted({int(t) for t in str(text).split(",") if t.strip()})
    except ValueError:
        budgets = []
    if not budgets or budgets[0] < 1:
        raise KfusionError(f"--curves {text!r}: expected epoch counts >= 1 separated by commas, e.g. 12,36,72")
    return tuple(budgets)


def select_variants(keys=None):
    """The ``VARIANTS`` named by ``keys`` (a list or a comma-separated string; None: all), in their order."""
    if keys is None:
        return VARIANTS
    wanted = [k.strip() for k in (keys.split(",") if isinstance(keys, str) else keys) if k.strip()]
    known = [v[0] for v in VARIANTS]
    bad = [k for k in wanted if k not in known]
    if bad or not wanted:
        raise KfusionError(f"--variants {','.join(wanted) or keys!r}: unknown {bad or 'none given'}; "
                           f"expected some of {','.join(known)}")
    return tuple(v for v in VARIANTS if v[0] in wanted)


def curves_config(preset, base_config, out, budgets, overrides=None):
    """The preset's config with ``fusion.epochs`` = the first budget (the length ``settle_at`` is a
    fraction of), then ``overrides``."""
    cfg = reproduce.preset_config(preset, base_config, out, {"fusion.epochs": int(budgets[0])})
    for key, value in (overrides or {}).items():
        cfg = config_mod.override(cfg, key, value)
    return cfg


def variant_config(cfg, variant, k):
    """The config of ``variant`` with seed ``cfg["seed"] + k``."""
    for key, value in variant[3].items():
        cfg = config_mod.override(cfg, key, value)
    return config_mod.override(cfg, "seed", cfg["seed"] + int(k))


def run_dir(out, key, k):
    return Path(out) / key / f"seed{int(k)}"


def read_state(folder):
    """A run's ``budgets.json`` (what ``BudgetEvaluation`` wrote), or the state of a run not started."""
    path = Path(folder) / "budgets.json"
    if path.is_file():
        return read_json(path)
    return {"epochs_done": 0, "seconds": {}, "budgets": {}}


def fusion_state(network, tol=BINARY_TOL):
    """``{"alpha", "beta", "weights", "binary", "fusion_layer"}`` of a fusion network ({} without fusion
    weights): ``binary`` when every weight is within ``tol`` of 0 or 1; ``fusion_layer`` the layer it
    fuses at (``models.pruning.fusion_point``), else the one of the indicator its weights tend to
    (``snapped_fusion_point``), None for free weights that do not rise monotonically."""
    from kfusion.models.fusion import fusion_weights
    from kfusion.models.pruning import fusion_point, snapped_fusion_point

    try:
        state = fusion_weights(network)
    except ValueError:  # single-stream baselines
        return {}
    w = np.asarray(state["weights"], float)
    out = {"alpha": state["alpha"], "beta": state["beta"], "weights": w.tolist(),
           "binary": bool(np.all(np.minimum(w, 1 - w) <= tol))}
    try:
        out["fusion_layer"] = fusion_point(w, tol=tol)
    except ValueError:
        try:
            out["fusion_layer"] = snapped_fusion_point(network)
        except ValueError:
            out["fusion_layer"] = None
    return out


def measure_on(test_cache, cfg):
    """``measure(network)`` for ``BudgetEvaluation``: the test split's errors (mm, %) and the fusion state."""
    from kfusion.eval import evaluate

    def measure(network):
        pred = evaluate.predict_poses(network, test_cache, cfg)
        row = {m: float(np.mean(v)) for m, v in evaluate.pose_metrics(pred, test_cache.pose_3d).items()}
        row.update(fusion_state(network))
        return row

    return measure


def train_to(cfg, variant, folder, budget, budgets, train_cache, test_cache, verbose=2):
    """Train (or continue) one variant's run in ``folder`` up to ``budget`` epochs, measured at ``budgets``."""
    from kfusion.train import driver
    from kfusion.train.callbacks import BudgetEvaluation

    folder = Path(folder)
    driver.check_resumable(cfg, folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "config.json", cfg)
    evaluation = BudgetEvaluation(folder / "budgets.json", budgets, measure_on(test_cache, cfg),
                                  save_pattern=folder / "checkpoints" / "budget-{epoch:03d}.keras")
    driver.train_fusion(cfg, train_cache, test_cache, folder, strategy_name=variant[2], epochs=budget,
                        verbose=verbose, callbacks=[evaluation])


def _seconds_per_epoch(out, variants, seeds, key):
    """Wall seconds an epoch (measurements included) of ``key``'s runs so far, else of any run; None."""
    def rate(keys):
        wall = epochs = 0.0
        for v in variants:
            if v[0] not in keys:
                continue
            for k in range(seeds):
                s = read_state(run_dir(out, v[0], k))
                wall += s["seconds"].get("train_wall", 0.0) + s["seconds"].get("measure_wall", 0.0)
                epochs += s["epochs_done"]
        return wall / epochs if epochs else None

    return rate({key}) or rate({v[0] for v in variants})


def run(preset="quick", out="runs/curves", base_config="configs/synthetic.yaml", budgets=BUDGETS, seeds=1,
        variants=None, until=None, hours=None, hourglass=None, workers=None, report_dir=None, overrides=None,
        verbose=2):
    """Train every variant and seed round-robin up to each budget (``until``: none beyond it this time;
    ``hours``: start no chunk that would end later than this many hours after the start, by the
    epochs' times so far), rewriting ``<out>/learning-curves.md`` after each; returns the results."""
    t_start = time.perf_counter()
    budgets = parse_budgets(",".join(map(str, budgets)))
    if int(seeds) < 1:
        raise KfusionError(f"--seeds is {seeds}; expected >= 1")
    chosen = select_variants(variants)
    out = Path(out)
    cfg = curves_config(preset, base_config, out, budgets, overrides)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", cfg)
    setup_path = out / "setup_seconds.json"
    wall, cpu = time.perf_counter(), time.process_time()
    train_cache, test_cache, setup = reproduce.hourglass_and_caches(cfg, out, workers=workers, verbose=verbose,
                                                                    hourglass=hourglass)
    plan_path = out / "curves.json"
    earlier = set(read_json(plan_path)["variants"]) if plan_path.is_file() else set()
    reported = [v[0] for v in VARIANTS if v[0] in earlier | {c[0] for c in chosen}]  # every run's variants
    write_json(plan_path, {
        "preset": preset, "base_config": str(base_config), "budgets": list(budgets), "seeds": int(seeds),
        "variants": reported, "overrides": dict(overrides or {}),
        "hourglass": None if hourglass is None else str(hourglass),
        "counts": {"train": len(train_cache), "test": len(test_cache)}, "generator": reproduce.records_generator(cfg)})
    if not setup_path.is_file():  # the session that rendered, trained the hourglass and predicted the caches
        write_json(setup_path, {**setup, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu})
    deadline = None if hours is None else t_start + float(hours) * 3600.0
    for budget in budgets:
        if until is not None and budget > int(until):
            _log(f"--until {until}: stopping before budget {budget}")
            break
        for k in range(int(seeds)):
            for variant in chosen:
                folder = run_dir(out, variant[0], k)
                state = read_state(folder)
                if str(budget) in state["budgets"]:
                    continue
                if state["epochs_done"] >= budget:
                    _log(f"{folder}: trained {state['epochs_done']} epochs, past budget {budget} unmeasured; skipped")
                    continue
                rate = _seconds_per_epoch(out, chosen, int(seeds), variant[0])
                if deadline is not None and rate and \
                        time.perf_counter() + rate * (budget - state["epochs_done"]) > deadline:
                    _log(f"--hours {hours}: {variant[0]} seed {k} to {budget} epochs would end after the limit; "
                         "stopping (run the same command again to go on)")
                    return report(out, report_dir)
                _log(f"{variant[1]} (seed {k}): epochs {state['epochs_done']} -> {budget} in {folder}")
                train_to(variant_config(cfg, variant, k), variant, folder, budget, budgets, train_cache, test_cache,
                         verbose=verbose)
                entry = read_state(folder)["budgets"].get(str(budget))
                if entry:
                    _log(f"{variant[1]} (seed {k}) at {budget} epochs: MPJPE {entry['mpjpe']:.1f} mm")
                report(out, report_dir)
    return report(out, report_dir)


# ------------------------------------------------------------------------ results and report (no TensorFlow)
def _stats(values):
    v = np.asarray([x for x in values if x is not None], float)
    return (float(v.mean()) if len(v) else None), (float(v.std(ddof=1)) if len(v) > 1 else None)


def collect(out, budgets, seeds, variants):
    """Per budget, the rows of the variants over the seeds measured there: ``{budget: {label: row}}``;
    a row has ``<metric>``, ``<metric>_std`` (ddof 1; None for one seed) and ``<metric>_seeds`` for
    ``METRICS``, ``alpha``, ``beta``, ``binary_epoch`` (the first epoch from which every weight stays
    within ``BINARY_TOL`` of 0 or 1, up to the budget; None where not binary), ``fusion_layer``, the
    seeds measured and the training time up to the budget. Also returns the per-epoch validation MPJPE
    curves ``{label: (epochs, (S, E) values)}`` from the fusion traces."""
    rows = {b: {} for b in budgets}
    curves = {}
    for key, label, *_ in variants:
        traces = []
        for k in range(seeds):
            folder = run_dir(out, key, k)
            trace_path = folder / "fusion_trace.json"
            trace = read_json(trace_path)["epochs"] if trace_path.is_file() else []
            traces.append(trace)
            state = read_state(folder)
            for b in budgets:
                entry = state["budgets"].get(str(b))
                if entry is None:
                    continue
                entry = dict(entry, seed=k, binary_epoch=reproduce.binary_epoch(trace, BINARY_TOL, until=b)
                             if entry.get("binary") else None)
                rows[b].setdefault(label, []).append(entry)
        epochs = sorted({r["epoch"] for t in traces for r in t if r.get("val_mpjpe") is not None})
        if epochs:
            values = np.full((seeds, len(epochs)), np.nan)
            for k, t in enumerate(traces):
                for r in t:
                    if r.get("val_mpjpe") is not None:
                        values[k, epochs.index(r["epoch"])] = r["val_mpjpe"]
            curves[label] = (epochs, values)
    table = {}
    for b, by_label in rows.items():
        table[b] = {}
        for label, entries in by_label.items():
            row = {"seeds": [e["seed"] for e in entries]}
            for m in (*METRICS, "alpha", "beta", "train_cpu_seconds", "train_wall_seconds"):
                values = [e.get(m) for e in entries]
                row[m], row[f"{m}_std"] = _stats(values)
                row[f"{m}_seeds"] = values
            row["binary_epoch_seeds"] = [e.get("binary_epoch") for e in entries]
            row["fusion_layer_seeds"] = [e.get("fusion_layer") for e in entries]
            table[b][label] = row
    return table, curves


def seconds(out, seeds, variants):
    """Time spent: ``{"setup": {...}, "variants": {key: {"wall", "cpu"}}, "parts": {part: {"wall", "cpu"}}}``
    (training and measuring, summed over seeds and sessions; a variant in two parts counts in both)."""
    setup_path = Path(out) / "setup_seconds.json"
    result = {"setup": read_json(setup_path) if setup_path.is_file() else None, "variants": {},
              "parts": {p: {"wall": 0.0, "cpu": 0.0} for p in PARTS}}
    for key, _, _, _, parts in variants:
        s = [read_state(run_dir(out, key, k))["seconds"] for k in range(seeds)]
        t = {"wall": sum(x.get("train_wall", 0.0) + x.get("measure_wall", 0.0) for x in s),
             "cpu": sum(x.get("train_cpu", 0.0) + x.get("measure_cpu", 0.0) for x in s)}
        result["variants"][key] = t
        for p in parts:
            result["parts"][p]["wall"] += t["wall"]
            result["parts"][p]["cpu"] += t["cpu"]
    return result


def judge(table):
    """The paper's claims (``reproduce.CLAIMS`` whose rows were run) and part 2's ``QUESTIONS``, per budget."""
    return {b: {"claims": reproduce.paper_claims(rows), "questions": reproduce.paper_claims(rows, QUESTIONS)}
            for b, rows in table.items()}


def report(out, report_dir=None):
    """Write ``<out>/learning-curves.{md,json,png}`` from the run folder (and copy them to ``report_dir``);
    returns the results dict. Needs no TensorFlow: ``--report-only`` runs this alone."""
    from kfusion.eval.figures import learning_curves_figure

    out = Path(out)
    plan = read_json(out / "curves.json")
    cfg = read_json(out / "config.json")
    budgets, seeds = tuple(plan["budgets"]), int(plan["seeds"])
    variants = select_variants(plan["variants"])
    table, curves = collect(out, budgets, seeds, variants)
    verdicts = judge(table)
    results = {"plan": plan, "config": cfg, "budgets": {str(b): {"rows": table[b], **verdicts[b]} for b in budgets},
               "curves": {label: {"epochs": e, "val_mpjpe": [[None if np.isnan(x) else float(x) for x in s] for s in v]}
                          for label, (e, v) in curves.items()},
               "seconds": seconds(out, seeds, variants)}
    points = {}
    for _, label, *_ in variants:
        measured = [b for b in budgets if label in table[b]]
        if measured:
            points[label] = (measured, [table[b][label]["mpjpe"] for b in measured],
                             [np.nan if table[b][label]["mpjpe_std"] is None else table[b][label]["mpjpe_std"]
                              for b in measured])
    if points:
        learning_curves_figure(curves, points, out / f"{REPORT}.png", ylabel="test MPJPE (mm)")
    write_json(out / f"{REPORT}.json", results)
    write_text(out / f"{REPORT}.md", report_markdown(results, variants, figure=bool(points)))
    if report_dir:
        import shutil

        dest = Path(report_dir)
        dest.mkdir(parents=True, exist_ok=True)
        for suffix in (".md", ".json", ".png"):
            if (out / f"{REPORT}{suffix}").is_file():
                shutil.copy2(out / f"{REPORT}{suffix}", dest / f"{REPORT}{suffix}")
    return results


def command_line(plan, cfg):
    """The `kfusion reproduce --curves` command of a run's plan."""
    parts = [f"kfusion reproduce --curves {','.join(map(str, plan['budgets']))} --preset {plan['preset']}",
             f"--seeds {plan['seeds']} --out {cfg['output_dir']}"]
    if plan["base_config"] != "configs/synthetic.yaml":
        parts.append(f"--config {plan['base_config']}")
    if plan["variants"] != [v[0] for v in VARIANTS]:
        parts.append(f"--variants {','.join(plan['variants'])}")
    if plan.get("hourglass"):
        parts.append(f"--hourglass {plan['hourglass']}")
    parts += [f"--set {k}={_yaml(v)}" for k, v in plan["overrides"].items()]
    return " ".join(parts)


def _yaml(value):
    """A value as ``--set`` reads it (YAML): null, true, false, numbers and plain strings."""
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _cell(row, m, digits=1):
    if row.get(m) is None:
        return "-"
    std = row.get(f"{m}_std")
    return f"{row[m]:.{digits}f} ± {std:.{digits}f}" if std is not None else f"{row[m]:.{digits}f}"


def _listed(values):
    return ", ".join("-" if v is None else str(v) for v in values)


def _verdict_cell(claim):
    def noise(two_se):
        return f"2 SE {two_se:.1f}" if np.isfinite(two_se) else "one seed: no SE"

    diffs = "; ".join(f"{c['difference']:+.1f} vs {c['worse']} ({noise(c['two_se'])})" for c in claim["comparisons"])
    return f"**{claim['verdict']}**: {diffs}"


def report_markdown(results, variants, figure=True):
    from kfusion.eval.tables import markdown_table
    from kfusion.train.stages import settle_epoch

    plan, cfg = results["plan"], results["config"]
    budgets = [int(b) for b in results["budgets"]]
    f, data = cfg["fusion"], cfg["data"]
    counts = plan.get("counts") or {"train": data["num_train"], "test": data["num_test"]}
    settle = {v[0]: settle_epoch(variant_config(config_mod.from_dict(cfg), v, 0)) for v in variants
              if v[2] == "trainable"}
    lines = [
        f"# Learning curves and the fusion point (preset `{plan['preset']}`, seeds "
        f"{cfg['seed']}..{cfg['seed'] + plan['seeds'] - 1}, budgets {', '.join(map(str, budgets))} epochs)", "",
        f"Command: `{command_line(plan, cfg)}` (run again, it goes on where it stopped). Data: "
        + (f"{counts['train']} training and {counts['test']} test renders ({data['image_size']} px) of the "
           "synthetic benchmark" + reproduce.made_by(plan.get("generator")) if data["source"] == "synthetic" else
           f"Human3.6M motion rendered through its cameras ({counts['train']} training renders of S1, S5-S8; "
           f"{counts['test']} test renders, every {data['test_every']}th frame of S9 and S11)")
        + f"; hourglass `{cfg['hourglass']['preset']}` ({cfg['hourglass']['epochs']} epochs), fusion networks "
        f"`{f['preset']}` (input {f['input_size']} px, batch {f['batch_size']}, learning rate {f['learning_rate']:g}, "
        f"lambda {f['penalty']:g} and alpha on its own Adam unless the variant says otherwise).", "",
        "Each variant and seed is **one** training run, measured on the test split when it has trained each "
        "budget (the network of that epoch, not a shorter run of its own). `fusion.settle_at` is a fraction "
        f"of `fusion.epochs` = {f['epochs']}: "
        + ", ".join(f"`{k}` settles beta after {e} epochs" if e is not None else f"`{k}` never settles"
                    for k, e in settle.items())
        + "; every later budget trains on with that fusion point.", "",
        markdown_table(["Variant", "Row", "Strategy", "Overrides", "Part"],
                       [[f"`{key}`", label, strategy, ", ".join(f"`{k}={_yaml(v)}`" for k, v in over.items()) or "-",
                         ", ".join(map(str, parts))] for key, label, strategy, over, parts in variants],
                       align="lllll"), "",
    ]
    if figure:
        lines += [f"![learning curves]({REPORT}.png)", "",
                  "Lines: the validation MPJPE after every epoch (Keras' metric on the test split, which does not "
                  "align the predicted root; mean over the seeds, band ± one std); points: the measurements at the "
                  "budgets, root-aligned as in the tables (mean ± std).", ""]
    for b in budgets:
        rows = results["budgets"][str(b)]["rows"]
        lines += [f"## After {b} epochs", ""]
        if not rows:
            lines += ["Not reached yet.", ""]
            continue
        lines += [markdown_table(
            ["Method", "MPJPE (mm)", "PA-MPJPE (mm)", "binary from epoch (per seed)", "fusion layer (per seed)",
             "alpha", "beta", "seeds"],
            [[label, _cell(r, "mpjpe"), _cell(r, "pa_mpjpe"), _listed(r["binary_epoch_seeds"]),
              _listed(r["fusion_layer_seeds"]), _cell(r, "alpha", 2), _cell(r, "beta", 2), str(len(r["seeds"]))]
             for label, r in rows.items()]), ""]
    for title, key in (("The paper's claims at each budget", "claims"),
                       ("Where the fusion point comes from: the questions at each budget", "questions")):
        sentences = list(dict.fromkeys(c["claim"] for b in budgets for c in results["budgets"][str(b)][key]))
        if not sentences:
            continue
        lines += [f"## {title}", "",
                  "Verdicts at twice the standard error of the difference (`holds`: the first row's MPJPE is "
                  "lower by more than that; `fails`: higher by more; else it cannot be told at this noise); a "
                  "difference is the other row's MPJPE minus the first's (mm).", ""]
        cells = {(c["claim"], b): _verdict_cell(c) for b in budgets for c in results["budgets"][str(b)][key]}
        lines += [markdown_table(["Claim", *(f"{b} epochs" for b in budgets)],
                                 [[s, *(cells.get((s, b), "-") for b in budgets)] for s in sentences],
                                 align="l" * (1 + len(budgets))), ""]
    t = results["seconds"]
    lines += ["## Time", "", "Training and measuring, summed over the seeds and sessions (CPU: all threads of "
              "the process, `time.process_time`); a variant in both parts counts in both.", ""]
    time_rows = [[f"part {p}: {PARTS[p]}", f"{v['wall'] / 3600:.2f}", f"{v['cpu'] / 3600:.2f}"]
                 for p, v in t["parts"].items()]
    time_rows += [[f"`{k}`", f"{v['wall'] / 3600:.2f}", f"{v['cpu'] / 3600:.2f}"] for k, v in t["variants"].items()]
    if t["setup"]:
        time_rows.append(["setup: benchmark, hourglass, heatmap caches", f"{t['setup']['wall'] / 3600:.2f}",
                          f"{t['setup']['cpu'] / 3600:.2f}"])
    lines += [markdown_table(["What", "wall (h)", "CPU (h)"], time_rows), ""]
    return "\n".join(lines)
