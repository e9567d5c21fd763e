"""scripts/gpu_recipe.py at a tiny size on the CPU: a pack of a few dozen crops from records this
test writes (renders with 3D, photographs with 2D only), 2 training steps of each stage, the export
and its model card; the size guard and the never-commit guard refuse in one line."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gpu_recipe.py"
S = 32


def run_script(*args, check=True):
    done = subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=900, cwd=REPO)
    if check:
        assert done.returncode == 0, f"gpu_recipe.py failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def photo_crops(n):
    """``n`` different S x S crops of a real photograph at about a person crop's scale (JPEG's error
    on them is a photograph's)."""
    from PIL import Image

    photo = Image.open(REPO / "kfusion" / "assets" / "photos" / "astronaut.png").convert("RGB")
    photo = np.asarray(photo.resize((256, 256), Image.BILINEAR))
    return [np.ascontiguousarray(photo[(9 * i) % 224:(9 * i) % 224 + S, (7 * i) % 224:(7 * i) % 224 + S])
            for i in range(n)]


def write_records(folder, skeleton, source, counts, has_3d, seed):
    """Records of ``counts`` ({split: n}) samples: joints in the crop, 3D 5 m away (zeros without 3D)."""
    from kfusion import skeletons
    from kfusion.datasets.common import write_dataset

    rng = np.random.default_rng(seed)
    J = skeletons.get(skeleton).num_joints
    K = np.array([[300.0, 0, S / 2], [0, 300.0, S / 2], [0, 0, 1]], np.float32)

    def samples(split, n):
        for i, image in enumerate(photo_crops(n)):
            uv = rng.uniform(6.0, S - 6.0, (J, 2)).astype(np.float32)
            z = np.full((J, 1), 5000.0, np.float32)
            X = np.concatenate([(uv - S / 2) / 300.0 * z, z], -1) if has_3d else np.zeros((J, 3))
            yield {"image": image, "joints_2d": uv, "joints_3d": X.astype(np.float32),
                   "visibility": np.ones(J, np.float32), "intrinsics": K, "subject": "S1", "action": split,
                   "camera": "c0", "source": source, "frame": i}

    write_dataset(folder, {split: (samples(split, n), n) for split, n in counts.items()}, skeleton=skeleton,
                  image_size=S, source=source, generator={"test": True}, num_shards=2, has_3d=has_3d)
    return folder


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """Records (renders with 3D, photographs with 2D only) and a tiny config that names them."""
    tmp = tmp_path_factory.mktemp("gpu_recipe")
    renders = write_records(tmp / "renders", "h36m17", "synthetic", {"train": 24, "test": 8}, True, seed=0)
    photos = write_records(tmp / "lsp", "lsp14", "lsp", {"train": 20}, False, seed=1)
    rng = np.random.default_rng(2)  # a teacher's 3D of the photographs (kfusion prepare teacher), frames 0-19
    np.savez(photos / "teacher-train.npz", frames=np.arange(20), pose_3d=rng.normal(0, 300, (20, 17, 3)),
             weight=np.ones((20, 17)), agreement=np.ones(20), skeleton=np.asarray("h36m17"))
    cfg = {"name": "tiny-gpu", "data": {"records": str(renders), "image_size": S},
           "hourglass": {"preset": "tiny", "input_size": S, "batch_size": 4, "epochs": 1, "schedule": "cosine",
                         "extra_records": [str(photos)], "extra_weight": 0.5},
           "fusion": {"preset": "tiny", "input_size": 20, "batch_size": 4, "epochs": 1, "settle_at": 0.5,
                      "extra_records": [str(photos)], "flip": 0.5, "teacher_weight": 1.0},
           "train": {"steps_per_epoch": 2, "validate": False}}  # no validation: a minute less on a CPU
    (tmp / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    return {"tmp": tmp, "renders": renders, "photos": photos, "config": tmp / "tiny.yaml"}


PACK_ARGS = ("--renders", 16, "--test", 6, "--photos", 12)


@pytest.fixture(scope="module")
def packed(recipe):
    """The pack of a few dozen crops."""
    pack = recipe["tmp"] / "pack"
    done = run_script("pack", "--config", recipe["config"], "--out", pack, *PACK_ARGS, "--max-mib", 64)
    return pack, done


@pytest.fixture(scope="module")
def trained(recipe, packed):
    """2 + 2 training steps from the pack, the export (TFLite float32) and the collected files."""
    run = recipe["tmp"] / "run"
    done = run_script("train", "--pack", packed[0], "--out", run, "--minutes", 5, "--variants", "float32",
                      "--num-parity", 4, "--speed-repeats", 1, "--collect", recipe["tmp"] / "collected",
                      "--verbose", 0)
    return run, done


def test_the_pack_holds_spread_jpeg_crops_their_targets_and_says_it_is_for_research(recipe, packed):
    import tensorflow as tf

    from kfusion.data.records import iterate_samples, read_manifest, read_serialized, record_files

    pack, done = packed
    meta = json.loads((pack / "pack.json").read_text())
    assert meta["crops"] == 16 + 6 + 12 and set(meta["parts"]) == {"records", "extra/lsp"}
    assert meta["parts"]["records"]["splits"] == {"train": 16, "test": 6}
    assert meta["parts"]["extra/lsp"]["splits"] == {"train": 12}
    assert meta["research_only"] and "source 'lsp'" in meta["notice"]  # LSP-extended: research only
    assert meta["parts"]["records"]["restricted"] == [] and meta["parts"]["extra/lsp"]["restricted"]
    assert meta["config"]["data"]["records"] == "records"  # the config's paths point into the pack
    assert meta["config"]["hourglass"]["extra_records"] == meta["config"]["fusion"]["extra_records"] == ["extra/lsp"]
    assert read_manifest(pack / "extra" / "lsp")["has_3d"] is False  # the photographs' manifest says 2D only
    assert (pack / "extra" / "lsp" / "teacher-train.npz").is_file()  # their teacher's 3D travels with them
    original = list(iterate_samples(recipe["renders"], "train"))
    packed = list(iterate_samples(pack / "records", "train"))
    picks = [original[i] for i in np.floor(np.arange(16) * 24 / 16).astype(int)]  # spread over the split
    for a, b in zip(picks, packed):
        np.testing.assert_array_equal(a["joints_3d"], b["joints_3d"])  # the fusion stage's 3D targets
        np.testing.assert_array_equal(a["joints_2d"], b["joints_2d"])
    errors = [np.abs(a["image"].astype(int) - b["image"]).mean() for a, b in zip(picks, packed)]
    assert max(errors) < 10.0 and np.mean(errors) < 5.0  # of 255: JPEG's loss on a photograph's crops, no worse
    assert "RESEARCH USE ONLY" in done.stdout
    for part in ("records", "extra/lsp"):  # the crops are stored as JPEG (the records' format stores PNG)
        first = next(read_serialized(record_files(pack / part, "train")[0]))
        assert tf.train.Example.FromString(first).features.feature["image"].bytes_list.value[0][:3] == b"\xff\xd8\xff"


def test_train_runs_both_stages_exports_a_working_model_and_its_card_names_the_pack(recipe, packed, trained):
    from kfusion.models import load_model

    run, done = trained
    timing = json.loads((run / "timing.json").read_text())
    for stage in ("hourglass", "fusion"):  # 1 epoch of 2 steps each: the steps, not the 5 minutes, ended them
        assert timing["stages"][stage]["steps"] == 2 and not timing["stages"][stage]["stopped_by_budget"]
    assert "| hourglass training |" in done.stdout and "| export |" in done.stdout
    model = load_model(run / "export" / "end_to_end.keras")
    crop = np.stack(photo_crops(2))
    out = model(crop, training=False)
    assert out["pose_3d"].shape == (2, 17, 3) and np.all(np.isfinite(out["pose_3d"]))
    assert (run / "export" / "tflite" / "kfusion_float32.tflite").is_file()
    card = (run / "export" / "MODEL.md").read_text()
    assert "## Training pack" in card and f"`{packed[0]}`" in card
    assert "Leeds Sports Pose" in card and "CMU motion capture" in card  # both sources, each with its terms
    assert "**For non-commercial research only (extra/lsp: source 'lsp')" in card
    assert "hourglass 2 steps of 4 in" in card and "fusion 2 steps of 4 in" in card  # how long each stage trained
    collected = {p.name for p in (recipe["tmp"] / "collected").iterdir()}
    assert {"end_to_end.keras", "MODEL.md", "timing.json", "hourglass-log.csv", "fusion-log.csv"} <= collected


def test_an_oversized_pack_is_refused_in_one_line_and_leaves_nothing(recipe, tmp_path):
    out = tmp_path / "pack"
    done = run_script("pack", "--config", recipe["config"], "--out", out, *PACK_ARGS, "--max-mib", 0.01, check=False)
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert done.returncode == 2 and len(errors) == 1
    assert "pack of 34 crops is" in errors[0] and "over the 0.01 MiB limit (--max-mib 0.01)" in errors[0]
    assert not out.exists() and not list(tmp_path.glob(".pack.tmp-*"))


def test_a_pack_where_git_would_track_it_is_refused(recipe):
    out = REPO / "kfusion-test-pack-never-written"
    done = run_script("pack", "--config", recipe["config"], "--out", out, check=False)
    written = out.exists()
    shutil.rmtree(out, ignore_errors=True)  # a broken guard leaves no pack in the checkout
    assert done.returncode == 2 and "git would track it" in done.stderr and "runs/ or data/" in done.stderr
    assert not written


def test_a_teacher_that_is_not_there_is_refused_before_the_gpu(recipe, tmp_path):
    cfg = yaml.safe_load(recipe["config"].read_text())
    bare = write_records(tmp_path / "bare", "lsp14", "lsp", {"train": 4}, False, seed=3)
    cfg["fusion"]["extra_records"] = [str(bare)]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    done = run_script("pack", "--config", tmp_path / "c.yaml", "--out", tmp_path / "pack", *PACK_ARGS, check=False)
    assert done.returncode == 2 and "bare/teacher-train.npz: not found; fusion.teacher_weight > 0" in done.stderr
    assert not (tmp_path / "pack").exists()
