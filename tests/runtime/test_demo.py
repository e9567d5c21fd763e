"""`kfusion demo`: the photos go through the person detector, and the summary says what the model was
trained on as its model card does (never a fixed sentence)."""
import json

import pytest

from kfusion.export.model_card import read_training_data
from kfusion.io import write_json
from kfusion.runtime.demo import run_demo
from kfusion.runtime.estimator import default_model_dirs

LSP_LINE = "- Leeds Sports Pose / LSP-extended (Johnson & Everingham): real photographs, 2D."


@pytest.fixture(scope="module")
def shipped_dir():
    found = [d for d in default_model_dirs() if (d / "MODEL.md").is_file()]
    if not found:
        pytest.skip("no shipped model with a model card (saved_models/kfusion-synthetic/MODEL.md) in this checkout")
    return found[0]


def test_training_data_comes_from_the_card_or_kfusion_json(tmp_path):
    card = tmp_path / "card"
    card.mkdir()
    (card / "MODEL.md").write_text("# m\n\n## Inputs\n\n- image: not training data\n\n## Training data\n\n"
                                   "- Synthetic renders.\n" + LSP_LINE + "\n\nConfig: ...\n\n## Measured errors\n\n- x\n")
    assert read_training_data(card) == ["- Synthetic renders.", LSP_LINE]
    write_json(card / "kfusion.json", {"training_data": ["- From the metadata."]})
    assert read_training_data(card) == ["- From the metadata."]  # the metadata, when it holds them
    write_json(card / "kfusion.json", {"format": "kfusion-export"})  # an older export: the card
    assert read_training_data(card) == ["- Synthetic renders.", LSP_LINE]
    assert read_training_data(tmp_path) is None  # no card, no metadata


def test_shipped_card_names_lsp_extended(shipped_dir):
    assert any("LSP-extended" in line for line in read_training_data(shipped_dir))


def test_demo_names_what_the_shipped_model_learned_from_and_finds_the_astronaut(shipped_dir, tmp_path):
    out = tmp_path / "demo"
    summary = run_demo(shipped_dir, out, num=2)
    text = (out / "summary.md").read_text()
    real = text[text.index("## Real photos"):]
    assert "LSP-extended" in real and "synthetic renders only" not in text
    assert summary["trained_on"] == read_training_data(shipped_dir)
    rows = {p["photo"]: p["crop"] for p in summary["photos"]}
    assert rows["coco_000000000785.jpg"] == "COCO person box"
    assert rows["astronaut.png"].startswith("person detector (score ")
    box = json.loads((out / "astronaut.json").read_text())["crop_box"]
    assert (box["x0"], box["y0"], box["size"]) != (0.0, 0.0, 512.0)  # not the 512 px photo's centre square


def test_demo_of_a_model_without_a_card_says_so_and_nobody_found_is_a_row(shipped_dir, tmp_path, monkeypatch):
    from kfusion.runtime.detector import PersonDetector

    monkeypatch.setattr(PersonDetector, "detect", lambda self, image: [])  # the detector sees no one
    lone = shipped_dir / "tflite" / "kfusion_float32.tflite"  # a lone file: no folder, no card
    summary = run_demo(lone, tmp_path / "demo", num=2)
    text = (tmp_path / "demo" / "summary.md").read_text()
    assert summary["trained_on"] is None and "is not recorded" in text and "LSP" not in text
    rows = {p["photo"]: p for p in summary["photos"]}
    assert rows["astronaut.png"] == {"photo": "astronaut.png", "crop": "nobody found by the person detector",
                                     "mean_confidence": None}
    assert not (tmp_path / "demo" / "astronaut.png").exists() and "| astronaut.png | nobody found" in text
    assert rows["coco_000000000785.jpg"]["crop"] == "COCO person box"  # its box needs no detector
