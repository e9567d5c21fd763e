#!/usr/bin/env python
"""The shipped model's recipe at GPU sizes in minutes: a data pack of at most 64 MiB made here, and a
time-budgeted run on a GPU machine that trains the hourglass, then the fusion network, and exports
the end-to-end model.

    # 1. here, on the CPU: crops of the config's records, their 3D targets and a manifest
    python scripts/gpu_recipe.py pack --config configs/gpu.yaml --out runs/gpu-pack
    # 2. on the GPU machine: 8 minutes in all, the export included; prints a timing table
    python scripts/gpu_recipe.py train --pack runs/gpu-pack --out runs/gpu --minutes 8
    # 3. here: kfusion evaluate the end_to_end.keras it brings back (the pack holds no held-out photos)

``pack`` reads the records folders that the config names (``data.records``: renders of
``kfusion prepare synthetic`` or ``kfusion reproduce``; ``hourglass.extra_records`` and
``fusion.extra_records``: photographs of ``kfusion prepare lsp``) and writes ``OUT/pack.json`` (the
config, with paths into the pack; per part its source folder, source, counts, licence terms; what
restricts the pack's use) and one kfusion records folder a part, ``OUT/records`` (the training and
validation splits, whose ``joints_3d`` are the fusion stage's 3D targets) and ``OUT/extra/NAME``
(their training splits; with ``fusion.teacher_weight`` > 0 the teacher's 3D of the photographs,
``teacher-train.npz`` of ``kfusion prepare teacher``, travels beside them: it is aligned by frame, so a
subset needs no other). Each split is an evenly spread subset of ``--renders``/``--test``/``--photos``
crops, stored as JPEG at ``--quality`` at the hourglass's input size (or the records', if smaller).
JPEG records hold 5-7 times more 128 px crops per MiB than the records' PNG or an npz of uint8
(measured on runs/quick/data and data/lsp: PNG records 33 and 39 crops/MiB, compressed npz 25 and 30,
JPEG at quality 90 216 and 169, at 85 275 and 203). A pack larger than ``--max-mib`` (default: the
64 MiB that travels to the machine, less the working tree that travels with it, measured) is
refused. A pack holding LSP-extended (or any source other than procedural renders of CMU motion)
is for non-commercial research only: ``pack.json`` says so, and ``OUT`` must be a folder git ignores
(``runs/``, ``data/``), since such a pack must never be committed.

``train`` trains the config's stages with the code of ``kfusion train`` (``kfusion.train.stages``,
``driver``; the pack's records are the dataset), each ending when its share of ``--minutes`` is spent
(55 % and 15 %; what the hourglass and its caches overrun comes off the fusion network's share;
``kfusion.train.budget.TimeBudget``: the cosine rate and the fusion point's settling follow the
fraction of the budget spent; a stage stops at the end of the batch that spends its budget and closes
that epoch as any other: log, checkpoints, backup), then writes
``OUT/fusion-<strategy>/end_to_end.keras``, exports it to ``OUT/export``
(``kfusion.export.package.export_model``: SavedModel, TFLite, parity, model card, whose "Training
pack" section names the pack's sources and licences) and prints and writes a timing table
(``OUT/timing.md``, ``OUT/timing.json``). ``--collect DIR`` copies the few files worth keeping flat
into ``DIR``. Rerun with the same ``OUT`` to continue each stage from its last epoch, with a new budget.

On the lent GPU machine of this workplace (the device tool, /work/.library/device/README.md):

- what travels is the working tree (tracked and untracked, not ignored, files: about 26 MiB) and the
  ignored paths a call names in ``carry`` (the pack: ``carry=["runs/gpu-pack"]``), 64 MiB together:
  hence the pack's default limit;
- one H100 80 GB (or H200), 16 CPU cores, 128 GiB, no network; 15 minutes of device time a task
  (the machine's start, the transfers and idle time included: one run, no second try) and 10 minutes
  a command (``timeout_s=600``): ``--minutes 8``, the default, leaves a margin, since the caches,
  end-to-end model and export (the other 30 %) have not been timed on that machine;
- only files under ``$OUT`` come back, at most 8 of 16 MiB each: hence ``--collect $OUT`` and the
  'gpu' presets (an end-to-end model of about 13 MB; the paper's fusion network alone is 490 MB);
- its Python (the image 'cuda': PyTorch, JAX, CuPy) holds NO TensorFlow and no Keras, and cannot
  fetch them; TensorFlow 2.21 is a 573 MB wheel (``tensorflow[and-cuda]`` adds gigabytes of CUDA
  libraries of its own), far over what travels. So ``train`` runs there only once the image
  has TensorFlow; then, from the repository root:
  ``python3 scripts/gpu_recipe.py train --pack runs/gpu-pack --out runs/gpu --collect $OUT``.

Elsewhere, any machine with a CUDA GPU and pip:
``pip install 'tensorflow[and-cuda]==2.21.*' && pip install -e .``, copy the pack there, and run
``train``. Mixed precision is a config key: ``--set train.mixed_precision=mixed_bfloat16``.
On a CPU it runs at a tiny size (tests/scripts/test_gpu_recipe.py).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from kfusion import __version__
from kfusion import config as config_mod
from kfusion.data import teacher
from kfusion.errors import KfusionError
from kfusion.export.tflite import VARIANTS
from kfusion.io import read_json, replace_dir, write_json, write_text

REPO = Path(__file__).resolve().parents[1]
PACK_FORMAT, PACK_VERSION = "kfusion-pack", 1
MIB = 2 ** 20
DEVICE_MIB = 64  # what travels to the lent machine: the working tree and the carried paths together
# the only source whose terms allow any use (kfusion.export.model_card.TRAINING_DATA): renders of CMU
# motion in front of procedural backgrounds; every other source's terms restrict use to research
UNRESTRICTED_SOURCE = "synthetic"
# what --collect copies (each under 16 MiB for the 'gpu' presets): RUN-relative path -> name
COLLECT = {"export/end_to_end.keras": "end_to_end.keras", "export/MODEL.md": "MODEL.md",
           "export/parity.md": "parity.md", "timing.json": "timing.json", "hourglass/log.csv": "hourglass-log.csv",
           "{fusion}/log.csv": "fusion-log.csv", "{fusion}/fusion_trace.json": "fusion_trace.json"}


# ----------------------------------------------------------------------------- pack (CPU)
def pack_parts(cfg, renders, test, photos):
    """``[(pack folder, records folder, {split: crops})]`` of the config: ``data.records`` (training and
    validation splits) and each of ``hourglass.extra_records`` and ``fusion.extra_records`` (training)."""
    data = cfg["data"]
    parts = [("records", data["records"], {data["train_split"]: renders, data["val_split"]: test})]
    names = set()
    for path in dict.fromkeys(list(cfg["hourglass"]["extra_records"]) + list(cfg["fusion"]["extra_records"])):
        name = Path(path).name or "photos"
        while name in names:
            name += "_"
        names.add(name)
        parts.append((f"extra/{name}", path, {"train": photos}))
    return parts


def restrictions(source, generator):
    """Why a records folder is for research only ([] when it is not): its source, or the photographs
    or motion files its renders came from."""
    out = [] if source == UNRESTRICTED_SOURCE else [f"source '{source}'"]
    backgrounds = (generator or {}).get("backgrounds")
    if isinstance(backgrounds, dict):
        out.append(f"renders in front of photographs from {backgrounds.get('folder')}")
    poses = str((generator or {}).get("poses", "built-in"))
    if source == UNRESTRICTED_SOURCE and not poses.startswith("built-in"):
        out.append(f"renders of the motion in {poses} (its terms apply)")
    return out


def spread(total, n):
    """``n`` indices of ``range(total)`` evenly spread (all of them when ``n >= total``)."""
    n = min(int(n), int(total))
    return np.floor(np.arange(n) * (total / max(n, 1))).astype(np.int64)


def write_part(src, dst, splits, *, size, quality):
    """Copy evenly spread subsets of ``splits`` ({split: crops}) of the records ``src`` to ``dst`` as
    JPEG records at ``quality``, at ``size`` px (or the records' size, if smaller); returns the part's
    entry of pack.json."""
    from kfusion.data.pipeline import crop_sample
    from kfusion.data.records import iterate_samples, read_manifest, write_manifest, write_records

    m = read_manifest(src)
    record_size = int(m["image_size"])
    out_size = min(record_size, int(size))
    counts = {}
    for split, n in splits.items():
        if split not in m["splits"]:
            raise KfusionError(f"{src}: no split {split!r} to pack; the manifest has {sorted(m['splits'])}")
        keep = set(spread(int(m["splits"][split]["count"]), n).tolist())
        last = max(keep)

        def samples():
            for i, s in enumerate(iterate_samples(src, split)):
                if i > last:
                    return
                if i in keep:
                    yield s if out_size == record_size else crop_sample(s, (0, 0, record_size), out_size, m["skeleton"])

        counts[split] = write_records(samples(), dst, split, num_shards=1, skeleton=m["skeleton"],
                                      image_format="jpeg", jpeg_quality=quality)
        if teacher.path_for(src, split).is_file():  # aligned by frame: the whole file serves the subset
            shutil.copy2(teacher.path_for(src, split), teacher.path_for(dst, split))
    generator = {**(m.get("generator") or {}), "packed_from": str(src), "image_format": "jpeg", "jpeg_quality": quality}
    manifest = write_manifest(dst, skeleton=m["skeleton"], image_size=out_size, splits=counts, source=m["source"],
                              seed=m.get("seed"), generator=generator)
    write_json(Path(dst) / "manifest.json", {**m, **manifest})  # the source's own keys too (has_3d)
    return {"from": str(src), "source": m["source"], "skeleton": m["skeleton"], "image_size": out_size,
            "splits": counts, "of": {s: int(m["splits"][s]["count"]) for s in splits},
            "has_3d": bool(m.get("has_3d", True)), "restricted": restrictions(m["source"], m.get("generator"))}


def tree_bytes(repo=REPO):
    """Bytes of the files that travel with every device call (git's tracked and untracked, not
    ignored, files of ``repo``), or None outside a git checkout."""
    done = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                          capture_output=True)
    if done.returncode != 0:
        return None
    paths = {Path(repo) / p for p in done.stdout.decode().split("\0") if p}
    return sum(p.stat().st_size for p in paths if p.is_file())


def pack_limit(max_mib):
    """``(bytes, why)``: ``--max-mib``, or 64 MiB less the working tree that travels beside the pack."""
    if max_mib is not None:
        return int(float(max_mib) * MIB), f"--max-mib {max_mib:g}"
    tree = tree_bytes()
    if tree is None:
        return DEVICE_MIB * MIB, f"{DEVICE_MIB} MiB travel to the GPU machine"
    return DEVICE_MIB * MIB - tree, (f"{DEVICE_MIB} MiB travel to the GPU machine, {tree / MIB:.1f} MiB of them "
                                     "the working tree")


def check_ignored(out):
    """Refuse an ``out`` that git would track: a data pack (LSP-extended: research only) is never committed."""
    parent = Path(out).resolve()
    while not parent.exists():
        parent = parent.parent
    top = subprocess.run(["git", "-C", str(parent), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode != 0:
        return  # not in a git checkout
    done = subprocess.run(["git", "-C", top.stdout.strip(), "check-ignore", "-q", str(Path(out).resolve())])
    if done.returncode == 1:
        raise KfusionError(f"--out {out}: git would track it, and a data pack (LSP-extended is research-only) "
                           "must never be committed; put it under runs/ or data/")


def folder_bytes(path):
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def pack(args):
    """``gpu_recipe.py pack``: write the pack (see the module docstring); returns pack.json's dict."""
    from kfusion.data.cache import hourglass_sizes
    from kfusion.export.model_card import TRAINING_DATA

    cfg = config_mod.load(args.config, dict(config_mod.parse_override(s) for s in args.set))
    out = Path(args.out)
    check_ignored(out)
    if out.exists() and not args.overwrite:
        raise KfusionError(f"--out {out}: exists; pass --overwrite to replace it")
    limit, why = pack_limit(args.max_mib)
    if cfg["fusion"]["teacher_weight"] > 0:  # found missing here, not on the GPU machine
        for path in cfg["fusion"]["extra_records"]:
            teacher.require(path, "train")
    size = args.size or hourglass_sizes(cfg)[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        stored = json.loads(json.dumps(cfg))
        plan, parts = pack_parts(cfg, args.renders, args.test, args.photos), {}
        for name, src, splits in plan:
            print(f"gpu_recipe pack: {src} -> {out / name}", file=sys.stderr)
            parts[name] = write_part(src, tmp / name, splits, size=size, quality=args.quality)
            source = parts[name]["source"]
            parts[name]["terms"] = TRAINING_DATA.get(source, (None, f"Check the licence of '{source}'."))[1]
        stored["data"]["records"] = "records"
        for key in ("hourglass", "fusion"):
            stored[key]["extra_records"] = [name for name, src, _ in plan[1:] if src in cfg[key]["extra_records"]]
        for key, field in (("hourglass", "checkpoint"), ("fusion", "init_from")):  # a model to start from travels too
            if cfg[key][field]:
                shutil.copy2(cfg[key][field], tmp / f"{key}-start.keras")
                stored[key][field] = f"{key}-start.keras"
        crops = sum(sum(p["splits"].values()) for p in parts.values())
        reasons = [f"{n}: {r}" for n, p in parts.items() for r in p["restricted"]]
        meta = {"format": PACK_FORMAT, "version": PACK_VERSION, "kfusion_version": __version__,
                "config_file": str(args.config), "config": stored, "image_format": "jpeg", "jpeg_quality": args.quality,
                "crops": crops, "parts": parts, "research_only": bool(reasons), "restricted_by": reasons,
                "notice": ("For non-commercial research only (" + "; ".join(reasons) + "): never commit or "
                           "redistribute this pack, and a model trained on it inherits the restriction.")
                if reasons else "Procedural renders of CMU motion only: free for research and commercial use."}
        write_json(tmp / "pack.json", meta)
        total = folder_bytes(tmp)
        if total > limit:
            per = total / max(crops, 1)
            raise KfusionError(f"pack of {crops} crops is {total / MIB:.2f} MiB, over the {limit / MIB:.2f} MiB limit "
                               f"({why}); at {per / 1024:.1f} KiB a crop about {int(limit // per)} fit: lower "
                               "--renders/--test/--photos or --quality")
        meta["bytes"] = total
        write_json(tmp / "pack.json", meta)
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    counts = ", ".join(f"{n} {'/'.join(str(c) for c in p['splits'].values())}" for n, p in parts.items())
    print(f"gpu_recipe pack: {out}: {crops} crops ({counts}), {total / MIB:.2f} MiB of {limit / MIB:.2f}"
          + (f"; RESEARCH USE ONLY ({'; '.join(reasons)})" if reasons else ""))
    return meta


# ----------------------------------------------------------------------------- train (GPU)
def read_pack(folder):
    """pack.json of ``folder``, checked (format, version, its records folders present)."""
    folder = Path(folder)
    meta = read_json(folder / "pack.json")
    if not isinstance(meta, dict) or meta.get("format") != PACK_FORMAT or meta.get("version") != PACK_VERSION:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise KfusionError(f"{folder / 'pack.json'}: format {found!r}; expected {PACK_FORMAT!r} version {PACK_VERSION} "
                           "(made by scripts/gpu_recipe.py pack)")
    for name in meta["parts"]:
        if not (folder / name / "manifest.json").is_file():
            raise KfusionError(f"{folder / name}: missing; pack.json lists it (copy the whole pack folder)")
    return meta


def pack_config(meta, folder, overrides, out):
    """The pack's config with its paths inside ``folder`` and ``overrides`` (``KEY=VALUE`` strings) on top."""
    folder = Path(folder).resolve()
    cfg = json.loads(json.dumps(meta["config"]))
    cfg["data"]["records"] = str(folder / cfg["data"]["records"])
    for key in ("hourglass", "fusion"):
        cfg[key]["extra_records"] = [str(folder / p) for p in cfg[key]["extra_records"]]
    for key, field in (("hourglass", "checkpoint"), ("fusion", "init_from")):
        if cfg[key][field]:
            cfg[key][field] = str(folder / cfg[key][field])
    cfg["output_dir"] = str(out)
    cfg = config_mod.from_dict(cfg, origin=str(folder / "pack.json"))
    for text in overrides:
        cfg = config_mod.override(cfg, *config_mod.parse_override(text), origin="--set")
    return cfg


def pack_section(meta, folder, stages_run):
    """The model card's "Training pack" section: the pack's parts, counts, sources and licences, and
    how long each stage trained (``stages_run``: timing.json's ``stages``)."""
    from kfusion.eval.tables import markdown_table

    rows = [[f"`{name}`", p["source"], " / ".join(f"{c} {s}" for s, c in p["splits"].items()), p["terms"]]
            for name, p in meta["parts"].items()]
    ran = "; ".join(f"{name} {r['steps']} steps of {r['batch_size']} in {r['seconds']:.0f} s"
                    + (" (its time budget ended it)" if r["stopped_by_budget"] else "")
                    for name, r in stages_run.items())
    return "\n".join([
        "## Training pack", "",
        f"Trained by `scripts/gpu_recipe.py` from the data pack `{folder}` ({meta['crops']} crops, JPEG at "
        f"quality {meta['jpeg_quality']}; config `{meta['config_file']}`): {ran}.", "",
        markdown_table(["part", "source", "crops", "licence"], rows, align="llrl"),
        f"**{meta['notice']}**" if meta["research_only"] else meta["notice"], ""])


def check_tensorflow():
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        raise KfusionError("train needs TensorFlow: pip install 'tensorflow[and-cuda]==2.21.*' (the lent GPU "
                           "machine's image has none and cannot fetch it; see this script's docstring)")


def train(args):
    """``gpu_recipe.py train``: the two stages, the end-to-end model, the export and the timing table."""
    check_tensorflow()
    t_start = time.perf_counter()
    meta = read_pack(args.pack)
    cfg = pack_config(meta, args.pack, args.set, args.out)

    import keras
    import tensorflow as tf

    from kfusion.data.records import check_split
    from kfusion.export.package import export_model
    from kfusion.train import budget, driver, stages

    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    print(f"gpu_recipe train: TensorFlow {tf.__version__}, GPUs {gpus or 'none: training on the CPU'}, "
          f"precision {cfg['train']['mixed_precision'] or 'float32'}", file=sys.stderr)
    seconds = 60.0 * float(args.minutes)
    run = Path(args.out)
    rows, summary = [], {"pack": str(args.pack), "minutes": float(args.minutes), "gpus": gpus,
                         "tensorflow": tf.__version__, "stages": {}}

    def phase(name, t0, detail=""):
        rows.append([name, f"{time.perf_counter() - t0:.1f}", detail])
        print(f"gpu_recipe train: {name}: {rows[-1][1]} s {detail}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    for name, part in meta["parts"].items():
        for split in part["splits"]:
            check_split(Path(args.pack) / name, split)
    phase("read and check the pack", t0, f"{meta['crops']} crops, {meta.get('bytes', 0) / MIB:.1f} MiB")
    run.mkdir(parents=True, exist_ok=True)
    write_json(run / "config.json", cfg)
    if cfg["train"]["mixed_precision"]:
        keras.mixed_precision.set_global_policy(cfg["train"]["mixed_precision"])

    def run_stage(name, stage, allowed):
        out = driver.stage_dir(cfg, name, run)
        driver.check_resumable(cfg, out)
        write_json(out / "config.json", cfg)
        limit = budget.for_stage(stage, allowed)
        t0 = time.perf_counter()
        network = driver.train(stage, cfg, out, callbacks=[limit], verbose=args.verbose)
        rate = limit.steps * stage.batch_size / max(limit.seconds, 1e-9)
        detail = (f"{limit.steps} steps of {stage.batch_size}, {rate:.0f} images/s; "
                  + (f"its budget of {allowed:.0f} s ended it" if limit.stopped else
                     f"its {stage.epochs} epochs ended it within {allowed:.0f} s"))
        summary["stages"][name] = {"seconds": limit.seconds, "steps": limit.steps, "batch_size": stage.batch_size,
                                   "images_per_second": rate, "budget_seconds": allowed,
                                   "stopped_by_budget": limit.stopped}
        phase(f"{name} training", t0, detail)
        return network, out

    _, hourglass_dir = run_stage("hourglass", stages.hourglass_stage(cfg), args.hourglass_share * seconds)
    hourglass = hourglass_dir / "model.keras"
    t0 = time.perf_counter()
    data = cfg["data"]
    caches = driver.caches(cfg, run, hourglass, list(dict.fromkeys([data["train_split"], data["val_split"]])))
    photos = driver.photo_cache(cfg, run, hourglass)
    phase("confidence maps (fusion caches)", t0, f"{sum(len(c) for c in caches.values()) + len(photos or [])} crops")
    # the training window of both stages closes at their shares of --minutes: what the hourglass and the
    # caches overran comes off the fusion network's budget (a quarter of its share at least)
    share = args.fusion_share * seconds
    window = (args.hourglass_share + args.fusion_share) * seconds - (time.perf_counter() - t_start)
    fusion, fusion_dir = run_stage("fusion", stages.fusion_stage(cfg, caches[data["train_split"]],
                                                                   caches[data["val_split"]], photos=photos),
                                   max(min(share, window), share / 4))
    t0 = time.perf_counter()
    model = driver.save_end_to_end(hourglass, fusion, fusion_dir, cfg)
    phase("end-to-end model", t0, f"{model.stat().st_size / MIB:.1f} MiB")
    t0 = time.perf_counter()
    export = run / "export"
    export_model(model, export, variants=args.variants, calibration_data=str(Path(args.pack) / "records"),
                 num_parity=args.num_parity, speed_repeats=args.speed_repeats, overwrite=True)
    card = export / "MODEL.md"
    write_text(card, card.read_text(encoding="utf-8").rstrip("\n") + "\n\n"
               + pack_section(meta, args.pack, summary["stages"]))
    phase("export", t0, f"TFLite {', '.join(args.variants)}")
    rows.append(["total", f"{time.perf_counter() - t_start:.1f}", f"budget {seconds:.0f} s"])
    from kfusion.eval.tables import markdown_table

    table = markdown_table(["phase", "seconds", "what ran"], rows, align="lrl")
    print(table)
    summary["phases"] = {r[0]: float(r[1]) for r in rows}
    write_text(run / "timing.md", table)
    write_json(run / "timing.json", summary)
    if args.collect:
        collect(run, Path(args.collect), fusion_dir.name)
    return summary


def collect(run, dest, fusion):
    """Copy the run's few files worth keeping flat into ``dest`` (a machine's $OUT)."""
    dest.mkdir(parents=True, exist_ok=True)
    for rel, name in COLLECT.items():
        src = run / rel.format(fusion=fusion)
        if src.is_file():
            shutil.copy2(src, dest / name)
            if src.stat().st_size > 16 * MIB:
                print(f"gpu_recipe train: {name} is {src.stat().st_size / MIB:.1f} MiB: the device tool brings back "
                      "files of up to 16 MiB", file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="here: a compact data pack of the config's records")
    p.add_argument("--config", default=str(REPO / "configs" / "gpu.yaml"))
    p.add_argument("--out", required=True, help="the pack folder (under runs/ or data/: never committed)")
    p.add_argument("--renders", type=int, default=3500, help="crops of data.records' training split")
    p.add_argument("--test", type=int, default=300, help="crops of data.records' validation split")
    p.add_argument("--photos", type=int, default=3500, help="crops of each extra records folder's training split")
    p.add_argument("--quality", type=int, default=85, help="JPEG quality (1-95)")
    p.add_argument("--size", type=int, default=None, help="crop side in px (default: hourglass.input_size)")
    p.add_argument("--max-mib", type=float, default=None,
                   help=f"refuse a larger pack (default: {DEVICE_MIB} MiB less the working tree)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    p.add_argument("--overwrite", action="store_true", help="replace an existing pack")
    t = sub.add_parser("train", help="the GPU machine: train both stages within --minutes and export")
    t.add_argument("--pack", required=True)
    t.add_argument("--out", required=True, help="the run folder")
    t.add_argument("--minutes", type=float, default=8.0, help="wall clock of the whole run, the export included")
    t.add_argument("--hourglass-share", type=float, default=0.55, help="of --minutes, the hourglass's training")
    t.add_argument("--fusion-share", type=float, default=0.15, help="of --minutes, the fusion network's training")
    t.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS, help="TFLite variants")
    t.add_argument("--num-parity", type=int, default=16, help="crops of the TFLite parity check")
    t.add_argument("--speed-repeats", type=int, default=10, help="timed calls per runtime (the model card)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    t.add_argument("--collect", default=None, metavar="DIR", help="copy the files worth keeping flat into DIR")
    t.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity")
    args = parser.parse_args(argv)
    if args.command == "pack" and not (1 <= args.quality <= 95 and min(args.renders, args.test, args.photos) >= 1):
        parser.error("--quality: expected 1-95; --renders, --test, --photos: expected >= 1")
    if args.command == "train" and not (args.minutes > 0 and args.hourglass_share > 0 and args.fusion_share > 0
                                        and args.hourglass_share + args.fusion_share < 1):
        parser.error("--minutes > 0 and shares > 0 that leave time for the caches and the export (sum < 1)")
    from kfusion import logfilter

    logfilter.install()
    try:
        return pack(args) if args.command == "pack" else train(args)
    except KfusionError as e:
        print(f"gpu_recipe {args.command}: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
