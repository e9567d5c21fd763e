"""`kfusion export`: TF Serving layout, signature names and shapes, TFLite parity, model card."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np


def test_layout_and_signature(tiny_export):
    out, _ = tiny_export
    for rel in ("1/saved_model.pb", "1/variables", "tflite/kfusion_float32.tflite",
                "tflite/kfusion_int8.tflite", "MODEL.md", "parity.json", "parity.md", "kfusion.json", "end_to_end.keras"):
        assert (out / rel).exists(), rel
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folders left behind
    cli = Path(sys.executable).with_name("saved_model_cli")
    shown = subprocess.run([str(cli), "show", "--dir", str(out / "1"), "--tag_set", "serve", "--signature_def",
                            "serving_default"], capture_output=True, text=True, check=True).stdout
    assert "inputs['image']" in shown and "DT_UINT8" in shown and "(-1, 32, 32, 3)" in shown
    for name, shape in (("pose_3d", "(-1, 17, 3)"), ("pose_2d", "(-1, 16, 2)"), ("confidence", "(-1, 16)")):
        assert f"outputs['{name}']" in shown
        assert shape in shown.split(f"outputs['{name}']")[1].split("outputs[")[0]
    import tensorflow as tf

    fn = tf.saved_model.load(str(out / "1")).signatures["serving_default"]
    res = fn(image=tf.zeros((2, 32, 32, 3), tf.uint8))
    assert res["pose_3d"].shape == (2, 17, 3) and res["pose_2d"].shape == (2, 16, 2)


def test_tflite_parity(tiny_export, tiny_keras):
    from kfusion.export.package import parity_inputs
    from kfusion.export.saved_model import load_end_to_end
    from kfusion.export.tflite import TFLiteRunner, joint_distances

    out, report = tiny_export
    assert report == json.loads((out / "parity.json").read_text())
    assert report["variants"]["float32"]["pose_3d"]["max"] < 1.0  # mm
    model = load_end_to_end(tiny_keras)
    images, _ = parity_inputs(32, 4)
    ref = model(images)
    for variant in ("float32", "int8"):
        got = TFLiteRunner(out / "tflite" / f"kfusion_{variant}.tflite")(images)
        d = joint_distances(ref["pose_3d"].numpy(), got["pose_3d"])
        assert d.max() <= report["variants"][variant]["pose_3d"]["max"] + 1e-3
        if variant == "float32":
            assert d.max() < 1.0
    assert report["variants"]["int8"]["size_bytes"] < report["variants"]["float32"]["size_bytes"]


def test_model_card_and_metadata(tiny_export):
    out, _ = tiny_export
    card = (out / "MODEL.md").read_text()
    for needle in ("pose_3d", "millimetres", "`pelvis`", "`r_ankle`", "CMU", "TFLite", "KiB", "latency"):
        assert needle in card
    meta = json.loads((out / "kfusion.json").read_text())
    assert meta["input_size"] == 32 and meta["skeleton_3d"] == "h36m17" and len(meta["joints_2d"]) == 16
    # what it was trained on, in the metadata as in the card (kfusion demo reads it from there)
    assert "CMU" in meta["training_data"][0] and meta["training_data"][0] in card


def test_model_card_names_research_only_training_data(tmp_path):
    """A model trained on Human3.6M (renders of its poses) says so, with the licence, in its card."""
    from kfusion.data import records
    from kfusion.export.model_card import training_data
    from kfusion.io import write_json

    data = tmp_path / "data"
    records.write_manifest(data, skeleton="h36m17", image_size=64, splits={"train": {"count": 1, "shards": 1}},
                           source="h36m-render")
    write_json(tmp_path / "config.json", {"data": {"source": "h36m", "records": str(data)}})
    text = " ".join(training_data(tmp_path / "config.json"))
    assert "Human3.6M" in text and "non-commercial research" in text
    write_json(tmp_path / "config.json", {"data": {"source": "synthetic", "records": str(tmp_path / "none")}})
    text = " ".join(training_data(tmp_path / "config.json"))
    assert "CMU" in text and "non-commercial" not in text
    # the hourglass also learned from LSP-extended photographs: both sets, each with its terms
    lsp = tmp_path / "lsp"
    records.write_manifest(lsp, skeleton="lsp14", image_size=64, splits={"train": {"count": 1, "shards": 1}},
                           source="lsp")
    write_json(tmp_path / "config.json", {"data": {"source": "synthetic", "records": str(tmp_path / "none")},
                                          "hourglass": {"extra_records": [str(lsp)]}})
    lines = training_data(tmp_path / "config.json")
    assert len(lines) == 2 and "CMU" in lines[0] and "LSP-extended" in lines[1] and "non-commercial" in lines[1]
    # or only its fusion network did (fusion.extra_records): named just the same
    write_json(tmp_path / "config.json", {"data": {"source": "synthetic", "records": str(tmp_path / "none")},
                                          "fusion": {"extra_records": [str(lsp)]}})
    assert training_data(tmp_path / "config.json") == lines


def test_tflite_pose_2d_and_confidence_parity(tiny_export, tiny_keras):
    """Absolute bounds on the 2D outputs too, not only on pose_3d: every TFLite variant's decode
    (arg-max, log-parabola) finds the peaks that Keras and the SavedModel find."""
    import tensorflow as tf

    from kfusion.export.package import parity_inputs
    from kfusion.export.saved_model import load_end_to_end
    from kfusion.export.tflite import TFLiteRunner

    out, report = tiny_export
    images, _ = parity_inputs(32, 4)
    keras_ref = {k: v.numpy() for k, v in load_end_to_end(tiny_keras)(images).items()}
    served = tf.saved_model.load(str(out / "1")).signatures["serving_default"]
    saved_ref = {k: v.numpy() for k, v in served(image=tf.constant(images)).items()}
    np.testing.assert_allclose(saved_ref["pose_2d"], keras_ref["pose_2d"], atol=1e-3)
    assert set(report["variants"]) == {"float32", "int8"}
    for variant in report["variants"]:
        got = TFLiteRunner(out / "tflite" / f"kfusion_{variant}.tflite")(images)
        for name, ref in (("keras", keras_ref), ("saved_model", saved_ref)):
            d2 = np.abs(got["pose_2d"].astype(np.float64) - ref["pose_2d"])  # crop px, per coordinate
            dc = np.abs(got["confidence"].astype(np.float64) - ref["confidence"])  # map peak values
            assert d2.max() < 0.5, (variant, name, d2.max())
            assert dc.max() < 0.02, (variant, name, dc.max())
        # the stored report (per-joint Euclidean distances) agrees
        assert report["variants"][variant]["pose_2d"]["max"] < 0.5
        assert report["variants"][variant]["confidence"]["max"] < 0.02
