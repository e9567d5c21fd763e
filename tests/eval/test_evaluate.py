import numpy as np

from kfusion.eval import evaluate


def test_oracle_reports_zero_and_offsets_report_their_size(tmp_path):
    rng = np.random.default_rng(0)
    gt = rng.normal(scale=300, size=(40, 17, 3))
    actions = np.array(["walk", "sit"] * 20)
    summary, table = evaluate.summarize(gt.copy(), gt, actions)
    assert summary["overall"]["mpjpe"] < 1e-9 and summary["overall"]["pa_mpjpe"] < 1e-6
    assert summary["overall"]["pck3d"] == 100.0 and summary["overall"]["auc3d"] >= 100 * 30 / 31  # 0 mm threshold: float noise
    # a 30 mm shift of every non-root joint of the 'sit' poses only
    pred = gt.copy()
    pred[actions == "sit", 1:, 0] += 30.0
    summary, table = evaluate.summarize(pred, gt, actions)
    t = table.as_dict()
    assert abs(t["values"]["mpjpe"]["walk"]) < 1e-9
    assert abs(t["values"]["mpjpe"]["sit"] - 30.0 * 16 / 17) < 1e-9
    md = evaluate.write_report(summary, table, tmp_path)
    assert "| mpjpe |" in md and (tmp_path / "evaluation.json").is_file()


def test_root_translation_is_ignored():
    gt = np.random.default_rng(1).normal(scale=300, size=(5, 17, 3))
    errors = evaluate.pose_metrics(gt + np.array([100.0, -50.0, 2000.0]), gt)
    assert np.allclose(errors["mpjpe"], 0, atol=1e-9)


def test_predict_records_on_a_14_joint_dataset(tmp_path):
    """Records of another skeleton (KTH/LSP: lsp14) go through the pipeline and evaluation."""
    import keras

    from kfusion import geometry
    from kfusion.data import records
    from kfusion.data.pipeline import make_dataset

    rng = np.random.default_rng(0)
    K = geometry.camera_matrix([150.0, 150.0], [32.0, 32.0])
    samples = []
    for i in range(6):
        j3d = (rng.normal(scale=300, size=(14, 3)) + [0, 0, 4000]).astype(np.float32)
        samples.append({"image": rng.integers(0, 255, (64, 64, 3), dtype=np.uint8),
                        "joints_2d": geometry.project(j3d, K).astype(np.float32), "joints_3d": j3d,
                        "visibility": np.ones(14, np.float32), "intrinsics": K.astype(np.float32),
                        "subject": "P2", "action": "football", "camera": "1", "source": "kth", "frame": i})
    records.write_records(samples, tmp_path, "test", num_shards=1, skeleton="lsp14")
    records.write_manifest(tmp_path, skeleton="lsp14", image_size=64, splits={"test": 6}, source="kth")
    f, t = next(iter(make_dataset(tmp_path, "test", batch_size=6, training=True, input_size=32, heatmap_size=8,
                                  heatmap_skeleton="lsp14", augment={"crop_prob": 0.0})))
    assert t["heatmaps"].shape == (6, 8, 8, 14) and t["pose_3d"].shape == (6, 14, 3)

    image = keras.Input((32, 32, 3), dtype="uint8", name="image")
    zeros = keras.layers.Dense(42, kernel_initializer="zeros")(keras.layers.Flatten()(image))
    model = keras.Model(image, {"pose_3d": keras.layers.Reshape((14, 3))(zeros)})
    pred, gt, meta = evaluate.predict_records(model, tmp_path, "test", batch_size=4)
    assert pred.shape == gt.shape == (6, 14, 3) and list(meta["subject"]) == ["P2"] * 6
    assert np.allclose(gt[:, 12], 0)  # root-relative to the lsp14 root, the neck
    # a model that predicts zeros: the error is the mean distance of the joints from the root
    summary, _ = evaluate.summarize(pred, gt, meta["action"], root=12)
    assert abs(summary["overall"]["mpjpe"] - np.linalg.norm(gt, axis=-1).mean()) < 1e-3
