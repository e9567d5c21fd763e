"""`kfusion export` into an existing folder: other files are kept, a kill leaves the old or the new export."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time


def _export_cmd(model, out, version):
    return [sys.executable, "-m", "kfusion", "export", "--model", str(model), "--out", str(out), "--overwrite",
            "--version", str(version), "--variants", "float32", "--num-parity", "2"]


def _assert_complete(folder, version):
    meta = json.loads((folder / "kfusion.json").read_text())
    assert meta["model_version"] == version
    for rel in [f"{version}/saved_model.pb", "end_to_end.keras", "MODEL.md", "parity.json", *meta["tflite"].values()]:
        assert (folder / rel).is_file(), rel


def test_kill_during_export_keeps_the_old_export_and_a_rerun_keeps_unrelated_files(tiny_export, tiny_keras,
                                                                                    tmp_path):
    out = tmp_path / "kf"
    shutil.copytree(tiny_export[0], out)
    (out / "notes.txt").write_text("mine\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(_export_cmd(tiny_keras, out, 2), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)
    deadline = time.monotonic() + 240
    # kill once the new export is half-built beside the old one (its SavedModel written)
    while time.monotonic() < deadline and proc.poll() is None:
        if any((p / "2" / "saved_model.pb").exists() for p in tmp_path.glob(".kf.*")):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    assert proc.wait(timeout=60) == -signal.SIGKILL, "export finished before it could be killed"
    _assert_complete(out, 1)
    assert (out / "notes.txt").read_text() == "mine\n"

    done = subprocess.run(_export_cmd(tiny_keras, out, 2), capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    _assert_complete(out, 2)
    assert (out / "1" / "saved_model.pb").is_file()  # the other version is kept
    assert (out / "notes.txt").read_text() == "mine\n"
    assert not list(tmp_path.glob(".kf.*"))  # the killed run's half-built folder is gone too
