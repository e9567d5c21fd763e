"""`kfusion bench video` on a small generated clip: both rows, their frame counts and rates, the target line."""
import numpy as np
import pytest
from PIL import Image

from kfusion.cli.main import main
from kfusion.runtime.estimator import default_model_dirs
from person_photos import skier_patch


def _rows(text):
    return {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}


def test_bench_video_table(tmp_path, capsys):
    from kfusion.video import write_video

    if not any(d.exists() for d in default_model_dirs()):
        pytest.skip("no shipped model (saved_models/kfusion-synthetic) in this checkout")
    patch = np.asarray(Image.fromarray(skier_patch()[0]).resize((96, 96)))
    frames = []
    for i in range(6):
        f = np.full((128, 160, 3), 90, np.uint8)
        f[16:112, 10 + 8 * i:106 + 8 * i] = patch
        frames.append(f)
    video = write_video(tmp_path / "clip.mp4", frames, fps=12)
    out = tmp_path / "bench.md"
    assert main(["bench", "video", "--video", str(video), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert out.read_text() + "\n" == text
    rows = _rows(text)
    for name in ("JSON lines only (--no-video)", "JSON lines + annotated video (<name>.mp4)"):
        frames_, seconds, fps, tracks, detector = rows[name].strip("| ").split(" | ")[1:]
        assert int(frames_) == 6 and float(seconds) > 0 and int(tracks) >= 1 and 1 <= int(detector) <= 6
        assert float(fps) == pytest.approx(6 / float(seconds), rel=0.03)
    assert "clip.mp4: 160 x 128 px, 12.0 frames/s" in text and "Target: >= 25 frames/s" in text
    assert "at 160 x 128" in text


def test_bench_video_refuses_bad_arguments(tmp_path, capsys):
    assert main(["bench", "video", "--video", str(tmp_path / "none.mp4")]) == 2
    assert "none.mp4: video file not found" in capsys.readouterr().err
    assert main(["bench", "video", "--repeats", "0"]) == 2
    assert "--repeats 0" in capsys.readouterr().err
