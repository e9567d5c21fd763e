"""File helpers: atomic writes leave the old file or the whole new one; untrusted YAML and .npz files
never run code (no Python tags, no pickles) and their errors name the file."""
import json

import numpy as np
import pytest

from kfusion import io
from kfusion.errors import KfusionError


class _Boom(Exception):
    pass


def _leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_atomic_path_keeps_the_old_file_when_the_writer_raises(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old\n")
    with pytest.raises(_Boom):
        with io.atomic_path(target) as tmp:
            assert tmp.parent == target.parent and tmp != target
            tmp.write_text("half of the new")
            assert target.read_text() == "old\n"  # not replaced while the block runs
            raise _Boom()
    assert target.read_text() == "old\n"
    assert _leftovers(tmp_path, {"result.json"}) == []  # the temporary file is removed


def test_atomic_path_creates_nothing_when_the_first_write_fails(tmp_path):
    target = tmp_path / "sub" / "new.txt"
    with pytest.raises(KeyboardInterrupt):  # not only Exceptions: a Ctrl-C too
        with io.atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise KeyboardInterrupt()
    assert not target.exists() and _leftovers(target.parent, set()) == []


def test_atomic_path_replaces_on_success_with_the_usual_permissions(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with io.atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and _leftovers(tmp_path, {"a.txt"}) == []
    assert target.stat().st_mode & 0o777 == 0o666 & ~io.umask()  # not mkstemp's 0600


def test_write_json_that_fails_to_serialise_leaves_the_old_file(tmp_path):
    target = tmp_path / "report.json"
    io.write_json(target, {"a": 1, "arr": np.arange(2), "n": np.float32(0.5), "p": tmp_path})
    assert json.loads(target.read_text()) == {"a": 1, "arr": [0, 1], "n": 0.5, "p": str(tmp_path)}
    before = target.read_text()
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        io.write_json(target, {"a": 2, "bad": object()})
    assert target.read_text() == before and _leftovers(tmp_path, {"report.json"}) == []


def test_replace_dir_swaps_whole_folders(tmp_path):
    new, dst = tmp_path / "new", tmp_path / "dst"
    new.mkdir()
    (new / "f").write_text("new")
    io.replace_dir(new, dst)  # no old folder: a rename
    assert (dst / "f").read_text() == "new" and not new.exists()
    new.mkdir()
    (new / "g").write_text("newer")
    io.replace_dir(new, dst)
    assert sorted(p.name for p in dst.iterdir()) == ["g"] and not new.exists()
    assert _leftovers(tmp_path, {"dst"}) == []


def test_read_yaml_reads_plain_data(tmp_path):
    p = tmp_path / "ok.yaml"
    p.write_text("a: 1\nb: [x, 2.5]\nc: null\n")
    assert io.read_yaml(p) == {"a": 1, "b": ["x", 2.5], "c": None}


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system", "!!python/object/new:os.system",
                                 "!!python/name:os.system", "!!python/object:os.system"])
def test_read_yaml_refuses_python_tags_and_runs_nothing(tmp_path, tag):
    marker = tmp_path / "ran"
    p = tmp_path / "evil.yaml"
    p.write_text(f"fusion:\n  penalty: {tag} ['touch {marker}']\n")
    with pytest.raises(KfusionError) as e:
        io.read_yaml(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}:2: not valid YAML") and "Python object tag" in msg, msg
    assert "\n" not in msg and not marker.exists()


def test_read_yaml_errors_name_the_file_and_line(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("a: 1\nb: [unclosed\n")
    with pytest.raises(KfusionError, match=r"broken.yaml:\d+: not valid YAML"):
        io.read_yaml(p)
    with pytest.raises(KfusionError, match=r"missing.yaml: file not found"):
        io.read_yaml(tmp_path / "missing.yaml")


def test_read_json_errors_name_the_file(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(KfusionError, match=r"bad.json: not valid JSON"):
        io.read_json(p)
    with pytest.raises(KfusionError, match=r"none.json: file not found"):
        io.read_json(tmp_path / "none.json")


class _Payload:
    """Unpickling this object writes a file: the proof that a pickle was loaded."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_load_npz_refuses_pickled_object_arrays_without_unpickling(tmp_path):
    marker = tmp_path / "unpickled"
    p = tmp_path / "evil.npz"
    np.savez(p, pose_3d=np.zeros((2, 17, 3)), payload=np.array([_Payload(marker)], dtype=object))
    assert not marker.exists()
    with pytest.raises(KfusionError) as e:
        io.load_npz(p, required=["pose_3d"])
    assert str(p) in str(e.value) and "pickle" in str(e.value)
    assert not marker.exists()


def test_load_npz_names_the_file_and_the_missing_keys(tmp_path):
    p = tmp_path / "c.npz"
    np.savez(p, images=np.zeros((1, 2, 2, 3), np.uint8), names=np.array(["a"]))
    out = io.load_npz(p, required=["images", "names"])
    assert sorted(out) == ["images", "names"] and out["names"][0] == "a"
    with pytest.raises(KfusionError) as e:
        io.load_npz(p, required=["images", "pose_3d", "frames"])
    msg = str(e.value)
    assert str(p) in msg and "'pose_3d'" in msg and "'frames'" in msg and "'images'" in msg.split("found")[1]


def test_load_npz_refuses_other_files_naming_them(tmp_path):
    p = tmp_path / "not.npz"
    p.write_bytes(b"PK\x03\x04 this is no zip")
    with pytest.raises(KfusionError, match=r"not.npz: not a readable .npz file|not.npz: holds pickled objects or is not"):
        io.load_npz(p)
    with pytest.raises(KfusionError, match=r"absent.npz: file not found"):
        io.load_npz(tmp_path / "absent.npz")
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(KfusionError, match=str(text).replace(".", r"\.")):
        io.load_npz(text)
