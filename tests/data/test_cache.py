"""HeatmapCache files round-trip exactly, refuse what they must; `driver.caches` recomputes a cache
only when the hourglass is newer than it."""
import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import pytest

from kfusion import config as config_mod
from kfusion.data.cache import HeatmapCache
from kfusion.errors import KfusionError

# the tiny fabricated cache of tests/train/conftest.py (loaded by path: every conftest is "conftest")
_spec = importlib.util.spec_from_file_location("_train_conftest", Path(__file__).parents[1] / "train" / "conftest.py")
_train = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_train)
make_cache = _train.make_cache

FIELDS = list(HeatmapCache.__dataclass_fields__)


def test_save_load_round_trip_keeps_every_array_and_dtype(tmp_path):
    cache = make_cache(6, seed=3)
    cache.teacher_3d = np.ones((6, 17, 3), np.float32)  # attached by the fusion stage (kfusion.data.teacher)
    cache.teacher_weight = np.ones((6, 17), np.float32)
    cache.save(tmp_path / "c.npz")
    back = HeatmapCache.load(tmp_path / "c.npz")
    assert type(back.input_size) is int and back.input_size == cache.input_size == 20
    for name in FIELDS:
        if name == "input_size":
            continue
        a, b = getattr(cache, name), getattr(back, name)
        assert b.dtype == a.dtype and b.shape == a.shape, name
        np.testing.assert_array_equal(b, a, err_msg=name)
    assert back.heatmaps.dtype == np.float16 and back.actions.dtype.kind == "U"  # strings, not objects
    assert len(back) == 6
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # written atomically, no temp file left


def test_subset_round_trips_too(tmp_path):
    cache = make_cache(8, seed=1)
    part = cache.subset(np.array([5, 1]))
    part.save(tmp_path / "p.npz")
    back = HeatmapCache.load(tmp_path / "p.npz")
    np.testing.assert_array_equal(back.pose_3d, cache.pose_3d[[5, 1]])
    assert list(back.actions) == [cache.actions[5], cache.actions[1]] and back.input_size == cache.input_size


def test_a_cache_written_before_visibility_was_kept_loads_without_it(tmp_path):
    cache = make_cache(3)
    np.savez(tmp_path / "old.npz", **{k: np.asarray(v) for k, v in cache.__dict__.items()
                                      if k != "visibility" and v is not None})
    back = HeatmapCache.load(tmp_path / "old.npz")
    assert back.visibility is None and len(back) == 3
    back.save(tmp_path / "again.npz")  # and it saves again without it
    assert HeatmapCache.load(tmp_path / "again.npz").visibility is None


def test_load_names_the_file_and_the_missing_arrays(tmp_path):
    cache = make_cache(2)
    arrays = {k: np.asarray(v) for k, v in cache.__dict__.items()
              if k not in ("confidence", "frames") and v is not None}
    np.savez(tmp_path / "old.npz", **arrays)
    with pytest.raises(KfusionError, match=r"old.npz: missing key\(s\) \['confidence', 'frames'\]"):
        HeatmapCache.load(tmp_path / "old.npz")


def test_load_refuses_object_arrays(tmp_path):
    cache = make_cache(2)
    arrays = {k: np.asarray(v) for k, v in cache.__dict__.items() if v is not None}
    arrays["actions"] = np.array(["walk", None], dtype=object)  # a pickled column
    np.savez(tmp_path / "obj.npz", **arrays)
    with pytest.raises(KfusionError, match=r"obj.npz: holds pickled objects"):
        HeatmapCache.load(tmp_path / "obj.npz")


# ---------------------------------------------------------------- driver.caches: when to recompute


@pytest.fixture
def run(tmp_path, monkeypatch):
    """A run folder with a (placeholder) hourglass, and ``driver.caches`` with a counting stand-in
    for the hourglass's predictions (a new fabricated cache per call, saved where asked)."""
    from kfusion.train import driver

    calls = {"predict": [], "load": 0}

    def fake_load(path, cfg=None):
        calls["load"] += 1
        calls.setdefault("flip_test", []).append(bool(cfg and cfg["hourglass"]["flip_test"]))
        return f"hourglass at {path}"

    def fake_predict(model, cfg, split, path=None, batch_size=64, records=None):
        calls["predict"].append(split)
        calls.setdefault("records", []).append(records)
        cache = make_cache(4, seed=100 + len(calls["predict"]))
        if path is not None:
            cache.save(path)
        return cache

    monkeypatch.setattr(driver, "load_hourglass", fake_load)
    monkeypatch.setattr(driver, "predict_cache", fake_predict)
    hourglass = tmp_path / "hourglass" / "model.keras"
    hourglass.parent.mkdir()
    hourglass.write_bytes(b"")
    cfg = config_mod.from_dict({"output_dir": str(tmp_path)})
    return driver, cfg, tmp_path, hourglass, calls


def _age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_caches_are_built_once_and_reused_while_the_hourglass_is_older(run):
    driver, cfg, run_dir, hourglass, calls = run
    _age(hourglass, 100)
    first = driver.caches(cfg, run_dir, hourglass, ["train", "test"])
    assert calls["predict"] == ["train", "test"] and calls["load"] == 1  # the hourglass loads once
    assert (run_dir / "cache" / "train.npz").is_file() and (run_dir / "cache" / "test.npz").is_file()
    again = driver.caches(cfg, run_dir, hourglass, ["train", "test"])
    assert calls["predict"] == ["train", "test"] and calls["load"] == 1  # nothing recomputed
    for split in ("train", "test"):
        np.testing.assert_array_equal(again[split].pose_3d, first[split].pose_3d)


def test_a_newer_hourglass_rebuilds_the_cache(run):
    driver, cfg, run_dir, hourglass, calls = run
    _age(hourglass, 100)
    old = driver.caches(cfg, run_dir, hourglass, ["train"])["train"]
    _age(run_dir / "cache" / "train.npz", 50)
    os.utime(hourglass)  # retrained just now: newer than the cache
    new = driver.caches(cfg, run_dir, hourglass, ["train"])["train"]
    assert calls["predict"] == ["train", "train"] and calls["load"] == 2
    assert not np.array_equal(new.pose_3d, old.pose_3d)
    stored = HeatmapCache.load(run_dir / "cache" / "train.npz")  # the file was replaced too
    np.testing.assert_array_equal(stored.pose_3d, new.pose_3d)
    assert (run_dir / "cache" / "train.npz").stat().st_mtime >= hourglass.stat().st_mtime
    driver.caches(cfg, run_dir, hourglass, ["train"])  # and now it is reused again
    assert calls["predict"] == ["train", "train"]


def test_only_the_stale_split_is_rebuilt(run):
    driver, cfg, run_dir, hourglass, calls = run
    _age(hourglass, 100)
    driver.caches(cfg, run_dir, hourglass, ["train", "test"])
    _age(run_dir / "cache" / "train.npz", 200)  # older than the hourglass
    driver.caches(cfg, run_dir, hourglass, ["train", "test"])
    assert calls["predict"] == ["train", "test", "train"]


def test_mirror_tested_maps_have_caches_of_their_own(run):
    """``hourglass.flip_test`` changes the maps: its caches are other files, never the plain ones."""
    driver, cfg, run_dir, hourglass, calls = run
    _age(hourglass, 100)
    driver.caches(cfg, run_dir, hourglass, ["train"])
    flipped = config_mod.override(cfg, "hourglass.flip_test", True)
    driver.caches(flipped, run_dir, hourglass, ["train"])
    assert calls["predict"] == ["train", "train"] and calls["flip_test"] == [False, True]
    assert (run_dir / "cache" / "train.npz").is_file() and (run_dir / "cache" / "train-flip.npz").is_file()
    driver.caches(flipped, run_dir, hourglass, ["train"])  # reused
    assert calls["predict"] == ["train", "train"]
    zoomed = config_mod.override(flipped, "hourglass.zoom_test", 0.875)  # a zoomed view too: other maps again
    driver.caches(zoomed, run_dir, hourglass, ["train"])
    assert calls["predict"] == ["train", "train", "train"]
    assert (run_dir / "cache" / "train-flip-zoom0.875.npz").is_file()


def test_photo_records_have_caches_named_after_them(run):
    """``fusion.extra_records``: the training split of each folder, cached as ``<folder>-train.npz``."""
    driver, cfg, run_dir, hourglass, calls = run
    _age(hourglass, 100)
    assert driver.photo_cache(cfg, run_dir, hourglass) is None  # none configured
    cfg = config_mod.override(cfg, "fusion.extra_records", ["data/lsp"])
    photos = driver.photo_cache(cfg, run_dir, hourglass)
    assert calls["records"] == ["data/lsp"] and (run_dir / "cache" / "lsp-train.npz").is_file() and len(photos) == 4
    two = driver.photo_cache(config_mod.override(cfg, "fusion.extra_records", ["data/lsp", "other/mpii"]),
                             run_dir, hourglass)
    assert calls["records"] == ["data/lsp", "other/mpii"] and len(two) == 8  # lsp reused, mpii added


def test_photo_records_of_another_skeleton_are_a_one_line_error(run):
    driver, cfg, run_dir, hourglass, calls = run
    _age(hourglass, 100)
    odd = make_cache(4, seed=7)
    odd.pose_3d = odd.pose_3d[:, :14]  # a 14-joint skeleton's (placeholder) 3D
    odd.save(run_dir / "cache" / "odd-train.npz")
    cfg = config_mod.override(cfg, "fusion.extra_records", ["data/lsp", "more/odd"])
    with pytest.raises(KfusionError, match=r"data/lsp and more/odd give 'pose_3d' of shapes \(17, 3\) and \(14, 3\)"):
        driver.photo_cache(cfg, run_dir, hourglass)


def test_a_missing_hourglass_is_a_one_line_error_naming_it(tmp_path):
    from kfusion.train import driver

    cfg = config_mod.from_dict({"output_dir": str(tmp_path)})
    missing = tmp_path / "hourglass" / "model.keras"
    with pytest.raises(KfusionError, match=r"model.keras: no trained hourglass there"):
        driver.caches(cfg, tmp_path, missing, ["train"])


def test_the_hourglass_of_an_end_to_end_model_loads_and_a_fusion_file_is_refused(tmp_path):
    """`kfusion train fusion --hourglass saved_models/.../end_to_end.keras` takes the shipped hourglass: the
    same weights as the hourglass it was built from; a file holding no hourglass is a one-line error."""
    from kfusion import skeletons
    from kfusion.models import save_model
    from kfusion.models.end_to_end import build_end_to_end
    from kfusion.models.fusion import build_fusion_network
    from kfusion.models.hourglass import build_hourglass, with_flip_test
    from kfusion.train import driver

    hg = build_hourglass("tiny")
    fusion = build_fusion_network("tiny", "early", seed=0)
    save_model(build_end_to_end(with_flip_test(hg, skeletons.MPII16.flip_permutation), fusion, prune_fusion=False),
               tmp_path / "end_to_end.keras")
    loaded = driver.load_hourglass(tmp_path / "end_to_end.keras")
    assert loaded.name == hg.name and len(loaded.weights) == len(hg.weights)
    for a, b in zip(loaded.get_weights(), hg.get_weights()):
        np.testing.assert_array_equal(a, b)
    save_model(fusion, tmp_path / "fusion.keras")
    with pytest.raises(KfusionError, match=r"fusion.keras: .*holds none.*expected a trained hourglass or an end-to-end"):
        driver.load_hourglass(tmp_path / "fusion.keras")


def test_a_missing_hourglass_beside_existing_caches_is_a_one_line_error(tmp_path):
    from kfusion.train import driver

    cfg = config_mod.from_dict({"output_dir": str(tmp_path)})
    make_cache(4).save(tmp_path / "cache" / "train.npz")
    with pytest.raises(KfusionError, match="typo.keras"):
        driver.caches(cfg, tmp_path, tmp_path / "typo.keras", ["train"])


# ---------------------------------------------------------------- photographs in the fusion stage


def test_pack_targets_puts_a_photos_labelled_limbs_on_the_3d_skeleton():
    from kfusion import skeletons
    from kfusion.data.cache import PROJECTION_JOINTS, pack_targets

    cfg = config_mod.from_dict({})
    photo = make_cache(2, seed=5)
    photo.visibility[1, skeletons.get("mpii16").index("l_wrist")] = 0
    packed = pack_targets(photo, cfg, has_3d=False)
    h36m, mpii = skeletons.get("h36m17"), skeletons.get("mpii16")
    assert packed.shape == (2, 17, 8) and not packed[..., :4].any()  # no 3D, no 3D weight
    assert not packed[..., 7].any()  # no teacher
    for name in h36m.joints:
        j = h36m.index(name)
        if name in PROJECTION_JOINTS:
            np.testing.assert_array_equal(packed[:, j, 4:6], photo.joints_2d_gt[:, mpii.index(name)])
            assert packed[0, j, 6] == 1 and packed[1, j, 6] == (name != "l_wrist")
        else:  # pelvis, spine, head...: no 2D term
            assert not packed[:, j, 6].any()
    render = pack_targets(photo, cfg, has_3d=True)
    np.testing.assert_array_equal(render[..., :3], photo.pose_3d)
    assert (render[..., 3] == 1).all() and not render[..., 4:].any()


def test_pack_targets_puts_a_teachers_3d_where_it_is_taught():
    from kfusion.data.cache import pack_targets

    photo = make_cache(2, seed=6)
    with pytest.raises(ValueError, match="no teacher's 3D"):
        pack_targets(photo, config_mod.from_dict({"fusion": {"teacher_weight": 0.5}}), has_3d=False)
    rng = np.random.default_rng(3)
    photo.teacher_3d = rng.normal(0, 300, (2, 17, 3)).astype(np.float32)
    photo.teacher_weight = np.zeros((2, 17), np.float32)
    photo.teacher_weight[0, [1, 2, 3, 11]] = 1.0
    packed = pack_targets(photo, config_mod.from_dict({"fusion": {"teacher_weight": 0.5}}), has_3d=False)
    np.testing.assert_array_equal(packed[..., :3], photo.teacher_3d)
    np.testing.assert_array_equal(packed[..., 7], 0.5 * photo.teacher_weight)
    assert not packed[..., 3].any()  # a teacher's 3D is not a render's: no plain 3D term
    off = pack_targets(photo, config_mod.from_dict({}), has_3d=False)  # teacher_weight 0: not used
    assert not off[..., :4].any() and not off[..., 7].any()
    np.testing.assert_array_equal(off[..., 4:7], packed[..., 4:7])


def test_fusion_batches_mix_in_the_photos_share():
    from kfusion.data.cache import fusion_dataset

    cfg = config_mod.from_dict({"fusion": {"input_size": 20, "extra_weight": 0.25}, "augment": {"crop_prob": 0.5}})
    renders, photos = make_cache(64, seed=1), make_cache(32, seed=2)
    ds = fusion_dataset(renders, cfg, training=True, batch_size=16, repeat=True, photos=photos)
    has_3d = []
    for x, y in ds.take(40):
        assert x["image"].shape == (16, 20, 20, 3) and y.shape == (16, 17, 8)
        has_3d.append(y.numpy()[:, 0, 3])
    share = 1.0 - np.concatenate(has_3d).mean()
    assert 0.18 < share < 0.32  # 640 samples, 25 % expected
    with pytest.raises(ValueError, match="only when training on a repeated stream"):
        fusion_dataset(renders, cfg, training=True, batch_size=16, photos=photos)
