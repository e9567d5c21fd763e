"""The paper's benchmark tables from per-pose predictions: Human3.6M (Tables 1, 2), HumanEva-I
(Table 3) and KTH Multiview Football II (Table 4), each as a JSON-ready dict and markdown.

Every function takes predictions and ground truth (N, J, 3) in mm (any common frame) plus the
per-pose labels, and averages the way the paper's tables do:
- Human3.6M: MPJPE after aligning the roots (pelvis, joint 0 of ``h36m17``) per action; "Avg. (All)"
  is the mean of the 15 per-action errors (it reproduces the paper's 69.73 from its row),
  "Avg. (6 Actions)" the mean over :data:`kfusion.datasets.h36m.SIX_ACTIONS`. Table 2: PA-MPJPE,
  averaged the same way. The mean over all poses is also given (``"mean_over_poses"``).
- HumanEva-I: rigid-aligned MPJPE (rotation + translation) of the Walking poses per subject S1-S3,
  and their mean.
- KTH: 3D PCP (alpha 0.5) per part class and over all parts, in percent, in both the
  mean-endpoint and the strict form.
"""
import numpy as np

from kfusion import skeletons
from kfusion.datasets.h36m import ACTIONS as H36M_ACTIONS
from kfusion.datasets.h36m import SIX_ACTIONS as H36M_SIX_ACTIONS
from kfusion.datasets.h36m import normalize_action as normalize_h36m_action
from kfusion.datasets.humaneva import normalize_action as normalize_humaneva_action
from kfusion.eval import metrics
from kfusion.eval.tables import format_value, markdown_table

KTH_PARTS = (("pelvis", "Pelvis"), ("torso", "Torso"), ("upper_arms", "Upper arms"),
             ("lower_arms", "Lower arms"), ("upper_legs", "Upper legs"), ("lower_legs", "Lower legs"),
             ("all_parts", "All parts"))


def _check(pred, gt, labels):
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape}; expected equal shapes (N, J, 3) mm")
    for name, lab in labels.items():
        if len(lab) != len(pred):
            raise ValueError(f"{name} has {len(lab)} labels for {len(pred)} poses; expected one per pose")
    return pred, gt


def _mean_or_none(values):
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def h36m_tables(pred, gt, actions, subjects=None, *, root=0, allow_reflection=False, method="kfusion",
                sequences=None):
    """Human3.6M Table 1 (MPJPE per action) and Table 2 (PA-MPJPE average).

    Args:
      pred, gt: (N, 17, 3) mm, ``h36m17`` order (any common frame; roots are aligned here).
      actions: N action names (release or Table 1 names: normalised by ``normalize_h36m_action``).
      subjects: N subject labels, or None; only used to report which subjects were evaluated.
      root: root joint index for protocol 1.
      allow_reflection: PA alignment variant (default: proper rotations only).
      sequences: N take names (``"Directions 1"``) or None; with ``subjects`` they count the test
        sequences covered, against the 30 (15 actions x 2 takes) of each subject.
    Returns dict with ``table1`` {"columns", "mpjpe" {action: mm or None}, "avg_all", "avg_6",
    "mean_over_poses", "counts"}, ``table2`` {"pa_mpjpe" {action: mm}, "avg_all",
    "mean_over_poses"}, ``subjects`` and ``markdown``. Actions without poses are None ("-"),
    and the averages then cover the actions present (``missing`` lists the others).
    """
    labels = {"actions": actions} if subjects is None else {"actions": actions, "subjects": subjects}
    pred, gt = _check(pred, gt, labels)
    names = np.array([normalize_h36m_action(a) for a in actions])
    e1 = metrics.mpjpe(metrics.root_align(pred, gt, root), gt)
    e2 = metrics.pa_mpjpe(pred, gt, allow_reflection=allow_reflection)
    per1, per2, counts = {}, {}, {}
    for a in H36M_ACTIONS:
        m = names == a
        counts[a] = int(m.sum())
        per1[a] = float(e1[m].mean()) if m.any() else None
        per2[a] = float(e2[m].mean()) if m.any() else None
    t1 = {"columns": list(H36M_ACTIONS) + ["Avg. (All)", "Avg. (6 Actions)"], "mpjpe": per1,
          "avg_all": _mean_or_none(per1.values()), "avg_6": _mean_or_none(per1[a] for a in H36M_SIX_ACTIONS),
          "mean_over_poses": float(e1.mean()) if len(e1) else None, "counts": counts}
    t2 = {"pa_mpjpe": per2, "avg_all": _mean_or_none(per2.values()),
          "mean_over_poses": float(e2.mean()) if len(e2) else None,
          "alignment": "similarity" + (" (reflections allowed)" if allow_reflection else " (proper rotation)")}
    missing = [a for a in H36M_ACTIONS if per1[a] is None]
    t2["avg_6"] = _mean_or_none(per2[a] for a in H36M_SIX_ACTIONS)
    coverage = None
    if sequences is not None and subjects is not None:
        seen = sorted(set(zip(map(str, subjects), map(str, sequences))))
        expected = 2 * len(H36M_ACTIONS) * len({s for s, _ in seen})
        coverage = {"sequences": len(seen), "expected": expected,
                    "text": f"{len(seen)} of {expected} test sequences"}
    md = ("**Table 1 (Human3.6M, MPJPE mm)**\n\n"
          + markdown_table(["Method"] + t1["columns"],
                      [[method] + [format_value(per1[a]) for a in H36M_ACTIONS] + [format_value(t1["avg_all"]), format_value(t1["avg_6"])]])
          + "\n\n**Protocol 2 per action (PA-MPJPE mm)**\n\n"
          + markdown_table(["Method"] + t1["columns"],
                      [[method] + [format_value(per2[a]) for a in H36M_ACTIONS] + [format_value(t2["avg_all"]), format_value(t2["avg_6"])]])
          + "\n\n**Table 2 (Human3.6M, PA-MPJPE mm)**\n\n"
          + markdown_table(["Method", "3D Pose Error"], [[method, format_value(t2["avg_all"])]]))
    if coverage:
        md += f"\n\n{len(pred)} poses, {coverage['text']}."
    if missing:
        md += f"\n\nActions without poses (averages cover the others): {', '.join(missing)}"
    return {"table1": t1, "table2": t2, "missing": missing, "num_poses": int(len(pred)), "coverage": coverage,
            "subjects": None if subjects is None else sorted(set(map(str, subjects))), "markdown": md}


def humaneva_table(pred, gt, subjects, actions, *, action="Walking", method="kfusion"):
    """HumanEva-I Table 3: rigid-aligned MPJPE (mm) of ``action`` per subject S1, S2, S3 and average.

    Args:
      pred, gt: (N, 15, 3) mm (``humaneva15``; any joint set works, both the same).
      subjects: N labels (``S1``, ``Validate/S1``... the last path part is used).
      actions: N action names (``Walking 1 chunk0``, ``Walking_1``, ``Walking`` all count as Walking).
    Returns dict {"columns", "errors" {S1, S2, S3: mm or None}, "average", "counts", "markdown"}.
    """
    pred, gt = _check(pred, gt, {"subjects": subjects, "actions": actions})
    subj = np.array([str(s).split("/")[-1] for s in subjects])
    act = np.array([normalize_humaneva_action(a) for a in actions])
    err = metrics.rigid_mpjpe(pred, gt)
    errors, counts = {}, {}
    for s in ("S1", "S2", "S3"):
        m = (subj == s) & (act == action)
        counts[s] = int(m.sum())
        errors[s] = float(err[m].mean()) if m.any() else None
    avg = _mean_or_none(errors.values())
    md = (f"**Table 3 (HumanEva-I, {action}, rigid-aligned error mm)**\n\n"
          + markdown_table(["Method", "S1", "S2", "S3", "Average"],
                      [[method] + [format_value(errors[s]) for s in ("S1", "S2", "S3")] + [format_value(avg)]]))
    return {"columns": ["S1", "S2", "S3", "Average"], "action": action, "errors": errors, "average": avg,
            "counts": counts, "markdown": md}


def kth_table(pred, gt, *, skeleton="lsp14", alpha=0.5, method="kfusion"):
    """KTH Football II Table 4: 3D PCP (%) per part class and over all parts, both forms.

    Args:
      pred, gt: (N, 14, 3) mm in ``skeleton`` order (``lsp14`` = ``kth14``).
    Returns dict {"rows": [part names], "pcp": {part: %}, "pcp_strict": {part: %}, "markdown"}.
    """
    pred, gt = _check(pred, gt, {})
    skel = skeletons.get(skeleton)
    mean_form = metrics.pcp(pred, gt, skel, alpha=alpha, strict=False)
    strict = metrics.pcp(pred, gt, skel, alpha=alpha, strict=True)
    pcp = {label: float(100 * mean_form[key].mean()) for key, label in KTH_PARTS}
    pcp_strict = {label: float(100 * strict[key].mean()) for key, label in KTH_PARTS}
    md = (f"**Table 4 (KTH Multiview Football II, 3D PCP %, alpha {alpha})**\n\n"
          + markdown_table(["Part", f"{method} (mean-endpoint)", f"{method} (strict)"],
                      [[label, format_value(pcp[label], 1), format_value(pcp_strict[label], 1)] for _, label in KTH_PARTS]))
    return {"rows": [label for _, label in KTH_PARTS], "pcp": pcp, "pcp_strict": pcp_strict, "alpha": alpha,
            "num_poses": int(len(pred)), "markdown": md}


def write_protocol_report(protocol, pred, gt, meta, out_dir, method="kfusion"):
    """The tables of one protocol (``h36m``, ``humaneva`` or ``kth``) as ``evaluation.md``/``.json``.

    ``pred``, ``gt`` (N, J, 3) mm; ``meta`` holds (N,) ``action`` and ``subject`` labels.
    Returns the markdown.
    """
    from pathlib import Path

    from kfusion.io import write_json, write_text

    if protocol == "h36m":
        result = h36m_tables(pred, gt, meta["action"], meta["subject"], method=method,
                             sequences=meta.get("sequence"))
    elif protocol == "humaneva":
        result = humaneva_table(pred, gt, meta["subject"], meta["action"], method=method)
    elif protocol == "kth":
        result = kth_table(pred, gt, method=method)
    else:
        raise ValueError(f"protocol is {protocol!r}; expected h36m, humaneva or kth")
    out_dir = Path(out_dir)
    md = f"# kfusion evaluate: protocol {protocol}\n\n{result['markdown']}\n"
    write_text(out_dir / "evaluation.md", md)
    write_json(out_dir / "evaluation.json", {k: v for k, v in result.items() if k != "markdown"})
    return md
