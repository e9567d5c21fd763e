"""A model card names what renders were made of: Human3.6M's motions (research only) and photographs."""
import json

import numpy as np

from kfusion.data import records
from kfusion.export.model_card import training_data
from kfusion.io import write_json


def _renders(folder, generator):
    records.write_manifest(folder, skeleton="h36m17", image_size=16, splits={"train": {"count": 0, "shards": 0}},
                           source="synthetic", seed=0, generator=generator)
    return folder


def _card(tmp_path, records_dir, fusion=None):
    run = tmp_path / "run" / "fusion-trainable"
    run.mkdir(parents=True)
    write_json(run / "config.json", {"data": {"records": str(records_dir)},
                                      "fusion": {"extra_records": [], **(fusion or {})},
                                      "hourglass": {"extra_records": []}})
    return "\n".join(training_data(run / "config.json"))


def test_renders_of_human36m_motion_carry_its_terms(tmp_path):
    wide = _renders(tmp_path / "wide", {"poses": "motions.npz", "pose_sources": ["bvh", "h36m"],
                                        "backgrounds": {"folder": "lsp_extended", "kind": "lsp", "images": 3043,
                                                        "share": 0.8}})
    card = _card(tmp_path, wide)
    assert "Human3.6M" in card and "non-commercial research use only" in card
    assert "CMU" in card and "LSP-extended" in card
    # the built-in renders: CMU motion, procedural backgrounds, nothing research-only
    plain = _card(tmp_path / "p", _renders(tmp_path / "plain", {"poses": "built-in", "backgrounds": "procedural"}))
    assert "CMU" in plain and "Human3.6M" not in plain and "LSP" not in plain


def test_an_older_manifest_is_read_through_its_pose_file(tmp_path):
    meta = {"config": {"sources": {"h36m": {"kind": "h36m"}, "cmu": {"kind": "bvh"}}}}
    np.savez(tmp_path / "motions.npz", poses_3d=np.zeros((1, 17, 3)), meta=np.asarray(json.dumps(meta)))
    card = _card(tmp_path, _renders(tmp_path / "wide", {"poses": str(tmp_path / "motions.npz")}))
    assert "Human3.6M" in card
    gone = _card(tmp_path / "g", _renders(tmp_path / "gone", {"poses": str(tmp_path / "missing.npz")}))
    assert "not readable here" in gone


def test_a_teachers_3d_is_named_with_its_licence(tmp_path):
    plain = _renders(tmp_path / "plain", {"poses": "built-in", "backgrounds": "procedural"})
    card = _card(tmp_path / "t", plain, fusion={"teacher_weight": 1.0})
    assert "BlazePose-full's 3D world landmarks" in card and "Apache-2.0" in card
    assert "BlazePose" not in _card(tmp_path / "n", plain, fusion={"teacher_weight": 0.0})
