"""Small, safe file helpers: atomic writes and untrusted-data loading."""
import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import yaml

from kfusion.errors import KfusionError, one_line


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    Nothing is half-written: a reader sees the old file or the complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes 0600 files; give the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def replace_dir(src, dst):
    """Move the complete folder ``src`` onto ``dst``; a reader (or a kill) sees the old or the new one.

    On Linux the two folders are swapped in one ``renameat2(RENAME_EXCHANGE)`` call, then the old one
    is removed; elsewhere ``dst`` is moved aside to ``.NAME.old`` first (a short window).
    """
    src, dst = Path(src), Path(dst)
    if not dst.exists():
        os.rename(src, dst)
        return
    if _exchange(src, dst):
        shutil.rmtree(src, ignore_errors=True)  # src now holds the old folder
        return
    old = dst.with_name(f".{dst.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    os.rename(dst, old)
    os.rename(src, dst)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a, b):
    """Atomically swap two paths (Linux ``renameat2`` with ``RENAME_EXCHANGE``); False if unsupported."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # file system without it
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))


def umask():
    """The process umask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def write_json(path, obj):
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_json(path):
    """Read JSON from ``path`` with a one-line error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise KfusionError(f"{path}: file not found (expected a JSON file)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise KfusionError(f"{path}: not valid JSON ({e})") from None


def read_yaml(path):
    """Read YAML with ``yaml.safe_load`` (no code runs) and a one-line error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise KfusionError(f"{path}: file not found (expected a YAML file)")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(e, "problem", None) or str(e)
        if "python/" in problem:
            problem = "a Python object tag; expected plain YAML data (safe_load never runs code)"
        raise KfusionError(f"{where}: not valid YAML ({one_line(problem, 110)})") from None


def load_npz(path, required=()):
    """Load an ``.npz`` without pickles; check that ``required`` keys are present.

    Returns a dict of numpy arrays.
    """
    path = Path(path)
    if not path.is_file():
        raise KfusionError(f"{path}: file not found (expected an .npz file)")
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except ValueError as e:
        raise KfusionError(f"{path}: holds pickled objects or is not an .npz; expected arrays of numbers or "
                           "strings (pickles are never loaded)") from None
    except Exception as e:  # zipfile.BadZipFile, OSError, EOFError
        raise KfusionError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None
    missing = [k for k in required if k not in out]
    if missing:
        raise KfusionError(f"{path}: missing key(s) {missing}; found {sorted(out)}")
    return out
