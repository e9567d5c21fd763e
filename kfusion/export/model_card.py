"""The model card ``NAME/MODEL.md`` of an exported model: data, config, errors, sizes, speeds, joints."""
import platform
from pathlib import Path

from kfusion import __version__, skeletons
from kfusion.errors import KfusionError
from kfusion.io import read_json, write_text

CMU_CREDIT = ("The motion capture data used to render the synthetic training images is from the CMU "
              "Graphics Lab Motion Capture Database (mocap.cs.cmu.edu), created with funding from "
              "NSF EIA-0196217; see kfusion/assets/CREDITS.md.")


# What each training source is and the terms it comes with: a model trained on it inherits them.
TRAINING_DATA = {
    "synthetic": ("The kfusion synthetic benchmark: bodies posed from CMU motion capture, rendered from random "
                  "cameras (`kfusion prepare synthetic`). Synthetic images only: expect larger errors on real "
                  "photographs.", "CMU motion capture: free for research and commercial use."),
    "h36m-render": ("Human3.6M motion rendered through Human3.6M's cameras (`kfusion prepare h36m --render`): the "
                    "real 3D poses and cameras of Human3.6M (Ionescu et al., TPAMI 2014), synthetic appearance.",
                    "Human3.6M is licensed for non-commercial research only and may not be redistributed; this "
                    "model was trained on its poses and inherits that restriction: non-commercial research use "
                    "only."),
    "h36m-motion": ("Human3.6M's real 3D poses (Ionescu et al., TPAMI 2014; subjects S1, S5-S8) rendered with "
                    "kfusion's synthetic people (`kfusion prepare motions`, `kfusion prepare synthetic --poses`).",
                    "Human3.6M is licensed for non-commercial research only and may not be redistributed; this "
                    "model was trained on its poses and inherits that restriction: non-commercial research use "
                    "only."),
    "h36m": ("Human3.6M (Ionescu et al., TPAMI 2014): real videos, poses and cameras.",
             "Human3.6M is licensed for non-commercial research only; this model inherits that restriction: "
             "non-commercial research use only."),
    "lsp": ("Leeds Sports Pose / LSP-extended (Johnson & Everingham, BMVC 2010 / CVPR 2011): real photographs, 2D.",
            "LSP is for research use (cite Johnson & Everingham); this model is for non-commercial research only."),
    "humaneva": ("HumanEva-I (Sigal et al., IJCV 2010).", "HumanEva is for research use; this model inherits that."),
    "kth": ("KTH Multiview Football II (Kazemi et al., BMVC 2013).",
            "KTH Football II is for research use; this model inherits that."),
    "blazepose-teacher": ("MediaPipe BlazePose-full's 3D world landmarks on those 2D-only photographs, as a teacher's "
                          "3D where, projected, they agree with the labels (`kfusion prepare teacher`, "
                          "`fusion.teacher_weight`).",
                          "BlazePose-full is under the Apache-2.0 licence (kfusion/assets/mediapipe/LICENSE); its "
                          "outputs add no restriction beyond the photographs' own."),
    "mpii": ("MPII Human Pose (Andriluka et al., CVPR 2014).",
             "MPII Human Pose is under the Simplified BSD licence for research; check its terms before other use."),
}


# The kind of a pose file's source (``kfusion prepare motions``) -> the training source it makes a model's.
POSE_SOURCES = {"h36m": "h36m-motion", "bvh": "synthetic"}


def records_sources(records):
    """The training sources of one records folder: its manifest's ``source`` and, for renders, the motions
    they posed (``generator.pose_sources``, else the pose file's own ``meta``) and the photographs behind
    them (``generator.backgrounds``). Raises KfusionError/OSError when the folder cannot be read."""
    from kfusion.data.records import read_manifest

    manifest = read_manifest(records)
    out = [manifest["source"]]
    gen = manifest.get("generator") or {}
    kinds = gen.get("pose_sources")
    poses = gen.get("poses")
    if kinds is None and poses and Path(poses).suffix == ".npz":
        from kfusion.io import load_npz
        from kfusion.synthetic.poses import pose_sources

        try:
            kinds = pose_sources(load_npz(poses))
        except KfusionError:
            out.append(f"poses from `{poses}` (not readable here: check their licence)")
    out += [POSE_SOURCES.get(k, f"poses of kind `{k}`") for k in kinds or []]
    if isinstance(gen.get("backgrounds"), dict) and gen["backgrounds"].get("kind") == "lsp":
        out.append("lsp")
    return out


def training_data(config_path):
    """Lines naming every training set of a model, each with its terms, from its run's config: the
    records of the stage (``data.records``), the 2D-only records its hourglass also learned from
    (``hourglass.extra_records`` of the run's hourglass stage, or of the config itself) and those its
    fusion network learned from (``fusion.extra_records``, and the teacher of their 3D where
    ``fusion.teacher_weight`` > 0), with the motions and photographs renders were made of
    (:func:`records_sources`)."""
    sources = []
    if config_path:
        cfg = read_json(config_path)
        d = cfg.get("data", {})
        hg_config = Path(config_path).parent.parent / "hourglass" / "config.json"
        hg = read_json(hg_config).get("hourglass", {}) if hg_config.is_file() else cfg.get("hourglass", {})
        extras = list(hg.get("extra_records") or []) + list(cfg.get("fusion", {}).get("extra_records") or [])
        for records, fallback in ([(d.get("records"), d.get("source", "synthetic"))]
                                  + [(r, "2D-only records") for r in extras]):
            try:
                sources += records_sources(records)
            except (KfusionError, OSError, TypeError, KeyError):
                sources.append(fallback if fallback != "2D-only records"
                               else f"`{records}` (2D only, not readable here)")
        if float(cfg.get("fusion", {}).get("teacher_weight") or 0) > 0:
            sources.append("blazepose-teacher")
    lines = []
    for source in dict.fromkeys(sources or ["synthetic"]):
        what, terms = TRAINING_DATA.get(source, (f"Records of source `{source}`.", f"Check the licence of `{source}`."))
        lines.append(f"- {what} {terms}")
    return lines


def read_training_data(folder):
    """What the exported model in ``folder`` was trained on, as :func:`training_data`'s lines: from its
    ``kfusion.json`` (``training_data``), else from its model card's "Training data" section
    (``MODEL.md``); None when neither is there (a bare ``.keras``/``.tflite``, an old export)."""
    folder = Path(folder)
    meta = folder / "kfusion.json"
    lines = read_json(meta).get("training_data") if meta.is_file() else None
    if lines:
        return [str(line) for line in lines]
    card = folder / "MODEL.md"
    if not card.is_file():
        return None
    section, lines = False, []
    for line in card.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line.strip() == "## Training data"
        elif section and line.startswith("- "):
            lines.append(line)
    return lines or None


def _trained_epochs(stage_dir, configured):
    """The epochs a stage trained (its ``train_summary.json``: ``--epochs`` may differ from the config)."""
    path = Path(stage_dir) / "train_summary.json"
    try:
        return int(read_json(path)["epochs"]) if path.is_file() else configured
    except (KfusionError, KeyError, TypeError, ValueError):
        return configured


def find_results(model_path):
    """An ``evaluation.json`` / ``results.json`` beside the model or in its run folder, or None."""
    model_path = Path(model_path)
    here = model_path if model_path.is_dir() else model_path.parent
    for folder in (here, here.parent):
        for name in ("evaluation.json", "results.json"):
            if (folder / name).is_file():
                return folder / name
    return None


def find_config(model_path):
    model_path = Path(model_path)
    here = model_path if model_path.is_dir() else model_path.parent
    for folder in (here, here.parent):
        if (folder / "config.json").is_file():
            return folder / "config.json"
    return None


def _size(path):
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _split_counts(records):
    """'8000 train / 1000 test' from a records manifest, or a note when it cannot be read."""
    from kfusion.data.records import read_manifest

    try:
        splits = read_manifest(records)["splits"]
    except (KfusionError, OSError, TypeError, KeyError):
        return "sample counts not readable here"
    return " / ".join(f"{v['count']} {k}" for k, v in splits.items())


def model_card(name, info, *, source, files, parity=None, speeds=None, results_path=None,
               config_path=None):
    """Markdown text of the model card.

    Args: name; info (``saved_model.model_info``); source (the exported ``.keras``); files
    {label: path} (sizes measured); parity (the parity report dict); speeds {runtime: (ms, img/s)};
    results_path / config_path: JSON files found beside the model.
    """
    s3, s2 = info["skeleton_3d"], info["skeleton_2d"]
    lines = [f"# {name}", "",
             "Monocular 3D human pose from one RGB crop: a stacked hourglass predicts 2D joint "
             "confidence maps, and a fusion network (Tekin et al., *Learning to Fuse 2D and 3D Image "
             "Cues for Monocular Body Pose Estimation*, ICCV 2017) fuses them with image features at a "
             "learnt depth. " + ("The test-time fusion network is the pruned one (Sec. 3.1)." if info.get("fusion_pruned")
                                  else "The fusion network is unpruned: its fusion weights were not binary "
                                       "enough to prune exactly.")
             + _test_views(info)
             + (" The 3D pose is the mean of the crop's and, mirrored back, of its mirror image's."
                if info.get("pose_flip_test") else ""), "",
             f"Exported by kfusion {__version__} from `{source}`.", "",
             "## Inputs and outputs", "",
             f"- input `image`: uint8 (N, {info['input_size']}, {info['input_size']}, 3), RGB, a square crop "
             "around the person (`kfusion.load().predict` makes it from any image and an optional box).",
             f"- `pose_3d`: float32 (N, {info['num_joints_3d']}, 3), millimetres, camera frame (x right, y down, "
             f"z forward), root-relative (joint 0 `{skeletons.get(s3).joints[0] if s3 else 'joint0'}` at 0); "
             f"skeleton `{s3}`.",
             f"- `pose_2d`: float32 (N, {info['num_joints_2d']}, 2), pixels of the input crop (corner "
             f"convention); skeleton `{s2}`.",
             f"- `confidence`: float32 (N, {info['num_joints_2d']}), the peak of each confidence map.",
             f"- `heatmaps`: float32 (N, {info['heatmap_size']}, {info['heatmap_size']}, {info['num_joints_2d']}),"
             " the last hourglass stack's confidence maps.", "",
             f"Joints of `pose_3d` ({s3}): " + ", ".join(f"`{j}`" for j in info["joints_3d"]) + ".", "",
             f"Joints of `pose_2d` ({s2}): " + ", ".join(f"`{j}`" for j in info["joints_2d"]) + ".", "",
             "## Training data", "", *training_data(config_path), ""]
    if config_path:
        cfg = read_json(config_path)
        d = cfg.get("data", {})
        hg_config = Path(config_path).parent.parent / "hourglass" / "config.json"
        if hg_config.is_file():  # the hourglass stage's own config says how it trained
            cfg = {**cfg, "hourglass": read_json(hg_config).get("hourglass", {})}
        hg_epochs = _trained_epochs(hg_config.parent, cfg.get("hourglass", {}).get("epochs"))
        fusion_epochs = _trained_epochs(Path(config_path).parent, cfg.get("fusion", {}).get("epochs"))
        lines += [f"Config (`{config_path}`): source `{d.get('source')}`, records `{d.get('records')}` "
                  f"({_split_counts(d.get('records'))}), hourglass preset `{cfg.get('hourglass', {}).get('preset')}` "
                  f"({hg_epochs} epochs), "
                  f"fusion preset `{cfg.get('fusion', {}).get('preset')}` ({fusion_epochs} "
                  "epochs) strategy "
                  f"`{cfg.get('fusion', {}).get('strategy')}`, seed {cfg.get('seed')}.", ""]
    lines += ["## Measured errors", ""]
    if results_path:
        res = read_json(results_path)
        o = res.get("overall", res)
        keys = [k for k in ("mpjpe", "pa_mpjpe", "pck3d", "auc3d") if k in o]
        lines += [f"From `{results_path}` ({res.get('count', '?')} poses): "
                  + ", ".join(f"{k} {o[k]:.2f}" for k in keys) + " (mm; PCK/AUC in %).", ""]
    else:
        lines += ["No `evaluation.json` was found beside the model: run `kfusion evaluate` on it.", ""]
    lines += ["## Files", "", "| file | size (KiB) |", "|---|---:|"]
    lines += [f"| `{label}` | {_size(p) / 1024:.1f} |" for label, p in files.items()]
    if parity:
        lines += ["", f"TFLite against Keras on {parity['num_images']} {parity['inputs']} (per-joint "
                  "Euclidean differences):", "", "| variant | pose_3d max / mean (mm) | pose_2d max / mean (px) |",
                  "|---|---:|---:|"]
        for v, r in parity["variants"].items():
            lines.append(f"| {v} | {r['pose_3d']['max']:.3f} / {r['pose_3d']['mean']:.3f} | "
                         f"{r['pose_2d']['max']:.3f} / {r['pose_2d']['mean']:.3f} |")
    if speeds:
        lines += ["", f"Speed on the exporting machine ({platform.machine()}, {platform.processor() or 'CPU'}; "
                  "median of repeated calls):", "", "| runtime | batch-1 latency (ms) | batch-32 images/s |",
                  "|---|---:|---:|"]
        lines += [f"| {k} | {ms:.2f} | {ips:.1f} |" for k, (ms, ips) in speeds.items()]
    lines += ["", "## Credits", "", CMU_CREDIT,
              "Method: B. Tekin, P. Marquez-Neila, M. Salzmann, P. Fua, ICCV 2017. Stacked hourglass: "
              "A. Newell, K. Yang, J. Deng, ECCV 2016.", ""]
    return "\n".join(lines)


def write_model_card(path, *args, **kwargs):
    text = model_card(*args, **kwargs)
    write_text(path, text)
    return text


def _test_views(info):
    """The sentence on the hourglass's test-time views ('' when it sees the crop alone)."""
    flip, zoom = info.get("flip_test"), info.get("zoom_test")
    if not flip and not zoom:
        return ""
    views = ["the crop"] + (["its mirror image"] if flip else []) + (
        [f"its central {zoom:g} square enlarged to the input" + (" (and that square's mirror image)" if flip else "")]
        if zoom else [])
    return f" The confidence maps are averaged over test-time views: {', '.join(views[:-1])} and {views[-1]}."
