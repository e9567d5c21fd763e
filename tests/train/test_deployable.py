"""A trained fusion run's files load in a fresh process (no training code imported there)."""
import subprocess
import sys
import textwrap

from conftest import tiny_config

# Registers kfusion's layers only: the deployable file must not need the training losses.
SCRIPT = textwrap.dedent("""
    import sys, zipfile, json, importlib
    import keras
    from kfusion import models
    for name in models.LAYER_MODULES:
        importlib.import_module("kfusion.models." + name)
    e2e, legacy = sys.argv[1], sys.argv[2]
    def compile_configs(x):
        if isinstance(x, dict):
            return [v for k, v in x.items() if k == "compile_config" and v] + [
                c for v in x.values() for c in compile_configs(v)]
        return [c for v in x for c in compile_configs(v)] if isinstance(x, list) else []
    assert compile_configs(json.loads(zipfile.ZipFile(e2e).read("config.json"))) == [], "compile config saved"
    model = keras.saving.load_model(e2e, compile=False, safe_mode=True)
    assert "kfusion.models.losses" not in sys.modules
    models.load_model(legacy)  # a nested network saved compiled: kfusion.models.load_model registers the losses
    print("loaded", model.name)
""")


def test_end_to_end_of_a_trained_run_loads_in_a_fresh_process(tmp_path, tiny_cache):
    from kfusion.models.end_to_end import build_end_to_end
    from kfusion.models.hourglass import build_hourglass
    from kfusion import models
    from kfusion.train import driver

    cfg = tiny_config(tmp_path, epochs=1)
    models.save_model(build_hourglass("tiny"), tmp_path / "hourglass.keras")
    fusion = driver.train_fusion(cfg, *tiny_cache, tmp_path / "fusion", verbose=0)
    assert not fusion.compiled  # it trained inside its TrainingModel wrapper
    e2e = driver.save_end_to_end(tmp_path / "hourglass.keras", fusion, tmp_path / "fusion")
    # as end_to_end.keras files were written before: the nested network kept its compile config
    from kfusion.models.losses import MPJPE, pose_loss

    fusion.compile(optimizer="adam", loss=pose_loss, metrics=[MPJPE()])
    legacy = tmp_path / "legacy.keras"
    models.save_model(build_end_to_end(build_hourglass("tiny"), fusion, prune_fusion=False), legacy)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(e2e), str(legacy)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "loaded" in done.stdout, done.stderr[-3000:]


def test_a_run_with_test_time_views_saves_them_into_its_end_to_end_model(tmp_path, tiny_cache):
    from kfusion import config as config_mod
    from kfusion import models
    from kfusion.export.saved_model import load_end_to_end, model_info
    from kfusion.models.hourglass import build_hourglass
    from kfusion.train import driver

    cfg = config_mod.override(tiny_config(tmp_path, epochs=1), "hourglass.flip_test", True)
    cfg = config_mod.override(cfg, "hourglass.zoom_test", 0.75)
    cfg = config_mod.override(cfg, "fusion.flip_test", True)
    models.save_model(build_hourglass("tiny"), tmp_path / "hourglass.keras")
    fusion = driver.train_fusion(cfg, *tiny_cache, tmp_path / "fusion", verbose=0)
    e2e = load_end_to_end(driver.save_end_to_end(tmp_path / "hourglass.keras", fusion, tmp_path / "fusion", cfg))
    assert model_info(e2e)["flip_test"] is True and model_info(e2e)["zoom_test"] == 0.75
    assert model_info(e2e)["pose_flip_test"] is True
    plain = driver.save_end_to_end(tmp_path / "hourglass.keras", fusion, tmp_path / "plain")
    assert model_info(load_end_to_end(plain))["flip_test"] is False
    assert model_info(load_end_to_end(plain))["zoom_test"] is None
    assert model_info(load_end_to_end(plain))["pose_flip_test"] is False
