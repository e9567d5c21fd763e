"""MirroredStrategy on two logical CPU devices gives the one-device result up to float noise."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    import numpy as np
    from kfusion.eval import evaluate
    from kfusion.train import distributed, driver
    distributed.configure_logical_cpus(2)
    import tensorflow as tf
    from kfusion.models import fusion
    for block in fusion.PRESETS["tiny"]["blocks"]:
        block.pop("dropout", None)  # dropout draws differ per replica; compare the deterministic part
    # The distributed input is a clone of the dataset whose shuffle draws another order: keep the order.
    tf.data.Dataset.shuffle = lambda self, *a, **k: self
    from kfusion import config as config_mod
    from conftest import make_cache, tiny_config
    from pathlib import Path
    out = {{}}
    train, val = make_cache(64, seed=0), make_cache(32, seed=1)
    for name in ("default", "mirrored"):
        cfg = tiny_config(Path({tmp!r}) / name, epochs=2, learning_rate=0.02)
        cfg = config_mod.override(cfg, "train.distribute", name)
        cfg = config_mod.override(cfg, "train.validate", False)
        model = driver.train_fusion(cfg, train, None, Path({tmp!r}) / name, verbose=0)
        pred = evaluate.predict_poses(model, val, cfg)
        hist = json.loads((Path({tmp!r}) / name / "train_summary.json").read_text())["history"]
        out[name] = {{"pred": pred.tolist(), "loss": hist["loss"],
                      "replicas": distributed.get_strategy(name).num_replicas_in_sync}}
    print("RESULT" + json.dumps(out))
""")


def test_mirrored_matches_single_device(tmp_path):
    tests = str(Path(__file__).resolve().parent)
    code = SCRIPT.format(tests=tests, tmp=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")][0]
    out = json.loads(line[len("RESULT"):])
    assert out["mirrored"]["replicas"] == 2 and out["default"]["replicas"] == 1
    import numpy as np

    a, b = np.array(out["default"]["pred"]), np.array(out["mirrored"]["pred"])
    assert np.abs(a).max() > 1.0  # a real prediction, not zeros
    np.testing.assert_allclose(out["default"]["loss"], out["mirrored"]["loss"], rtol=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-3 * np.abs(a).max())
