"""`kfusion predict` on a folder with odd and broken files, and `kfusion demo` with a tiny model."""
import json

import numpy as np
import pytest
from PIL import Image

from kfusion.cli.main import main


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
    assert sorted(p.name for p in out.iterdir()) == ["a_gray.json", "a_gray.png", "c_rgba.json", "c_rgba.png"]
    rec = json.loads((out / "c_rgba.json").read_text())
    assert set(rec["pose_3d"]) == set(__import__("kfusion.skeletons").skeletons.H36M17.joints)
    assert rec["crop_box"]["size"] == 30.0 and "mm" in rec["units"]["pose_3d"]
    assert set(rec["pose_2d"]["r_ankle"]) == {"x", "y", "confidence"}


def test_predict_with_bbox_and_bad_bbox(tiny_model, tmp_path, capsys):
    img = tmp_path / "p.png"
    Image.fromarray(np.zeros((100, 200, 3), np.uint8)).save(img)
    out = tmp_path / "o"
    assert main(["predict", str(img), "--bbox", "50,10,20,40", "--no-figures", "--model", str(tiny_model),
                 "--out", str(out)]) == 0
    rec = json.loads((out / "p.json").read_text())
    assert rec["crop_box"] == {"x0": 32.0, "y0": 2.0, "size": 56.0, "units": "full-image pixels"}
    assert main(["predict", str(img), "--bbox", "1,2,3", "--model", str(tiny_model), "--out", str(out)]) == 2
    assert "--bbox" in capsys.readouterr().err


def test_demo_without_model_exits_2(monkeypatch, tmp_path, capsys):
    from kfusion.export import estimator

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
