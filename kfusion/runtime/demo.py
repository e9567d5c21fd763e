"""`kfusion demo`: the shipped model on held-out synthetic renders (with errors) and on real photos.

Offline and small: 64 renders (seed 12345, never used in training: the benchmark's test split uses
the config seed) and the photos in ``kfusion/assets/photos`` (the person in a photo's COCO box, else
the person detector's best); writes figures and ``summary.md``, which says what the model was
trained on as its model card does.
"""
import sys
import time
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError
from kfusion.io import read_json, write_json, write_text

DEMO_SEED = 12345
RENDER_SIZE = 128  # the synthetic benchmark's crop size (configs/synthetic.yaml data.image_size)


def photos_dir():
    return Path(__file__).resolve().parents[1] / "assets" / "photos"


def photo_boxes(folder):
    """{image file name: (x, y, w, h)} from the COCO-style JSON files beside the photos."""
    boxes = {}
    for j in sorted(Path(folder).glob("*.json")):
        ann = read_json(j)
        if isinstance(ann, dict) and "image" in ann and "bbox_xywh" in ann:
            boxes[ann["image"]] = tuple(float(v) for v in ann["bbox_xywh"])
    return boxes


def run_demo(model=None, out="kfusion-demo", num=64, backend="auto", log=None):
    """Run the demo; returns the summary dict. Exit code 2 semantics are the CLI's (no model)."""
    log = log or sys.stderr
    from kfusion.synthetic.benchmark import iter_samples
    from kfusion.geometry import crop_image
    from kfusion.eval.evaluate import summarize
    from kfusion.eval.metrics import mpjpe
    from kfusion.eval.figures import draw_skeleton_3d, pyplot, save_figure
    from kfusion.runtime.estimator import load
    from kfusion.export.model_card import read_training_data
    from kfusion.images import read_image
    from kfusion.runtime.predict import figure, result_json

    t0 = time.perf_counter()
    out = Path(out)
    est = load(model, backend=backend)
    print(f"kfusion demo: model {est.source} ({est.backend}, input {est.input_size} px)", file=log)
    # rendered at the benchmark's 128 px and resized like the training records, not at the model size
    samples = list(iter_samples("test", num, seed=DEMO_SEED, image_size=RENDER_SIZE, workers=1))
    crops = np.stack([crop_image(s["image"], (0.0, 0.0, float(RENDER_SIZE)), est.input_size) for s in samples])
    gt = np.stack([s["joints_3d"] - s["joints_3d"][:1] for s in samples]).astype(np.float32)
    actions = [str(s["action"]) for s in samples]
    t1 = time.perf_counter()
    pred = np.concatenate([est.predict_crops(crops[i:i + 16])["pose_3d"] for i in range(0, len(crops), 16)])
    predict_s = time.perf_counter() - t1
    summary, table = summarize(pred, gt, actions)
    o = summary["overall"]
    print(f"kfusion demo: {len(gt)} held-out synthetic poses: MPJPE {o['mpjpe']:.1f} mm, "
          f"PA-MPJPE {o['pa_mpjpe']:.1f} mm, PCK3D {o['pck3d']:.1f} %", file=log)

    plt = pyplot()
    fig = plt.figure(figsize=(12, 6))
    for k in range(min(4, len(samples))):
        ax = fig.add_subplot(2, 4, 1 + k)
        ax.imshow(crops[k])
        ax.set_title(f"{actions[k]}", fontsize=8)
        ax.axis("off")
        ax = fig.add_subplot(2, 4, 5 + k, projection="3d")
        draw_skeleton_3d(ax, gt[k], est.skeleton_3d, colour="0.6", linewidth=1)
        draw_skeleton_3d(ax, pred[k], est.skeleton_3d)
        err = float(mpjpe(pred[k], gt[k]))
        ax.set_title(f"pred (colour) vs truth (grey): {err:.0f} mm", fontsize=7)
    save_figure(fig, out / "synthetic_examples.png")

    photos, boxes = photos_dir(), photo_boxes(photos_dir())
    photo_rows = []
    for path in sorted(p for p in photos.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")):
        image = read_image(path)
        box = boxes.get(path.name)
        try:
            result = est.predict(image, bbox=box)  # no box: the person detector's best
        except KfusionError as e:  # nobody found: say so rather than pose an empty crop
            print(f"kfusion demo: {path.name}: {e}", file=log)
            photo_rows.append((path.name, "nobody found by the person detector", None))
            continue
        write_json(out / f"{path.stem}.json", result_json(result, source=path, estimator=est))
        figure(image, result, out / f"{path.stem}.png", estimator=est, title=path.name)
        crop = "COCO person box" if box else f"person detector (score {result['score']:.2f})"
        photo_rows.append((path.name, crop, float(np.mean(result["confidence"]))))
    seconds = time.perf_counter() - t0
    trained_on = read_training_data(est.folder) if est.folder is not None else None
    lines = ["# kfusion demo", "", f"Model: `{est.source}` (backend {est.backend}, input {est.input_size} px).", "",
             f"## Held-out synthetic renders ({len(gt)}, seed {DEMO_SEED})", "",
             f"MPJPE **{o['mpjpe']:.1f} mm**, PA-MPJPE **{o['pa_mpjpe']:.1f} mm**, PCK3D@150mm {o['pck3d']:.1f} %, "
             f"AUC {o['auc3d']:.1f} %. Prediction: {1e3 * predict_s / len(gt):.1f} ms per image.", "",
             table.to_markdown(), "", "![examples](synthetic_examples.png)", "",
             "## Real photos (no ground truth)", "", *trained_on_markdown(est, trained_on), "",
             "| photo | crop | mean joint confidence |", "|---|---|---:|"]
    lines += [f"| {n} | {c} | {'-' if m is None else f'{m:.2f}'} |" for n, c, m in photo_rows]
    lines += [""] + [f"![{n}]({Path(n).stem}.png)" for n, _, m in photo_rows if m is not None]
    lines += ["", f"Total {seconds:.1f} s on this machine."]
    write_text(out / "summary.md", "\n".join(lines) + "\n")
    summary.update({"seconds": seconds, "model": est.source, "backend": est.backend, "trained_on": trained_on,
                    "photos": [{"photo": n, "crop": c, "mean_confidence": m} for n, c, m in photo_rows]})
    write_json(out / "summary.json", summary)
    print(f"kfusion demo: wrote {out}/summary.md and figures in {seconds:.1f} s", file=log)
    return summary


def trained_on_markdown(est, trained_on):
    """Markdown lines saying what ``est``'s model was trained on (``trained_on``: its model card's
    lines, or None when it came without a card)."""
    if not trained_on:
        return [f"What this model was trained on is not recorded: `{est.source}` came without a model card "
                "(`MODEL.md`, or `training_data` in `kfusion.json`: `kfusion export` writes both)."]
    return ["The model was trained on (from its model card):", "", *trained_on]


def no_model_message():
    from kfusion.runtime.estimator import default_model_dirs

    return ("kfusion demo: no shipped model yet (looked in "
            + ", ".join(str(d) for d in default_model_dirs()) + "); pass --model EXPORT_FOLDER")


__all__ = ["run_demo", "no_model_message", "photo_boxes", "KfusionError"]
