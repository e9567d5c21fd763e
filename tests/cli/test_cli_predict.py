"""`kfusion predict` on a folder with odd and broken files, and `kfusion demo` with a tiny model."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kfusion.cli.main import main
from person_photos import skier_in_corner, skier_patch


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import keras

    from kfusion.models.end_to_end import build_end_to_end
    from kfusion.models.fusion import build_fusion_network
    from kfusion.models.hourglass import build_hourglass
    from kfusion.models import save_model

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("model") / "end_to_end.keras"
    save_model(build_end_to_end(build_hourglass("tiny"), build_fusion_network("tiny", seed=0)), path)
    return path


def test_predict_folder_goes_on_after_a_corrupt_file(tiny_model, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (50, 70), dtype=np.uint8), "L").save(src / "a_gray.png")
    (src / "b_corrupt.jpg").write_bytes(b"\xff\xd8\xff garbage")
    Image.fromarray(rng.integers(0, 256, (40, 30, 4), dtype=np.uint8), "RGBA").save(src / "c_rgba.png")
    out = tmp_path / "out"
    rc = main(["predict", str(src), "--model", str(tiny_model), "--backend", "keras", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "b_corrupt.jpg" in err and "not a readable image" in err
    # noise holds nobody: an empty list and a line saying so, never a pose (and no figure)
    assert sorted(p.name for p in out.iterdir()) == ["a_gray.json", "c_rgba.json"]
    assert "a_gray.png: nobody found" in err
    rec = json.loads((out / "c_rgba.json").read_text())
    assert rec["people"] == [] and rec["image_size"] == {"width": 30, "height": 40}


def test_predict_with_bbox_and_bad_bbox(tiny_model, tmp_path, capsys):
    img = tmp_path / "p.png"
    Image.fromarray(np.zeros((100, 200, 3), np.uint8)).save(img)
    out = tmp_path / "o"
    assert main(["predict", str(img), "--bbox", "50,10,20,40", "--no-figures", "--model", str(tiny_model),
                 "--out", str(out)]) == 0
    rec = json.loads((out / "p.json").read_text())
    (person,) = rec["people"]  # --bbox wins over the detector: one person, that box, even in a black image
    assert person["crop_box"] == {"x0": 32.0, "y0": 2.0, "size": 56.0}
    assert person["box"] == {"x": 50.0, "y": 10.0, "w": 20.0, "h": 40.0}
    assert person["box_from"] == "bbox" and person["score"] is None and 0 <= person["confidence"] <= 1
    assert set(person["pose_3d"]) == set(__import__("kfusion.skeletons").skeletons.H36M17.joints)
    assert set(person["pose_2d"]["r_ankle"]) == {"x", "y", "confidence"} and "mm" in rec["units"]["pose_3d"]
    assert main(["predict", str(img), "--bbox", "1,2,3", "--model", str(tiny_model), "--out", str(out)]) == 2
    assert "--bbox" in capsys.readouterr().err


def test_predict_finds_the_people_and_says_when_there_is_nobody(tiny_model, tmp_path, capsys):
    from kfusion.runtime.detector import iou

    canvas, pasted = skier_in_corner()
    Image.fromarray(canvas).save(tmp_path / "skier.png")
    Image.fromarray(np.full((120, 160, 3), 200, np.uint8)).save(tmp_path / "plain.png")
    out = tmp_path / "out"
    assert main(["predict", str(tmp_path / "skier.png"), str(tmp_path / "plain.png"), "--no-figures",
                 "--model", str(tiny_model), "--out", str(out)]) == 0
    assert "plain.png: nobody found" in capsys.readouterr().err
    assert json.loads((out / "plain.json").read_text())["people"] == []
    people = json.loads((out / "skier.json").read_text())["people"]
    assert len(people) >= 1 and people[0]["box_from"] == "detector" and people[0]["score"] > 0.5
    assert set(people[0]) >= {"box", "score", "crop_box", "confidence", "pose_3d", "pose_2d"}
    b = people[0]["box"]
    assert iou(pasted, np.array([[b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"]]]))[0] > 0.5
    # the pose is the detected person's: the joints lie in its crop, in the corner
    c = people[0]["crop_box"]
    xy = np.array([[j["x"], j["y"]] for j in people[0]["pose_2d"].values()])
    assert np.all((xy >= [c["x0"], c["y0"]]) & (xy <= [c["x0"] + c["size"], c["y0"] + c["size"]]))
    assert xy[:, 0].mean() > pasted[0] and xy[:, 1].mean() > pasted[1]


@pytest.fixture(scope="module")
def moving_skier_video(tmp_path_factory):
    """10 frames at 10 frames/s: the skier (cut around its joints, 220 px) moving 12 px a frame to the
    right over a 320 x 480 grey background; (path, x offset of each frame)."""
    from kfusion.video import write_video

    patch, _ = skier_patch()
    patch = np.asarray(Image.fromarray(patch).resize((220, 220), Image.BILINEAR))
    xs = [30 + 12 * i for i in range(10)]
    frames = []
    for x in xs:
        f = np.full((320, 480, 3), 90, np.uint8)
        f[50:270, x:x + 220] = patch
        frames.append(f)
    path = tmp_path_factory.mktemp("video") / "skier.mp4"
    write_video(path, frames, fps=10)
    return path, xs


def _needs_shipped_model():
    from kfusion.runtime.estimator import default_model_dirs

    if not any(d.exists() for d in default_model_dirs()):
        pytest.skip("no shipped model (saved_models/kfusion-synthetic): tracking needs a model that sees people")


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_predict_video_follows_the_person_and_writes_video_and_bvh(moving_skier_video, tmp_path, monkeypatch):
    from kfusion.runtime import detector
    from kfusion.synthetic.bvh import read_bvh
    from kfusion.video import frame_count, video_info

    _needs_shipped_model()
    video, xs = moving_skier_video
    calls = []
    detect = detector.PersonDetector.detect
    monkeypatch.setattr(detector.PersonDetector, "detect", lambda self, im: calls.append(1) or detect(self, im))
    out = tmp_path / "out"
    bvh = tmp_path / "motion.bvh"
    assert main(["predict", str(video), "--bvh", str(bvh), "--out", str(out)]) == 0
    lines = _lines(out / "skier.jsonl")
    assert [r["frame"] for r in lines] == list(range(10))
    np.testing.assert_allclose([r["time"] for r in lines], np.arange(10) / 10)
    assert all(len(r["people"]) == 1 for r in lines)
    people = [r["people"][0] for r in lines]
    assert {p["track_id"] for p in people} == {1}  # one person, one id all along
    assert set(people[0]) >= {"track_id", "box", "pose_3d", "pose_2d", "confidence", "tracked", "detected"}
    assert people[0]["detected"] and not people[0]["tracked"]  # found by the detector, then followed
    assert sum(p["tracked"] for p in people) >= 7
    assert len(calls) >= sum(r["detector"] for r in lines) >= 1  # the detector's runs are reported per frame
    # the box follows the skier: 12 px a frame to the right (the box's centre, least squares)
    centres = np.array([p["box"]["x"] + p["box"]["w"] / 2 for p in people])
    slope = np.polyfit(np.arange(10), centres, 1)[0]
    assert 6 < slope < 18, centres
    assert all(xs[i] - 20 < centres[i] < xs[i] + 240 for i in range(10))
    # the annotated video: the input's frame count, frame rate and size; no per-frame PNGs by default
    assert frame_count(out / "skier.mp4") == 10
    info = video_info(out / "skier.mp4")
    assert info["fps"] == pytest.approx(10) and info["size"] == (480, 320)
    assert not list(out.glob("*.png"))
    (track_file,) = tmp_path.glob("motion_track*.bvh")  # one BVH per track
    assert track_file.name == "motion_track1.bvh"
    b = read_bvh(track_file)
    assert b.num_frames == 10 and abs(b.frame_time - 0.1) < 1e-6 and b.names[0] == "pelvis"
    assert "\nMOTION\nFrames: 10\n" in track_file.read_text()


@pytest.fixture(scope="module")
def two_skiers_video(tmp_path_factory):
    """16 frames at 8 frames/s of 240 x 640: two skiers (160 px) far apart, one walking right, one
    standing; (path, x offsets (left, right) of each frame)."""
    from kfusion.video import write_video

    patch, _ = skier_patch()
    patch = np.asarray(Image.fromarray(patch).resize((160, 160), Image.BILINEAR))
    xs = [(20 + 6 * i, 440) for i in range(16)]
    frames = []
    for a, b in xs:
        f = np.full((240, 640, 3), 90, np.uint8)
        f[40:200, a:a + 160] = patch
        f[40:200, b:b + 160] = patch[:, ::-1]
        frames.append(f)
    path = tmp_path_factory.mktemp("video2") / "two.mp4"
    write_video(path, frames, fps=8)
    return path, xs


def test_two_people_two_tracks_frames_and_one_bvh_each(two_skiers_video, tmp_path):
    from kfusion.synthetic.bvh import read_bvh

    _needs_shipped_model()
    video, xs = two_skiers_video
    out, bvh = tmp_path / "out", tmp_path / "m.bvh"
    assert main(["predict", str(video), "--no-video", "--frames", "--bvh", str(bvh), "--out", str(out)]) == 0
    assert not (out / "two.mp4").exists()  # --no-video
    assert sorted(p.name for p in out.glob("two_f*.png")) == [f"two_f{i:06d}.png" for i in range(16)]
    lines = _lines(out / "two.jsonl")
    ids = {}
    for line, (a, b) in zip(lines, xs):
        for p in line["people"]:
            centre = p["box"]["x"] + p["box"]["w"] / 2
            side = "left" if abs(centre - a - 80) < abs(centre - b - 80) else "right"
            ids.setdefault(side, set()).add(p["track_id"])
    assert len(ids["left"]) == 1 and len(ids["right"]) == 1 and ids["left"] != ids["right"]  # stable, distinct
    assert sum(len(line["people"]) == 2 for line in lines) >= 12
    files = sorted(tmp_path.glob("m_track*.bvh"))
    assert [f.name for f in files] == sorted(f"m_track{i}.bvh" for i in ids["left"] | ids["right"])
    assert all(read_bvh(f).num_frames >= 12 for f in files)
    png = np.asarray(Image.open(out / "two_f000005.png"))
    assert png.shape == (240, 640, 3) and (png != 90).sum() > 0


STREET = Path(__file__).resolve().parents[3] / "shared" / "data" / "video" / "street.avi"


@pytest.mark.slow
def test_street_video_gives_three_people_followed_over_two_seconds(tmp_path):
    """The street (1280 x 720, 50 frames/s, 205 frames; research use only, read in place): at least 3
    tracks lasting more than 2 s (first to last frame)."""
    _needs_shipped_model()
    if not STREET.is_file():
        pytest.skip(f"{STREET} not found (../shared is absent)")
    assert main(["predict", str(STREET), "--no-video", "--out", str(tmp_path)]) == 0
    frames = {}
    for line in _lines(tmp_path / "street.jsonl"):
        for p in line["people"]:
            frames.setdefault(p["track_id"], []).append(line["time"])
    lasting = {k: max(v) - min(v) for k, v in frames.items() if max(v) - min(v) > 2.0}
    assert len(lasting) >= 3, {k: round(max(v) - min(v), 2) for k, v in frames.items()}


def test_bvh_needs_exactly_one_video(tiny_model, tmp_path, capsys):
    img = tmp_path / "p.png"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(img)
    assert main(["predict", str(img), "--bvh", str(tmp_path / "m.bvh"), "--model", str(tiny_model),
                 "--out", str(tmp_path / "o")]) == 2
    assert "--bvh" in capsys.readouterr().err and not (tmp_path / "m.bvh").exists()


def test_demo_without_model_exits_2(monkeypatch, tmp_path, capsys):
    from kfusion.runtime import estimator

    monkeypatch.setattr(estimator, "default_model_dirs", lambda: [tmp_path / "none"])
    assert main(["demo", "--out", str(tmp_path / "d")]) == 2
    assert "no shipped model" in capsys.readouterr().err


def test_demo_with_tiny_model(tiny_model, tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--model", str(tiny_model), "--backend", "keras", "--num", "8", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["count"] == 8 and summary["overall"]["mpjpe"] > 0
    assert {p["photo"] for p in summary["photos"]} >= {"coco_000000000785.jpg", "astronaut.png"}
    assert (out / "coco_000000000785.png").is_file() and "MPJPE" in (out / "summary.md").read_text()


def test_video_with_nobody_writes_null_frames_and_no_bvh(tiny_model, tmp_path, capsys):
    from kfusion.video import write_video

    video = tmp_path / "empty.mp4"
    write_video(video, np.full((3, 64, 96, 3), 120, np.uint8), fps=5)
    bvh, out = tmp_path / "m.bvh", tmp_path / "out"
    assert main(["predict", str(video), "--bvh", str(bvh), "--no-figures", "--model", str(tiny_model),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nobody found in 3 of 3 frames" in err and "no BVH written" in err and not list(tmp_path.glob("*.bvh"))
    lines = _lines(out / "empty.jsonl")
    assert [(r["frame"], r["people"]) for r in lines] == [(i, []) for i in range(3)] and lines[0]["detector"]


def test_calibrate_stores_the_trackers_threshold_in_the_model(two_skiers_video, tmp_path, capsys):
    import shutil

    from kfusion.runtime.estimator import default_model_dirs
    from kfusion.runtime.tracking import PoseTracker

    _needs_shipped_model()
    shipped = next(d for d in default_model_dirs() if d.exists())
    model = tmp_path / "model"
    (model / "tflite").mkdir(parents=True)
    shutil.copy(shipped / "kfusion.json", model / "kfusion.json")
    shutil.copy(shipped / "tflite" / "kfusion_float32.tflite", model / "tflite" / "kfusion_float32.tflite")
    video, _ = two_skiers_video
    before = json.loads((model / "kfusion.json").read_text())
    assert main(["calibrate", str(model), str(video), "--stride", "3", "--dry-run"]) == 0
    assert json.loads((model / "kfusion.json").read_text()) == before  # --dry-run writes nothing
    assert main(["calibrate", str(model), str(video), "--stride", "3"]) == 0
    meta = json.loads((model / "kfusion.json").read_text())
    tracking = meta["tracking"]
    assert tracking["images"] == 6 and tracking["positives"]["count"] >= 10 and tracking["negatives"]["count"] >= 5
    # the threshold lies between the moved crops' and the people's typical confidence
    assert tracking["negatives"]["p50"] < tracking["min_confidence"] <= tracking["positives"]["p50"]
    assert tracking["command"].startswith("kfusion calibrate") and "--stride 3" in tracking["command"]
    assert {k: v for k, v in meta.items() if k != "tracking"} == {k: v for k, v in before.items() if k != "tracking"}
    from kfusion.runtime.estimator import load

    assert PoseTracker(load(model)).min_confidence == tracking["min_confidence"]  # the tracker reads it
    assert main(["calibrate", str(tmp_path), str(video)]) == 2
    assert "no kfusion.json" in capsys.readouterr().err
