"""Hyper-parameter search over the trainable fusion with keras-tuner (``kfusion tune``).

The search space is the paper's two knobs of Eq. 3 and 4: lambda (``fusion.penalty``, log scale)
and the initial beta (``fusion.beta_init``, in [0, L - 1] for a network of L fusion blocks), and
optionally the initial alpha (``fusion.alpha_init``, log scale). Each trial builds the fusion
network of its merged config (``stages.build_fusion_from_config``) and fits it on the heatmap
caches of a run; the objective is the validation MPJPE (mm) of its best epoch.

Outputs in ``out_dir``: ``tuner/`` (keras-tuner's own state: an interrupted search resumes from it),
``trials.csv`` and ``trials.md`` (one row per trial, best first), ``best_config.yaml`` (the merged,
validated config of the best trial).

Distributed search: keras-tuner's own chief/worker mode. Every process runs the same
``kfusion tune`` with ``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT`` and
``KERASTUNER_TUNER_ID`` (``chief`` for the oracle, ``tuner0``, ``tuner1``, ... for the workers)
set; the chief writes the tables and the best config when the search is over.
"""
import csv
import io
import math
import os
from pathlib import Path

from kfusion import config as config_mod
from kfusion.errors import KfusionError
from kfusion.io import write_text
from kfusion.data import cache as cache_lib
from kfusion.train import stages

OBJECTIVES = {"val_mpjpe": "min", "val_loss": "min", "mpjpe": "min", "loss": "min"}
PENALTY_RANGE = (1e2, 1e5)  # lambda, with the data loss in mm^2
ALPHA_RANGE = (0.01, 1.0)


def num_fusion_blocks(cfg):
    """L of the config's fusion network: the preset's hidden blocks plus the output FC."""
    from kfusion.models.fusion import PRESETS

    preset = cfg["fusion"]["preset"]
    if preset not in PRESETS:
        raise KfusionError(f"fusion.preset is {preset!r}; expected one of {list(PRESETS)}")
    return len(PRESETS[preset]["blocks"]) + 1


def trial_config(cfg, values):
    """``cfg`` with a trial's hyper-parameters (``{"penalty", "beta_init", ["alpha_init"]}``) merged in."""
    out = config_mod.override(cfg, "fusion.strategy", "trainable")
    for key, value in values.items():
        out = config_mod.override(out, f"fusion.{key}", float(value))
    return config_mod.from_dict(out, origin="tuned config")


def make_hypermodel(cfg, train_cache, val_cache, *, tune_alpha=False, penalty_range=PENALTY_RANGE):
    """A ``keras_tuner.HyperModel`` that builds and fits one trainable fusion network per trial.

    Args:
        cfg: the validated base config (its ``fusion`` section gives preset, batch size, lr).
        train_cache, val_cache: ``cache_lib.HeatmapCache`` of the training and validation splits.
        tune_alpha: also search ``fusion.alpha_init`` in ``ALPHA_RANGE`` (log scale).
        penalty_range: (low, high) of lambda, log scale.
    """
    import keras_tuner

    last_block = num_fusion_blocks(cfg) - 1

    class FusionHyperModel(keras_tuner.HyperModel):
        def declare(self, hp):
            values = {"penalty": hp.Float("penalty", penalty_range[0], penalty_range[1], sampling="log"),
                      "beta_init": hp.Float("beta_init", 0.0, float(last_block))}
            if tune_alpha:
                values["alpha_init"] = hp.Float("alpha_init", ALPHA_RANGE[0], ALPHA_RANGE[1], sampling="log")
            return values

        def build(self, hp):  # the fusion stage of the trial's config, with kfusion's training step
            stage = stages.fusion_stage(trial_config(cfg, self.declare(hp)), train_cache, val_cache)
            return stage.compile(stage.build(), cfg["train"]["jit_compile"])

        def fit(self, hp, model, *args, **kwargs):
            train = cache_lib.fusion_dataset(train_cache, cfg, training=True)
            val = cache_lib.fusion_dataset(val_cache, cfg, training=False)
            kwargs.setdefault("steps_per_epoch", cfg["train"]["steps_per_epoch"])
            return model.fit(train, validation_data=val, **kwargs)

    return FusionHyperModel(name="kfusion_fusion")


def is_chief():
    """True unless this process is a keras-tuner worker (``KERASTUNER_TUNER_ID`` not ``chief``)."""
    return "KERASTUNER_ORACLE_IP" not in os.environ or "chief" in os.environ.get("KERASTUNER_TUNER_ID", "")


def search(cfg, train_cache, val_cache, out_dir, *, trials, epochs=None, objective="val_mpjpe",
           algorithm="random", tune_alpha=False, verbose=1):
    """Run (or resume) the search; returns ``{"best": merged config, "trials": rows}`` on the chief.

    Args:
        cfg: validated base config. train_cache, val_cache: heatmap caches (``driver.caches``).
        out_dir: output folder (see the module docstring).
        trials: the number of trials in all (a resumed search runs only the missing ones).
        epochs: epochs per trial (default ``fusion.epochs``).
        objective: a key of ``OBJECTIVES`` (minimised); ``val_mpjpe`` is MPJPE in mm.
        algorithm: ``random`` or ``bayesian`` (Gaussian process; needs scikit-learn, not a kfusion
            dependency).
        tune_alpha: also search ``fusion.alpha_init``.

    Returns:
        on the chief: ``{"best": cfg dict, "trials": [row dicts]}``; on a worker: None.
    """
    import keras_tuner

    if objective not in OBJECTIVES:
        raise KfusionError(f"objective is {objective!r}; expected one of {list(OBJECTIVES)}")
    if int(trials) < 1:
        raise KfusionError(f"trials is {trials}; expected >= 1")
    if val_cache is None and objective.startswith("val_"):
        raise KfusionError(f"objective {objective!r} needs a validation split (data.val_split)")
    out_dir = Path(out_dir)
    hypermodel = make_hypermodel(cfg, train_cache, val_cache, tune_alpha=tune_alpha)
    common = dict(objective=keras_tuner.Objective(objective, OBJECTIVES[objective]), max_trials=int(trials),
                  seed=int(cfg["seed"]), directory=str(out_dir / "tuner"), project_name=cfg["name"],
                  overwrite=False)  # keep the tuner's state: an interrupted search resumes
    if algorithm == "bayesian":
        try:
            import sklearn  # noqa: F401  (keras-tuner's Gaussian process needs it)
        except ImportError:
            raise KfusionError("--algorithm bayesian needs scikit-learn (pip install scikit-learn); "
                               "or use --algorithm random") from None
        tuner = keras_tuner.BayesianOptimization(hypermodel, **common)
    elif algorithm == "random":
        tuner = keras_tuner.RandomSearch(hypermodel, **common)
    else:
        raise KfusionError(f"algorithm is {algorithm!r}; expected bayesian or random")
    tuner.search(epochs=int(epochs or cfg["fusion"]["epochs"]), verbose=verbose)
    if not is_chief():
        return None
    rows = trial_rows(tuner, objective)
    done = [r for r in rows if r["score"] is not None and math.isfinite(r["score"])]
    if not done:
        raise KfusionError(f"{out_dir / 'tuner'}: no trial finished with a finite {objective}")
    best = trial_config(cfg, {k: done[0][k] for k in ("penalty", "beta_init", "alpha_init") if k in done[0]})
    write_reports(out_dir, rows, best, objective)
    return {"best": best, "trials": rows}


def trial_rows(tuner, objective):
    """One dict per trial, best first: ``trial``, ``status``, ``score`` (the objective), the values."""
    rows = []
    for trial in tuner.oracle.trials.values():
        row = {"trial": trial.trial_id, "status": str(trial.status),
               "score": None if trial.score is None else float(trial.score),
               "best_epoch": trial.best_step}
        row.update({k: float(v) for k, v in trial.hyperparameters.values.items()})
        rows.append(row)
    rows.sort(key=lambda r: (r["score"] is None or not math.isfinite(r["score"]),
                             r["score"] if r["score"] is not None else 0.0))
    return rows


def write_reports(out_dir, rows, best, objective):
    """``trials.csv``, ``trials.md`` and ``best_config.yaml`` in ``out_dir`` (each written atomically)."""
    out_dir = Path(out_dir)
    columns = ["trial", "status", "score", "best_epoch", "penalty", "beta_init"]
    if any("alpha_init" in r for r in rows):
        columns.append("alpha_init")
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(out_dir / "trials.csv", text.getvalue())

    def cell(v):
        return "-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)

    header = [objective if c == "score" else c for c in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    write_text(out_dir / "trials.md", "\n".join(lines) + "\n")
    write_text(out_dir / "best_config.yaml", config_mod.dump(best))
