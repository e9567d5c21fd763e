"""TFRecord shards and manifest: round trips, validation, atomic writes, corrupt files."""
import numpy as np
import pytest

from kfusion import skeletons
from kfusion.data import records
from kfusion.errors import KfusionError

S = 32


def fake_sample(rng, frame, size=S):
    """A random h36m17 pose 4 m in front of a camera; joints_2d is its projection."""
    J = skeletons.H36M17.num_joints
    X = rng.normal(0.0, 300.0, (J, 3)) + [0.0, 0.0, 4000.0]
    K = np.array([[80.0, 0.0, size / 2 + 1.0], [0.0, 82.0, size / 2 - 2.0], [0.0, 0.0, 1.0]])
    p = X @ K.T
    return {
        "image": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
        "joints_2d": (p[:, :2] / p[:, 2:]).astype(np.float32),
        "joints_3d": X.astype(np.float32),
        "visibility": (rng.random(J) > 0.2).astype(np.float32),
        "intrinsics": K.astype(np.float32),
        "subject": f"S{frame % 3}",
        "action": "walking",
        "camera": "cam0",
        "source": "test",
        "frame": frame,
    }


def assert_same(a, b):
    for key in records.SCHEMA:
        if isinstance(a[key], str):
            assert a[key] == b[key], key
        else:
            np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)


@pytest.fixture
def samples():
    rng = np.random.default_rng(1)
    return [fake_sample(rng, i) for i in range(7)]


def test_round_trip_keeps_values_and_order(tmp_path, samples):
    n = records.write_records(samples, tmp_path, "train", num_shards=3, skeleton="h36m17")
    assert n == 7
    assert [p.rsplit("/", 1)[-1] for p in records.record_files(tmp_path, "train")] == [
        "train-00000-of-00003.tfrecord", "train-00001-of-00003.tfrecord", "train-00002-of-00003.tfrecord"]
    back = list(records.iterate_samples(tmp_path, "train"))
    assert len(back) == 7
    for a, b in zip(samples, back):
        assert_same(records.validate_sample(a, "h36m17"), b)
    assert not list(tmp_path.glob(".*tmp"))


def test_encoding_is_deterministic_and_parse_matches_numpy(samples):
    import tensorflow as tf

    s = records.validate_sample(samples[0], "h36m17")
    blob = records.encode_example(s)
    assert blob == records.encode_example(dict(s))
    assert_same(s, records.decode_example_numpy(blob))
    t = records.parse_example(tf.constant(blob), num_joints=17, image_size=S)
    v = records.parse_example(tf.constant(blob))  # variable-length parsing
    for parsed in (t, v):
        np.testing.assert_array_equal(parsed["image"].numpy(), s["image"])
        np.testing.assert_array_equal(parsed["joints_3d"].numpy(), s["joints_3d"])
        np.testing.assert_array_equal(parsed["intrinsics"].numpy(), s["intrinsics"])
        assert parsed["subject"].numpy().decode() == s["subject"]
        assert int(parsed["frame"].numpy()) == s["frame"]


def test_jpeg_records_are_smaller_and_read_back_close_by_both_decoders(tmp_path, samples):
    """image_format='jpeg' (data packs): the same labels, crops of a photograph within JPEG's error,
    read by the TF parser (the pipeline's) and by Pillow (iterate_samples) alike; bad settings refused."""
    from pathlib import Path

    import tensorflow as tf
    from PIL import Image

    photo = Image.open(Path(records.__file__).parents[1] / "assets" / "photos" / "astronaut.png").convert("RGB")
    photo = np.asarray(photo.resize((128, 128), Image.BILINEAR))
    crops = [dict(s, image=np.ascontiguousarray(photo[8 * i:8 * i + S, 40:40 + S])) for i, s in enumerate(samples)]
    records.write_records(crops, tmp_path / "png", "train", num_shards=1, skeleton="h36m17")
    records.write_records(crops, tmp_path / "jpeg", "train", num_shards=1, skeleton="h36m17",
                          image_format="jpeg", jpeg_quality=85)
    size = lambda d: sum(p.stat().st_size for p in (tmp_path / d).glob("*.tfrecord"))  # noqa: E731
    assert size("jpeg") < 0.7 * size("png")  # 32 px crops; 5-7 times smaller at 128 px
    back = list(records.iterate_samples(tmp_path / "jpeg", "train"))
    (shard,) = records.record_files(tmp_path / "jpeg", "train")
    parsed = [records.parse_example(r, num_joints=17, image_size=S)["image"].numpy()
              for r in tf.data.TFRecordDataset(shard)]
    assert len(back) == len(parsed) == len(crops)
    for a, b, t in zip(crops, back, parsed):
        assert np.abs(b["image"].astype(int) - a["image"]).mean() < 6.0  # of 255: JPEG's loss, no worse
        assert np.abs(t.astype(int) - a["image"]).mean() < 6.0
        np.testing.assert_array_equal(a["joints_2d"], b["joints_2d"])
    with pytest.raises(KfusionError, match="image_format 'webp'"):
        records.write_records(crops, tmp_path / "x", "train", num_shards=1, skeleton="h36m17", image_format="webp")


def test_validate_sample_names_key_and_shapes(samples):
    bad = dict(samples[0], joints_2d=np.zeros((16, 2), np.float32))
    with pytest.raises(KfusionError, match=r"joints_2d.*\(16, 2\).*expected \(17, 2\)"):
        records.validate_sample(bad, "h36m17")
    with pytest.raises(KfusionError, match="missing key.*'frame'"):
        records.validate_sample({k: v for k, v in samples[0].items() if k != "frame"}, "h36m17")
    with pytest.raises(KfusionError, match="image.*float64.*uint8"):
        records.validate_sample(dict(samples[0], image=np.zeros((S, S, 3))), "h36m17")
    with pytest.raises(KfusionError, match="unknown key.*'extra'"):
        records.validate_sample(dict(samples[0], extra=1), "h36m17")
    with pytest.raises(KfusionError, match=r"image.*\(32, 32, 3\); expected \(64, 64, 3\)"):
        records.validate_sample(samples[0], "h36m17", image_size=64)


def test_write_is_atomic_and_replaces_old_shards(tmp_path, samples):
    records.write_records(samples, tmp_path, "train", num_shards=4, skeleton="h36m17")

    def broken():
        yield from samples[:3]
        yield dict(samples[3], joints_3d=np.zeros((3, 3)))

    with pytest.raises(KfusionError, match="train sample 3.*joints_3d"):
        records.write_records(broken(), tmp_path, "train", num_shards=2, skeleton="h36m17")
    # The failed write left the old shards alone and no temporary files.
    assert len(records.record_files(tmp_path, "train")) == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    records.write_records(samples, tmp_path, "train", num_shards=2, skeleton="h36m17")
    assert len(records.record_files(tmp_path, "train")) == 2
    with pytest.raises(KfusionError, match="wrote 7 .*total=8"):
        records.write_records(samples, tmp_path, "val", num_shards=1, skeleton="h36m17", total=8)
    with pytest.raises(KfusionError, match="no record files matching 'val-"):
        records.record_files(tmp_path, "val")


def test_manifest_round_trip_and_validation(tmp_path, samples):
    records.write_records(samples, tmp_path, "train", num_shards=2, skeleton="h36m17")
    m = records.write_manifest(tmp_path, skeleton="h36m17", image_size=S, splits={"train": 7},
                               source="test", seed=3, generator={"renderer": "none"})
    assert m["splits"] == {"train": {"count": 7, "shards": 2}}
    assert records.read_manifest(tmp_path) == m
    path = tmp_path / "manifest.json"
    path.write_text(path.read_text().replace('"version": 1', '"version": 7'))
    with pytest.raises(KfusionError, match=r"manifest\.json: version is 7; expected 1"):
        records.read_manifest(tmp_path)
    path.write_text('{"format": "other"}')
    with pytest.raises(KfusionError, match=r"manifest\.json: format is 'other'; expected 'kfusion-records'"):
        records.read_manifest(path)
    with pytest.raises(KfusionError, match="file not found"):
        records.read_manifest(tmp_path / "nowhere")


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_shard_error_names_the_file(tmp_path, samples, damage):
    records.write_records(samples, tmp_path, "train", num_shards=2, skeleton="h36m17")
    path = records.record_files(tmp_path, "train")[1]
    data = bytearray(open(path, "rb").read())
    if damage == "truncate":
        data = data[:-7]
    else:
        data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with pytest.raises(KfusionError, match=r"train-00001-of-00002\.tfrecord: corrupt or truncated"):
        list(records.iterate_samples(tmp_path, "train"))
    files = records.record_files(tmp_path, "train")
    with pytest.raises(KfusionError, match=r"train-00001-of-00002\.tfrecord: (corrupt|truncated)"):
        records.check_shards(files, full=True)
    if damage == "truncate":  # the header walk catches truncation without reading the data
        with pytest.raises(KfusionError, match=r"train-00001-of-00002\.tfrecord: truncated"):
            records.check_shards(files)


def test_check_shards_counts_records(tmp_path, samples):
    records.write_records(samples, tmp_path, "train", num_shards=3, skeleton="h36m17")
    files = records.record_files(tmp_path, "train")
    assert records.check_shards(files) == [3, 2, 2] == records.check_shards(files, full=True)


def test_check_split_names_an_empty_shard(tmp_path, samples):
    records.write_records(samples, tmp_path, "test", num_shards=2, skeleton="h36m17")
    records.write_manifest(tmp_path, skeleton="h36m17", image_size=S, splits={"test": len(samples)},
                           source="test", seed=0, generator={"renderer": "none"})
    assert records.check_split(tmp_path, "test") == len(samples)
    open(records.record_files(tmp_path, "test")[1], "wb").close()  # a zero-byte shard (an interrupted copy)
    with pytest.raises(KfusionError, match=r"the test shards hold \d+ records; manifest.json says \d+; "
                                           r"empty shard files \(0 bytes\): test-00001-of-00002\.tfrecord$"):
        records.check_split(tmp_path, "test")
