"""The bad-input corpus: every case runs the real `kfusion` command in a subprocess and must end with
one line (under 200 characters, naming what is wrong), a non-zero exit and no partial output.

Cases that fail before TensorFlow is imported start in about a second; the few that need a model run
in parallel, and the Python API cases share one process.
"""
import json
import os
import resource
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHIPPED = Path(__file__).resolve().parents[2] / "saved_models" / "kfusion-synthetic"
pytestmark = pytest.mark.skipif(not (SHIPPED / "kfusion.json").is_file(), reason="no shipped model")


def _png_bomb(path, side=20000):
    """A valid PNG header that declares side x side pixels (PIL refuses it as a decompression bomb)."""
    Image.new("RGB", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", side, side)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


def _samples(n, size=32):
    rng = np.random.default_rng(0)
    for i in range(n):
        yield {"image": rng.integers(0, 255, (size, size, 3), dtype=np.uint8),
               "joints_2d": rng.uniform(4, 28, (17, 2)).astype(np.float32),
               "joints_3d": (rng.normal(0, 200, (17, 3)) + [0, 0, 4000]).astype(np.float32),
               "visibility": np.ones(17, np.float32), "intrinsics": np.eye(3, dtype=np.float32),
               "subject": "S1", "action": "walk", "camera": "c0", "source": "test", "frame": i}


def _records(folder, n=8, shards=2):
    from kfusion.data.records import write_manifest, write_records

    write_records(_samples(n), folder, "test", num_shards=shards, skeleton="h36m17")
    write_manifest(folder, skeleton="h36m17", image_size=32, splits={"test": {"count": n, "shards": shards}},
                   source="test")
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tiny_keras):
    import shutil

    import keras

    d = tmp_path_factory.mktemp("corpus")
    good = _records(d / "records")
    for name, damage in [("zero_shard", lambda b: b""), ("truncated", lambda b: b[:len(b) // 2]),
                         ("flipped", lambda b: b[:200] + bytes(x ^ 0xFF for x in b[200:260]) + b[260:]),
                         ("framing", lambda b: b"\xff" * 12 + b[12:])]:
        shutil.copytree(good, d / name)
        shard = sorted((d / name).glob("test-*"))[0]
        shard.write_bytes(damage(shard.read_bytes()))
    shutil.copytree(good, d / "count")
    m = json.loads((d / "count" / "manifest.json").read_text())
    m["splits"]["test"]["count"] = 9
    (d / "count" / "manifest.json").write_text(json.dumps(m))
    shutil.copytree(good, d / "no_manifest")
    (d / "no_manifest" / "manifest.json").unlink()
    shutil.copytree(good, d / "missing_shard")
    sorted((d / "missing_shard").glob("test-*"))[1].unlink()
    (d / "manifest_garbage").mkdir()
    (d / "manifest_garbage" / "manifest.json").write_text("{not json")
    # images
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 48, 3), dtype=np.uint8)).save(d / "good.png")
    _png_bomb(d / "bomb.png")
    Image.new("RGB", (1, 1)).save(d / "one.png")
    (d / "empty.png").write_bytes(b"")
    (d / "text.png").write_text("not an image\n")
    (d / "broken.mp4").write_bytes(os.urandom(2048))
    (d / "empty_dir").mkdir()
    (d / "notes_dir").mkdir()
    (d / "notes_dir" / "readme.txt").write_text("no images here\n")
    (d / "mixed").mkdir()
    shutil.copy(d / "good.png", d / "mixed" / "a.png")
    shutil.copy(d / "bomb.png", d / "mixed" / "b.png")
    # models
    (d / "not_zip.keras").write_text("hello\n")
    (d / "empty.keras").write_bytes(b"")
    inp = keras.Input((4,))
    keras.Model(inp, keras.layers.Lambda(lambda x: x * 2)(inp)).save(d / "lambda.keras")
    keras.Model(inp, keras.layers.Dense(2)(inp)).save(d / "other.keras")
    (d / "garbage.tflite").write_bytes(os.urandom(512))
    (d / "model.onnx").write_bytes(b"x")
    # configs, poses, annotations
    (d / "python_tag.yaml").write_text("fusion: !!python/object/apply:os.system ['echo hi']\n")
    (d / "unknown_key.yaml").write_text("fusion:\n  lamda: 1\n")
    (d / "list.yaml").write_text("- 1\n- 2\n")
    (d / "bad_yaml.yaml").write_text("fusion: [1, 2\n")
    (d / "bad_value.yaml").write_text("fusion:\n  epochs: -3\n")
    (d / "ok.yaml").write_text(f"data:\n  records: {d / 'nowhere'}\nfusion:\n  preset: tiny\n")
    (d / "binary.bvh").write_bytes(bytes(range(256)) * 8)
    (d / "text.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    (d / "mpii.mat").write_bytes(b"MATLAB 5.0 MAT-file, Platform: GLNXA64" + os.urandom(200))
    (d / "mpii_bad.json").write_text("{\"a\": 1}")
    np.savez(d / "absurd_poses.npz", poses_3d=np.full((40, 17, 3), 1e9, np.float32))
    np.savez(d / "wrong_poses.npz", poses_3d=np.zeros((4, 5), np.float32))
    (d / "pickled.npz").write_bytes(b"PK\x03\x04garbage")
    (d / "a_file").write_text("x")
    (d / "existing_export").mkdir()
    (d / "existing_export" / "kfusion.json").write_text("{}")
    (d / "ro").mkdir()
    return d


def _cases(d, keras_model):
    """(name, argv, expected text in the one line, path that must not exist afterwards or None)."""
    m, o = str(SHIPPED), str(d / "out")
    ev = ["evaluate", "--model", str(keras_model), "--out", o, "--data"]
    pr = ["predict", "--model", m, "--out", o]
    ex = ["export", "--model", str(keras_model), "--out"]
    tr = ["train", "fusion", "--out", str(d / "run"), "--config"]
    ro = "/proc/kfusion-ro" if os.geteuid() == 0 else str(d / "ro" / "x")  # root writes through chmod
    return [
        # evaluate: records
        ("zero-byte shard", ev + [str(d / "zero_shard")], "test shards hold", o),
        ("truncated shard", ev + [str(d / "truncated")], "manifest.json says 8", o),
        ("mis-framed shard", ev + [str(d / "framing")], "corrupt TFRecord", o),
        ("manifest count disagrees", ev + [str(d / "count")], "manifest.json says 9", o),
        ("no manifest", ev + [str(d / "no_manifest")], "manifest.json", o),
        ("missing shard", ev + [str(d / "missing_shard")], "incomplete or mixed", o),
        ("manifest not JSON", ev + [str(d / "manifest_garbage")], "not valid JSON", o),
        ("data folder missing", ev + [str(d / "nowhere")], "nowhere", o),
        ("empty data folder", ev + [str(d / "empty_dir")], "empty_dir", o),
        ("unknown split", ev + [str(d / "records"), "--split", "train"], "no split 'train'", o),
        ("flipped bytes in a shard", ev + [str(d / "flipped")], "corrupt", o),
        # evaluate: models
        ("model not a zip", ["evaluate", "--model", str(d / "not_zip.keras"), "--data", str(d / "records"),
                             "--out", o], "not a .keras model", o),
        ("model empty file", ["evaluate", "--model", str(d / "empty.keras"), "--data", str(d / "records"),
                              "--out", o], "not a .keras model", o),
        ("model with a Lambda", ["evaluate", "--model", str(d / "lambda.keras"), "--data", str(d / "records"),
                                 "--out", o], "refused or unreadable .keras", o),
        ("model not kfusion", ["evaluate", "--model", str(d / "other.keras"), "--data", str(d / "records"),
                               "--out", o], "does not output 3D poses", o),
        ("model missing", ["evaluate", "--model", str(d / "none.keras"), "--data", str(d / "records"),
                           "--out", o], "not found", o),
        ("model folder without a model", ["evaluate", "--model", str(d / "empty_dir"), "--data",
                                          str(d / "records"), "--out", o], "not a model", o),
        # predict
        ("bomb PNG", pr + [str(d / "bomb.png")], "DecompressionBombError", None),
        ("1x1 image", pr + [str(d / "one.png")], "one.png: image: 1 x 1 pixels", None),
        ("zero-byte image", pr + [str(d / "empty.png")], "empty file", None),
        ("text as PNG", pr + [str(d / "text.png")], "not a readable image", None),
        ("missing image", pr + [str(d / "nothing.png")], "not found", None),
        ("bbox outside the image", pr + [str(d / "good.png"), "--bbox", "500,500,10,10"], "outside the 48 x 64", None),
        ("bbox three numbers", pr + [str(d / "good.png"), "--bbox", "1,2,3"], "--bbox '1,2,3'", o),
        ("bbox letters", pr + [str(d / "good.png"), "--bbox", "a,b,c,d"], "--bbox 'a,b,c,d'", o),
        ("bbox zero width", pr + [str(d / "good.png"), "--bbox", "1,2,0,4"], "w, h > 0", o),
        ("bbox nan", pr + [str(d / "good.png"), "--bbox", "nan,1,2,3"], "--bbox", o),
        ("empty directory", pr + [str(d / "empty_dir")], "no images or videos", o),
        ("directory without images", pr + [str(d / "notes_dir")], "no images or videos", o),
        ("corrupt video", pr + [str(d / "broken.mp4")], "broken.mp4", None),
        ("bad stride", pr + [str(d / "good.png"), "--stride", "x"], "invalid int value", o),
        ("model garbage tflite", ["predict", "--model", str(d / "garbage.tflite"), "--out", o, str(d / "good.png")],
         "garbage.tflite", o),
        ("model unknown file type", ["predict", "--model", str(d / "model.onnx"), "--out", o, str(d / "good.png")],
         "unknown model file", o),
        ("model path missing", ["predict", "--model", str(d / "gone"), "--out", o, str(d / "good.png")],
         "no such model", o),
        ("backend not exported", ["predict", "--model", str(d / "empty_dir"), "--backend", "tflite", "--out", o,
                                  str(d / "good.png")], "no tflite", o),
        # export
        ("export over an existing export", ex + [str(d / "existing_export")], "pass --overwrite", None),
        ("export onto a file", ex + [str(d / "a_file")], "is a file", None),
        ("export under a file", ex + [str(d / "a_file" / "sub")], "cannot write there", None),
        ("export to a read-only place", ex + [ro], "cannot write there", None),
        ("export bad version", ex + [str(d / "exp_v"), "--version", "0"], "positive integer", str(d / "exp_v")),
        ("export model not a zip", ["export", "--model", str(d / "not_zip.keras"), "--out", str(d / "exp_nz")],
         "not a .keras model", str(d / "exp_nz")),
        ("export model not kfusion", ["export", "--model", str(d / "other.keras"), "--out", str(d / "exp_o")],
         "expected one image input", str(d / "exp_o")),
        ("export run folder without a model", ["export", "--model", str(d / "empty_dir"), "--out",
                                               str(d / "exp_e")], "no end-to-end model", str(d / "exp_e")),
        # train / configs
        ("YAML python tag", tr + [str(d / "python_tag.yaml")], "a Python object tag", str(d / "run")),
        ("YAML unknown key", tr + [str(d / "unknown_key.yaml")], "fusion.lamda", str(d / "run")),
        ("YAML not a mapping", tr + [str(d / "list.yaml")], "list.yaml", str(d / "run")),
        ("YAML syntax", tr + [str(d / "bad_yaml.yaml")], "not valid YAML", str(d / "run")),
        ("YAML bad value", tr + [str(d / "bad_value.yaml")], "fusion.epochs", str(d / "run")),
        ("config missing", tr + [str(d / "none.yaml")], "file not found", str(d / "run")),
        ("bad --set", tr + [str(d / "unknown_key.yaml"), "--set", "nokey"], "KEY=VALUE", str(d / "run")),
        ("train without hourglass", ["train", "fusion", "--config", str(d / "bad_value.yaml").replace(
            "bad_value", "ok"), "--out", str(d / "run")], "hourglass", str(d / "run")),
        # prepare
        ("--poses wrong shape", ["prepare", "synthetic", "--out", str(d / "p2"), "--poses", str(d / "wrong_poses.npz"),
                                 "--num-train", "4", "--num-test", "4"], "wrong_poses.npz", str(d / "p2")),
        ("--poses not an npz", ["prepare", "synthetic", "--out", str(d / "p3"), "--poses", str(d / "pickled.npz"),
                                "--num-train", "4", "--num-test", "4"], "pickled.npz", str(d / "p3")),
        ("--poses binary BVH", ["prepare", "synthetic", "--out", str(d / "p4"), "--poses", str(d / "binary.bvh"),
                                "--num-train", "4", "--num-test", "4"], "binary.bvh", str(d / "p4")),
        ("mpii official .mat", ["prepare", "mpii", "--out", str(d / "p5"), "--images", str(d / "empty_dir"),
                                "--train", str(d / "mpii.mat")], "official MPII .mat", str(d / "p5")),
        ("mpii JSON not a list", ["prepare", "mpii", "--out", str(d / "p6"), "--images", str(d / "empty_dir"),
                                  "--train", str(d / "mpii_bad.json")], "mpii_bad.json", str(d / "p6")),
        ("kth empty folder", ["prepare", "kth", "--out", str(d / "p7"), "--root", str(d / "empty_dir")],
         "empty_dir", str(d / "p7")),
        ("lsp empty folder", ["prepare", "lsp", "--out", str(d / "p8"), "--root", str(d / "empty_dir")],
         "empty_dir", str(d / "p8")),
        ("h36m empty folder", ["prepare", "h36m", "--out", str(d / "p9"), "--root", str(d / "empty_dir")],
         "empty_dir", str(d / "p9")),
        ("humaneva empty folder", ["prepare", "humaneva", "--out", str(d / "p10"), "--root", str(d / "empty_dir"),
                                   "--poses", str(d / "empty_dir")], "empty_dir", str(d / "p10")),
        ("--poses absurd scale", ["prepare", "synthetic", "--out", str(d / "p12"), "--poses",
                                  str(d / "absurd_poses.npz"), "--num-train", "4", "--num-test", "4"],
         "absurd_poses.npz: poses_3d has a median thigh", str(d / "p12")),
        ("synthetic zero samples", ["prepare", "synthetic", "--out", str(d / "p11"), "--num-train", "0",
                                    "--num-test", "0"], "", str(d / "p11")),
        ("unknown command", ["frobnicate"], "invalid choice", None),
    ]


def _run(argv, **kw):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "kfusion", *argv], capture_output=True, text=True, env=env,
                          timeout=300, **kw)


DRIVER = textwrap.dedent("""
    # Runs `kfusion` command lines one after the other in this process (TensorFlow starts once) and
    # prints, per case, the exit code and what went to stderr, as the real command would have.
    import contextlib, io, json, sys, traceback
    from kfusion.cli.main import main
    out = []
    for argv in json.loads(sys.argv[1]):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                rc = main(argv)
            except SystemExit as e:  # argparse
                rc = e.code if isinstance(e.code, int) else 1
            except BaseException:
                rc = "traceback"
                err.write(traceback.format_exc())
        out.append({"rc": rc, "stderr": err.getvalue()})
    print(json.dumps(out))
""")


def _last_line(stderr):
    lines = [ln for ln in stderr.splitlines() if ln.strip() and "WARNING" not in ln
             and not ln.startswith(("I0000", "W0000", "E0000"))]
    return lines[-1] if lines else ""


def _check(name, rc, stderr, expected, leftover, folder):
    last = _last_line(stderr)
    # one short line: its length without the test's own folder, which varies (pytest-xdist adds to it)
    ok = (isinstance(rc, int) and rc != 0 and "Traceback" not in stderr and len(last.replace(str(folder), "")) < 200
          and expected in last
          and (leftover is None or not Path(leftover).exists()))
    print(f"{name:34s} | {rc} | {last}")
    return None if ok else (f"{name}: rc={rc} line={last!r} leftover={leftover and Path(leftover).exists()} "
                            f"stderr={stderr[-600:]!r}")


def test_bad_input_corpus(corpus, tiny_keras):
    """Every case through the CLI's own entry point, in two worker processes (one TensorFlow start each)."""
    cases = _cases(corpus, tiny_keras)
    assert len(cases) >= 60
    halves = [cases[0::2], cases[1::2]]

    def run_half(half):
        done = subprocess.run([sys.executable, "-c", DRIVER, json.dumps([c[1] for c in half])],
                              capture_output=True, text=True, timeout=600,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    with ThreadPoolExecutor(2) as pool:
        results = [r for half in pool.map(run_half, halves) for r in half]
    ordered = [c for half in halves for c in half]
    problems = [_check(name, r["rc"], r["stderr"], expected, leftover, corpus)
                for (name, _, expected, leftover), r in zip(ordered, results)]
    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)


# one case of each command as a real process: exit status and stderr exactly as a user sees them
REAL_PROCESS = ("manifest count disagrees", "model with a Lambda", "bomb PNG", "bbox letters",
                "export onto a file", "YAML python tag", "--poses wrong shape", "unknown command")


def test_bad_inputs_as_real_processes(corpus, tiny_keras):
    cases = [c for c in _cases(corpus, tiny_keras) if c[0] in REAL_PROCESS]
    assert len(cases) == len(REAL_PROCESS)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: _run(c[1]), cases))
    problems = [_check(name, done.returncode, done.stderr, expected, leftover, corpus)
                for (name, _, expected, leftover), done in zip(cases, results)]
    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems)


def test_one_bad_image_does_not_stop_a_folder(corpus):
    out = corpus / "mixed_out"
    done = _run(["predict", "--model", str(SHIPPED), "--out", str(out), "--no-figures", str(corpus / "mixed")])
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "b.png: not a readable image (DecompressionBombError" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.json"]


def test_export_when_the_disk_fills_up(corpus, tiny_keras):
    def small_files():  # the write of any file over 64 KiB fails as on a full disk (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))

    out = corpus / "full"
    done = _run(["export", "--model", str(tiny_keras), "--out", str(out), "--variants", "float32",
                 "--num-parity", "2"], preexec_fn=small_files)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2 and "cannot write the export" in last and len(last) < 200, done.stderr[-2000:]
    assert not out.exists() and not list(corpus.glob(".full.*"))


API = textwrap.dedent("""
    import json, sys
    import numpy as np
    import kfusion
    from kfusion.errors import KfusionError
    d, shipped, keras_model = sys.argv[1:4]
    est = kfusion.load(shipped, backend="tflite")
    img = np.zeros((64, 48, 3), np.uint8)
    cases = {
        "bbox=(1, 2, 3)": lambda: est.predict(img, bbox=(1, 2, 3)),
        "bbox='a,b,c,d'": lambda: est.predict(img, bbox="a,b,c,d"),
        "bbox outside": lambda: est.predict(img, bbox=(500, 500, 5, 5)),
        "bbox None entries": lambda: est.predict(img, bbox=(None, 1, 2, 3)),
        "1x1 array": lambda: est.predict(np.zeros((1, 1, 3), np.uint8)),
        "5-channel array": lambda: est.predict(np.zeros((32, 32, 5), np.uint8)),
        "NaN array": lambda: est.predict(np.full((32, 32), np.nan)),
        "bomb file": lambda: est.predict(d + "/bomb.png"),
        "wrong crops": lambda: est.predict_crops(np.zeros((2, 7, 7, 3), np.uint8)),
        "load garbage tflite": lambda: kfusion.load(d + "/garbage.tflite"),
        "load Lambda .keras": lambda: kfusion.load(d + "/lambda.keras"),
        "load backend": lambda: kfusion.load(shipped, backend="onnx"),
    }
    out = {}
    for name, fn in cases.items():
        try:
            fn()
            out[name] = None
        except KfusionError as e:
            out[name] = str(e)
        except Exception as e:
            out[name] = "TRACEBACK " + type(e).__name__ + ": " + str(e)[:200]
    # every model form the help names loads and agrees with the TFLite answer
    ref = est.predict(d + "/good.png", bbox="center")["pose_3d"]
    for form, path, backend in [("savedmodel", shipped, "savedmodel"), ("keras", shipped, "keras"),
                                ("keras file", shipped + "/end_to_end.keras", "auto"),
                                ("tflite file", shipped + "/tflite/kfusion_float32.tflite", "auto")]:
        got = kfusion.load(path, backend=backend).predict(d + "/good.png", bbox="center")["pose_3d"]
        out["form " + form] = float(np.abs(got - ref).max())
    print(json.dumps(out))
""")


def test_api_bad_inputs_and_model_forms(corpus, tiny_keras):
    done = subprocess.run([sys.executable, "-c", API, str(corpus), str(SHIPPED), str(tiny_keras)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for name, msg in out.items():
        print(f"{name:22s} | {msg}")
        if name.startswith("form "):
            assert msg < 1.0, (name, msg)  # mm: the same model in another form
        else:
            assert msg is not None and not msg.startswith("TRACEBACK") and len(msg) < 200, (name, msg)


def test_evaluate_accepts_an_exported_folder(corpus, tmp_path):
    """`evaluate --model <exported folder>` (its help says so) runs the SavedModel to the end."""
    done = _run(["evaluate", "--model", str(SHIPPED), "--data", str(corpus / "records"), "--out", str(tmp_path)])
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "evaluation.json").read_text())["count"] == 8
