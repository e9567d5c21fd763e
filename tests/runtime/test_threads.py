"""One estimator shared by threads gives every thread its own answer (TFLite backend included)."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SHIPPED = Path(__file__).resolve().parents[2] / "saved_models" / "kfusion-synthetic"

# Runs in a fresh process: LiteRT only (no TensorFlow), so it starts in about a second.
SCRIPT = textwrap.dedent("""
    import json, sys
    from concurrent.futures import ThreadPoolExecutor
    import numpy as np
    import kfusion

    est = kfusion.load(sys.argv[1], backend="tflite")
    rng = np.random.default_rng(0)
    S = est.input_size
    # batches of 1 and 3 crops: a shared interpreter is also resized between calls
    jobs = [rng.integers(0, 255, size=(1 + 2 * (i % 2), S, S, 3), dtype=np.uint8) for i in range(24)]
    expected = [est.predict_crops(x)["pose_3d"] for x in jobs]
    bad = errors = 0
    for _ in range(3):
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(est.predict_crops, x) for x in jobs]
        for f, want in zip(futures, expected):
            try:
                got = f.result()["pose_3d"]
            except Exception:
                errors += 1
                continue
            bad += int(got.shape != want.shape or not np.array_equal(got, want))
    print(json.dumps({"wrong": bad, "errors": errors, "calls": 3 * len(jobs)}))
""")


@pytest.mark.skipif(not (SHIPPED / "tflite" / "kfusion_float32.tflite").is_file(), reason="no shipped model")
def test_four_threads_on_one_tflite_estimator_match_sequential_results():
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(SHIPPED)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"wrong": 0, "errors": 0, "calls": 72}, result
