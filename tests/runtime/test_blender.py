"""kfusion's BVH in Blender: Blender's own importer (``bpy``) sees 17 bones, every frame, and a person
of human height once the file's declared unit is turned into its Scale.

Blender runs in a separate process, found in this order: ``$KFUSION_BLENDER_PYTHON`` (a Python with
``bpy``, e.g. a venv of its own: ``bpy`` needs Python 3.11 and numpy < 2), this Python if it has
``bpy`` (``pip install -e .[blender]``), or ``blender`` on PATH. Without any, the test is skipped.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kfusion import skeletons
from kfusion.runtime import motion
from kfusion.synthetic import bvh as bvh_lib

SCRIPT = Path(__file__).with_name("blender_bvh.py")
CMU_WALK = Path(bvh_lib.__file__).resolve().parent.parent / "assets" / "cmu" / "131_02.bvh"


def blender_command(bvh, scale):
    """The command that runs ``blender_bvh.py`` on ``bvh`` in Blender's Python, or None."""
    python = os.environ.get("KFUSION_BLENDER_PYTHON") or (sys.executable if importlib.util.find_spec("bpy") else None)
    if python:
        return [python, str(SCRIPT), str(bvh), str(scale)]
    if shutil.which("blender"):
        return [shutil.which("blender"), "--background", "--factory-startup", "--python", str(SCRIPT), "--",
                str(bvh), str(scale)]
    return None


@pytest.mark.parametrize("units", ["cm", "m"])
def test_blender_imports_kfusion_bvh_at_human_height(tmp_path, units):
    poses = bvh_lib.load_cmu_h36m17(CMU_WALK)[::4]  # a walking adult, mm, Y up
    path = motion.write_bvh(tmp_path / "walk.bvh", poses, camera_frame=False, units=units)
    declared_mm = bvh_lib.read_bvh(path).unit_mm  # what the file's header comment says
    assert declared_mm == bvh_lib.LENGTH_UNITS_MM[units]
    # Blender reads one BVH unit as one Blender unit (Scale 1 by default) and its scene's unit is the metre
    command = blender_command(path, declared_mm / 1000.0)
    if command is None:
        pytest.skip("Blender's bpy is not installed: `pip install bpy` in a Python 3.11 venv of its own (it "
                    "pins numpy < 2) and set KFUSION_BLENDER_PYTHON to its python, or `pip install -e .[blender]`, "
                    "or put blender on PATH")
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("KFUSION_BLENDER ")]
    assert done.returncode == 0 and lines, done.stdout[-2000:] + done.stderr[-2000:]
    seen = json.loads(lines[-1].split(" ", 1)[1])
    assert seen["importer_default_global_scale"] == 1.0 and seen["scale_length"] == 1.0
    assert seen["unit_system"] == "METRIC" and seen["result"] == ["FINISHED"]
    assert seen["bones"] == skeletons.H36M17.num_joints and seen["frames"] == len(poses)
    assert 1.4 <= seen["rest_height_m"] <= 2.1, seen
    assert 1.4 <= seen["first_frame_height_m"] <= 2.1, seen
