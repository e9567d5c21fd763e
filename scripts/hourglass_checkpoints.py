#!/usr/bin/env python
"""Hourglass checkpoints on real photographs: each one joined to a trained fusion network (the shipped
model's by default) and measured by ``kfusion evaluate`` on COCO (the validation set of issue 21) and
LSP-extended val: 2D PCK@0.2, the 3D's projected PCK, and (COCO) the 2D on the person detector's crops.

How the widened hourglass's checkpoints and views were compared (docs/results/photos/people.md):

    python scripts/hourglass_checkpoints.py --out runs/eval-W1 --views flip \\
        --coco ../shared/data/coco_keypoints --lsp ../shared/data/lsp_extended \\
        runs/H3/hourglass.keras runs/W1/hourglass/checkpoints/epoch-0{10,20,35,45,50}.keras

A checkpoint written ``a.keras+b.keras`` is the plain mean of those hourglasses' weights (one
architecture; round 9's averaged epochs in people.md), saved as ``OUT/<a>+<b>.keras`` and measured like
the others.

``--views``: the hourglass's test-time views (``flip``: the crop and its mirror; ``zoom``: the crop and
its central 7/8 enlarged; ``flip-zoom``: all four; ``none``). Writes ``OUT/<checkpoint>-<views>/``
(the joined ``end_to_end.keras`` and each evaluation) and ``OUT/results.json`` and ``.md``.
"""
import argparse
import sys
from pathlib import Path

VIEWS = {"none": (False, None), "flip": (True, None), "zoom": (False, 0.875), "flip-zoom": (True, 0.875)}
ROOT = Path(__file__).resolve().parents[1]


def fusion_network(model_path):
    """The fusion network inside an end-to-end model (a .keras file or an exported folder)."""
    from kfusion.errors import KfusionError
    from kfusion.models import load_model

    path = Path(model_path)
    path = path / "end_to_end.keras" if path.is_dir() else path
    if not path.is_file():
        raise KfusionError(f"{path}: no end-to-end model there (expected a .keras file or an exported folder)")
    nested = [layer for layer in load_model(path).layers if layer.name.startswith("fusion_")]
    if len(nested) != 1:
        raise KfusionError(f"{path}: {len(nested)} layers named fusion_*; expected one fusion network")
    return nested[0]


def averaged(spec, out):
    """``spec`` 'a.keras+b.keras[+...]': the mean of those hourglasses' weights saved as ``out/<spec>.keras``
    (its path returned); any other spec is returned as it is."""
    import numpy as np

    from kfusion.errors import KfusionError
    from kfusion.models import save_model
    from kfusion.train.driver import load_hourglass

    parts = [Path(p) for p in str(spec).split("+")]
    if len(parts) == 1:
        return parts[0]
    models = [load_hourglass(p) for p in parts]
    weights = [m.get_weights() for m in models]
    shapes = [[w.shape for w in ws] for ws in weights]
    for p, s in zip(parts[1:], shapes[1:]):
        if s != shapes[0]:
            raise KfusionError(f"{p}: its weights are not shaped as {parts[0]}'s; expected hourglasses of one architecture")
    models[0].set_weights([np.mean(ws, axis=0).astype(ws[0].dtype) for ws in zip(*weights)])
    path = Path(out) / ("+".join(p.stem for p in parts) + ".keras")
    save_model(models[0], path)
    return path


def measure(checkpoint, fusion, cfg, views, out, coco=None, lsp=None):
    """{"checkpoint", "views", protocol: {"kfusion_2d", "kfusion_3d_fit"[, "detector_2d"]}} of one
    checkpoint; the evaluations are written under ``out``."""
    import json

    from kfusion.cli.main import main
    from kfusion.errors import KfusionError
    from kfusion.train import driver

    out.mkdir(parents=True, exist_ok=True)
    model = driver.save_end_to_end(checkpoint, fusion, out, cfg)
    row = {"checkpoint": str(checkpoint), "views": views}
    for protocol, data, split in (("coco", coco, "test"), ("lsp", lsp, "val")):
        if data is None:
            continue
        folder = out / f"{protocol}-{split}"
        if main(["evaluate", "--protocol", protocol, "--data", str(data), "--split", split, "--model", str(model),
                 "--out", str(folder)]) != 0:
            raise KfusionError(f"{checkpoint}: kfusion evaluate --protocol {protocol} failed (see above)")
        r = json.loads((folder / "evaluation.json").read_text())
        row[protocol] = {"count": r["count"], "kfusion_2d": r["kfusion_2d"]["pck_limbs"],
                         "kfusion_3d_fit": r["kfusion_3d_fit"]["pck_limbs"]}
        if "detector" in r:
            row[protocol]["detector_2d"] = r["detector"]["kfusion_2d"]["pck_limbs"]
    return row


def table(rows):
    from kfusion.eval.tables import markdown_table

    fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
    body = [[r["checkpoint"], r["views"]] + [fmt(r.get(p, {}).get(k)) for p, k, _ in COLUMNS] for r in rows]
    return markdown_table(["checkpoint", "views"] + [name for _, _, name in COLUMNS], body)


COLUMNS = (("coco", "kfusion_2d", "COCO 2D (%)"), ("coco", "detector_2d", "COCO 2D, detector's crops (%)"),
           ("coco", "kfusion_3d_fit", "COCO 3D projected (%)"), ("lsp", "kfusion_2d", "LSP val 2D (%)"),
           ("lsp", "kfusion_3d_fit", "LSP val 3D projected (%)"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="trained hourglasses (.keras); a.keras+b.keras: their mean weights")
    parser.add_argument("--out", required=True, help="folder for the joined models, evaluations and results")
    parser.add_argument("--model", default=str(ROOT / "saved_models" / "kfusion-synthetic"),
                        help="end-to-end model whose fusion network each checkpoint is joined to (default: the shipped one)")
    parser.add_argument("--config", default=str(ROOT / "configs" / "people.yaml"),
                        help="the run config whose skeletons the views mirror (default: configs/people.yaml)")
    parser.add_argument("--views", choices=sorted(VIEWS), default="flip")
    parser.add_argument("--coco", default=None, help="COCO person-keypoints folder (the validation set)")
    parser.add_argument("--lsp", default=None, help="LSP-extended folder (its val split: images 4501-5000)")
    args = parser.parse_args(argv)
    from kfusion import config, logfilter

    logfilter.install()  # TensorFlow's start-up chatter off stderr (KFUSION_RAW_STDERR=1 keeps it)
    from kfusion.errors import KfusionError
    from kfusion.io import write_json, write_text

    try:
        if args.coco is None and args.lsp is None:
            raise KfusionError("give --coco DIR, --lsp DIR or both: nothing to measure")
        flip, zoom = VIEWS[args.views]
        cfg = config.load(args.config, overrides={"hourglass.flip_test": flip, "hourglass.zoom_test": zoom,
                                                  "fusion.flip_test": flip})
        fusion = fusion_network(args.model)
        out, rows = Path(args.out), []
        for spec in args.checkpoints:
            checkpoint = averaged(spec, out)
            rows.append(measure(checkpoint, fusion, cfg, args.views, out / f"{checkpoint.stem}-{args.views}",
                                coco=args.coco, lsp=args.lsp))
            write_json(out / "results.json", rows)  # after each checkpoint: a long loop keeps what it measured
        md = table(rows)
        write_text(out / "results.md", f"# Hourglass checkpoints with {args.model}'s fusion network\n\n{md}\n")
        print(md)
    except KfusionError as e:
        print(f"hourglass_checkpoints: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
