"""The one sample schema of every dataset, and its TFRecord shards and manifest.

A *sample* is a dict of numpy values (see ``SCHEMA``): the square crop ``image`` around one
person, its ``joints_2d`` (crop pixels, corner convention), ``joints_3d`` (camera frame, mm,
absolute), ``visibility``, the crop's ``intrinsics`` K (which projects ``joints_3d`` onto
``joints_2d``) and labels. A split is written as TFRecord shards
``DIR/{split}-{i:05d}-of-{n:05d}.tfrecord`` plus one ``DIR/manifest.json``.

Sharding is round-robin: sample ``k`` goes to shard ``k % n`` (so the writer streams and needs
no count up front). Reading the shards interleaved one record at a time in shard order restores
the written order exactly, which :func:`iterate_samples` and the evaluation pipeline do.

TensorFlow is imported lazily so that importing this module stays cheap.
"""
import io
import os
import re
from pathlib import Path

import numpy as np

from kfusion import skeletons as _skeletons
from kfusion.errors import KfusionError, tf_error_message
from kfusion.io import read_json, write_json

FORMAT = "kfusion-records"
VERSION = 1
MANIFEST = "manifest.json"

# key -> (dtype, shape spec). "S" is the image side, "J" the skeleton's joint count.
SCHEMA = {
    "image": ("uint8", ("S", "S", 3)),
    "joints_2d": ("float32", ("J", 2)),
    "joints_3d": ("float32", ("J", 3)),
    "visibility": ("float32", ("J",)),
    "intrinsics": ("float32", (3, 3)),
    "subject": ("str", ()),
    "action": ("str", ()),
    "camera": ("str", ()),
    "source": ("str", ()),
    "frame": ("int64", ()),
}
ARRAY_KEYS = ("joints_2d", "joints_3d", "visibility", "intrinsics")
STRING_KEYS = ("subject", "action", "camera", "source")

# Fixed PNG settings: the same image always encodes to the same bytes.
_PNG_COMPRESS_LEVEL = 3

_SHARD_RE = re.compile(r"^(?P<split>.+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.tfrecord$")


def _tf():
    import tensorflow as tf

    return tf


def _skeleton(skeleton):
    return skeleton if isinstance(skeleton, _skeletons.Skeleton) else _skeletons.get(skeleton)


def shard_name(split, i, n):
    """File name of shard ``i`` of ``n`` of ``split``."""
    return f"{split}-{i:05d}-of-{n:05d}.tfrecord"


def validate_sample(sample, skeleton, image_size=None):
    """Check one sample against ``SCHEMA``; return it with every value in its schema dtype.

    Args:
      sample: dict of numpy values (extra keys are an error: the schema is the one contract).
      skeleton: a ``Skeleton`` or its name; fixes ``J``.
      image_size: the expected ``S``, or None to take it from the image (must be square).
    Raises KfusionError with a one-line message naming the key, the shape/dtype found and the one
    expected.
    """
    if not isinstance(sample, dict):
        raise KfusionError(f"sample is a {type(sample).__name__}; expected a dict with keys {list(SCHEMA)}")
    skel = _skeleton(skeleton)
    missing = [k for k in SCHEMA if k not in sample]
    if missing:
        raise KfusionError(f"sample is missing key(s) {missing}; expected keys {list(SCHEMA)}")
    extra = sorted(set(sample) - set(SCHEMA))
    if extra:
        raise KfusionError(f"sample has unknown key(s) {extra}; allowed keys {list(SCHEMA)}")
    image = np.asarray(sample["image"])
    if image_size is None and image.ndim == 3:
        image_size = image.shape[0]
    dims = {"S": image_size, "J": skel.num_joints}
    out = {}
    for key, (dtype, spec) in SCHEMA.items():
        value = sample[key]
        if dtype == "str":
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            if not isinstance(value, (str, np.str_)):
                raise KfusionError(f"sample[{key!r}] is a {type(value).__name__}; expected a str")
            out[key] = str(value)
            continue
        arr = np.asarray(value)
        expected = tuple(dims.get(d, d) for d in spec)
        if arr.shape != expected:
            raise KfusionError(f"sample[{key!r}] has shape {arr.shape}; expected {expected} "
                               f"({skel.name}, image size {image_size})")
        if dtype == "uint8":
            if arr.dtype != np.uint8:
                raise KfusionError(f"sample[{key!r}] has dtype {arr.dtype}; expected uint8")
        elif dtype == "int64":
            if not np.issubdtype(arr.dtype, np.integer):
                raise KfusionError(f"sample[{key!r}] has dtype {arr.dtype}; expected an integer (int64)")
            arr = arr.astype(np.int64)
        else:
            if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
                raise KfusionError(f"sample[{key!r}] has dtype {arr.dtype}; expected float32")
            arr = arr.astype(np.float32)
            if not np.all(np.isfinite(arr)):
                raise KfusionError(f"sample[{key!r}] has non-finite values; expected finite float32")
        out[key] = arr
    return out


def encode_png(image):
    """uint8 (H, W, 3) -> PNG bytes, deterministic (fixed compression, no metadata)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image), mode="RGB").save(
        buf, format="PNG", compress_level=_PNG_COMPRESS_LEVEL, optimize=False)
    return buf.getvalue()


def encode_jpeg(image, quality):
    """uint8 (H, W, 3) -> JPEG bytes at ``quality`` (1-95), deterministic (no metadata): 5-7 times
    smaller than PNG for 128 px crops (compact data packs), lossy."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image), mode="RGB").save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


IMAGE_FORMATS = ("png", "jpeg")


def encode_example(sample, image_format="png", jpeg_quality=90):
    """Serialise one (valid) sample to ``tf.train.Example`` bytes; the image is stored as PNG, or
    as JPEG at ``jpeg_quality`` (``parse_example`` and ``decode_example_numpy`` read either)."""
    tf = _tf()
    image = encode_png(sample["image"]) if image_format == "png" else encode_jpeg(sample["image"], jpeg_quality)
    feats = {"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))}
    for key in ARRAY_KEYS:
        flat = np.asarray(sample[key], dtype=np.float32).reshape(-1)
        feats[key] = tf.train.Feature(float_list=tf.train.FloatList(value=flat.tolist()))
    for key in STRING_KEYS:
        feats[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(sample[key]).encode("utf-8")]))
    feats["frame"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(sample["frame"])]))
    # deterministic: the features map is written in key order, so records are byte-identical across processes
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString(deterministic=True)


def _feature_spec(num_joints):
    tf = _tf()
    if num_joints is None:
        arrays = {k: tf.io.VarLenFeature(tf.float32) for k in ARRAY_KEYS}
    else:
        arrays = {
            "joints_2d": tf.io.FixedLenFeature([num_joints * 2], tf.float32),
            "joints_3d": tf.io.FixedLenFeature([num_joints * 3], tf.float32),
            "visibility": tf.io.FixedLenFeature([num_joints], tf.float32),
            "intrinsics": tf.io.FixedLenFeature([9], tf.float32),
        }
    spec = {"image": tf.io.FixedLenFeature([], tf.string), "frame": tf.io.FixedLenFeature([], tf.int64)}
    spec.update({k: tf.io.FixedLenFeature([], tf.string) for k in STRING_KEYS})
    spec.update(arrays)
    return spec


def parse_example(serialized, num_joints=None, image_size=None, decode_image=True):
    """Parse one serialised example (scalar string tensor) into a dict of tensors.

    Args:
      serialized: scalar tf.string.
      num_joints: ``J`` if known (faster fixed-length parsing, static shapes), else None.
      image_size: ``S`` if known (sets the image's static shape).
      decode_image: decode the PNG (or JPEG) to uint8 (S, S, 3); else ``image`` stays the encoded bytes.
    Returns: ``image`` uint8 (S, S, 3), ``joints_2d`` float32 (J, 2) px, ``joints_3d`` float32
    (J, 3) mm, ``visibility`` float32 (J,), ``intrinsics`` float32 (3, 3), ``subject``,
    ``action``, ``camera``, ``source`` tf.string, ``frame`` int64.
    """
    tf = _tf()
    ex = tf.io.parse_single_example(serialized, _feature_spec(num_joints))
    out = {}
    for key in ARRAY_KEYS:
        v = ex[key]
        if isinstance(v, tf.SparseTensor):
            v = tf.sparse.to_dense(v)
        out[key] = v
    out["joints_2d"] = tf.reshape(out["joints_2d"], [-1 if num_joints is None else num_joints, 2])
    out["joints_3d"] = tf.reshape(out["joints_3d"], [-1 if num_joints is None else num_joints, 3])
    out["intrinsics"] = tf.reshape(out["intrinsics"], [3, 3])
    if decode_image:
        img = tf.io.decode_png(ex["image"], channels=3, dtype=tf.uint8)  # JPEG too: one decoder for both
        if image_size is not None:
            img = tf.ensure_shape(img, [image_size, image_size, 3])
        out["image"] = img
    else:
        out["image"] = ex["image"]
    for key in STRING_KEYS + ("frame",):
        out[key] = ex[key]
    return out


def decode_example_numpy(serialized):
    """Serialised example bytes -> a sample dict of numpy values (Pillow decodes the PNG or JPEG)."""
    from PIL import Image

    tf = _tf()
    ex = tf.train.Example.FromString(serialized).features.feature
    missing = [k for k in SCHEMA if k not in ex]
    if missing:
        raise KfusionError(f"example is missing feature(s) {missing}; expected {list(SCHEMA)}")
    with Image.open(io.BytesIO(ex["image"].bytes_list.value[0])) as im:
        image = np.asarray(im.convert("RGB"), dtype=np.uint8)
    out = {"image": image}
    for key in ARRAY_KEYS:
        out[key] = np.asarray(ex[key].float_list.value, dtype=np.float32)
    n = out["visibility"].shape[0]
    out["joints_2d"] = out["joints_2d"].reshape(n, 2)
    out["joints_3d"] = out["joints_3d"].reshape(n, 3)
    out["intrinsics"] = out["intrinsics"].reshape(3, 3)
    for key in STRING_KEYS:
        out[key] = ex[key].bytes_list.value[0].decode("utf-8")
    out["frame"] = np.int64(ex["frame"].int64_list.value[0])
    return out


def write_records(samples, out_dir, split, *, num_shards, skeleton, total=None, image_format="png", jpeg_quality=90):
    """Validate and write ``samples`` as ``num_shards`` TFRecord shards of ``split``; return the count.

    Sample ``k`` goes to shard ``k % num_shards`` (round-robin). Shards are written under
    temporary names and renamed only when all samples are written; older shards of the same
    split (another shard count) are then removed. All images must have the same size.

    Args:
      samples: iterable of sample dicts (``SCHEMA``).
      out_dir: folder (created).
      split: split name (``train``, ``val``, ``test``...): letters, digits, ``_`` or ``.``.
      num_shards: number of shard files (>= 1).
      skeleton: ``Skeleton`` or name of the joints in ``joints_2d``/``joints_3d``.
      total: the expected number of samples, or None; a different count is an error.
      image_format: ``png`` (lossless, the default) or ``jpeg`` at ``jpeg_quality`` (1-95).
    """
    tf = _tf()
    if image_format not in IMAGE_FORMATS or not 1 <= int(jpeg_quality) <= 95:
        raise KfusionError(f"image_format {image_format!r}, jpeg_quality {jpeg_quality}; expected one of "
                           f"{list(IMAGE_FORMATS)} and a quality in 1-95")
    if not re.fullmatch(r"[A-Za-z0-9_.]+", str(split)):
        raise KfusionError(f"split name {split!r} is not valid; expected letters, digits, '_' or '.'")
    if int(num_shards) < 1:
        raise KfusionError(f"num_shards is {num_shards}; expected >= 1")
    n = int(num_shards)
    skel = _skeleton(skeleton)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    finals = [out_dir / shard_name(split, i, n) for i in range(n)]
    temps = [out_dir / f".{p.name}.{os.getpid()}.tmp" for p in finals]
    writers = [tf.io.TFRecordWriter(str(t)) for t in temps]
    count, size = 0, None
    try:
        for sample in samples:
            try:
                sample = validate_sample(sample, skel, size)
            except KfusionError as e:
                raise KfusionError(f"{split} sample {count}: {e}") from None
            size = sample["image"].shape[0]
            writers[count % n].write(encode_example(sample, image_format, jpeg_quality))
            count += 1
        for w in writers:
            w.close()
        if total is not None and count != int(total):
            raise KfusionError(f"{out_dir}: wrote {count} {split} samples; expected total={total}")
        for t, p in zip(temps, finals):
            os.replace(t, p)
    except BaseException:
        for w in writers:
            w.close()
        for t in temps:
            t.unlink(missing_ok=True)
        raise
    keep = {p.name for p in finals}
    for old in out_dir.glob(f"{split}-*-of-*.tfrecord"):
        m = _SHARD_RE.match(old.name)
        if m and m["split"] == split and old.name not in keep:
            old.unlink()
    return count


def write_manifest(out_dir, *, skeleton, image_size, splits, source, seed=None, generator=None):
    """Write ``out_dir/manifest.json`` atomically; return its dict.

    Args:
      skeleton: skeleton (or name) of the records' joints.
      image_size: ``S``, the crop side in pixels.
      splits: ``{split: {"count": N, "shards": n}}``, or ``{split: N}`` (shards counted on disk).
      source: dataset name; seed: generator seed; generator: dict of generator settings.
    """
    out_dir = Path(out_dir)
    norm = {}
    for split, info in dict(splits).items():
        if isinstance(info, dict):
            if set(info) != {"count", "shards"}:
                raise KfusionError(f"splits[{split!r}] has keys {sorted(info)}; expected ['count', 'shards']")
            norm[split] = {"count": int(info["count"]), "shards": int(info["shards"])}
        else:
            norm[split] = {"count": int(info), "shards": len(record_files(out_dir, split))}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "skeleton": _skeleton(skeleton).name,
        "image_size": int(image_size),
        "splits": norm,
        "source": str(source),
        "seed": None if seed is None else int(seed),
        "generator": generator or {},
    }
    write_json(out_dir / MANIFEST, manifest)
    return manifest


def check_manifest_header(m, path, *, fmt, version, keys):
    """The checks every kfusion manifest (records, pose pairs) passes: its ``format`` and ``version``,
    the ``keys`` it must hold and a known ``skeleton``; one-line errors naming ``path``."""
    if not isinstance(m, dict) or m.get("format") != fmt:
        found = m.get("format") if isinstance(m, dict) else type(m).__name__
        raise KfusionError(f"{path}: format is {found!r}; expected {fmt!r}")
    if m.get("version") != version:
        raise KfusionError(f"{path}: version is {m.get('version')!r}; expected {version}")
    for key in keys:
        if key not in m:
            raise KfusionError(f"{path}: missing key {key!r}")
    try:
        _skeletons.get(m["skeleton"])
    except ValueError as e:
        raise KfusionError(f"{path}: {e}") from None


def read_manifest(path):
    """Read and validate a records manifest (the folder or the ``manifest.json`` itself) -> dict."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST
    m = read_json(path)
    if not isinstance(m, dict):
        raise KfusionError(f"{path}: expected a JSON object with format {FORMAT!r}")
    check_manifest_header(m, path, fmt=FORMAT, version=VERSION, keys=("skeleton", "image_size", "splits", "source"))
    if not isinstance(m["image_size"], int) or m["image_size"] < 1:
        raise KfusionError(f"{path}: image_size is {m['image_size']!r}; expected a positive int")
    splits = m["splits"]
    if not isinstance(splits, dict):
        raise KfusionError(f"{path}: splits is {type(splits).__name__}; expected {{split: {{count, shards}}}}")
    for split, info in splits.items():
        if not (isinstance(info, dict) and isinstance(info.get("count"), int)
                and isinstance(info.get("shards"), int)):
            raise KfusionError(f"{path}: splits[{split!r}] is {info!r}; expected {{'count': int, 'shards': int}}")
    return m


def record_files(data_dir, split):
    """Sorted shard paths of ``split`` in ``data_dir``; error if none or if shards are missing."""
    data_dir = Path(data_dir)
    pattern = f"{split}-?????-of-?????.tfrecord"
    files = sorted(p for p in data_dir.glob(pattern) if _SHARD_RE.match(p.name))
    if not files:
        raise KfusionError(f"{data_dir}: no record files matching {pattern!r}")
    counts = {int(_SHARD_RE.match(p.name)["n"]) for p in files}
    if len(counts) != 1 or len(files) != counts.pop():
        raise KfusionError(f"{data_dir}: {split} shards are incomplete or mixed: {[p.name for p in files]}")
    return [str(p) for p in files]


def read_serialized(path):
    """Yield the serialised records of one shard; a corrupt or truncated file raises KfusionError naming it."""
    tf = _tf()
    it = iter(tf.data.TFRecordDataset(str(path)))
    k = 0
    while True:
        try:
            rec = next(it)
        except StopIteration:
            return
        except (tf.errors.DataLossError, tf.errors.OutOfRangeError, tf.errors.InvalidArgumentError) as e:
            msg = tf_error_message(e)
            raise KfusionError(f"{path}: corrupt or truncated TFRecord after {k} records ({msg})") from None
        yield rec.numpy()
        k += 1


def _crc32c_table():
    poly, table = 0x82F63B78, []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def _masked_crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C[(crc ^ b) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def check_shards(files, full=False):
    """Check TFRecord shards; raise KfusionError naming the first bad file. Returns record counts.

    ``full=False`` walks the record headers only (lengths and their CRCs: catches truncated and
    mis-framed files, one seek per record); ``full=True`` also reads every record with its data
    CRC (catches flipped bytes anywhere).
    """
    counts = []
    for path in files:
        if full:
            counts.append(sum(1 for _ in read_serialized(path)))
            continue
        size, n = os.path.getsize(path), 0
        with open(path, "rb") as f:
            pos = 0
            while pos < size:
                head = f.read(12)
                if len(head) < 12:
                    raise KfusionError(f"{path}: truncated TFRecord (a partial header after {n} records)")
                length = int.from_bytes(head[:8], "little")
                if _masked_crc32c(head[:8]) != int.from_bytes(head[8:], "little"):
                    raise KfusionError(f"{path}: corrupt TFRecord (bad length checksum after {n} records)")
                pos += 12 + length + 4
                if pos > size:
                    raise KfusionError(f"{path}: truncated TFRecord (record {n} needs {pos - size} more bytes)")
                f.seek(pos)
                n += 1
        counts.append(n)
    return counts


def check_split(data_dir, split):
    """Check that ``split``'s shards are complete, well framed and hold the manifest's count; returns it."""
    manifest = read_manifest(data_dir)
    if split not in manifest["splits"]:
        raise KfusionError(f"{data_dir}: no split {split!r}; the manifest has {sorted(manifest['splits'])}")
    files = record_files(data_dir, split)
    counts = check_shards(files)
    found, expected = sum(counts), int(manifest["splits"][split]["count"])
    if found != expected:
        # a shard may rightly be empty (more shards than samples), so only a wrong total names them
        empty = [Path(f).name for f, n in zip(files, counts) if n == 0]
        raise KfusionError(f"{data_dir}: the {split} shards hold {found} records; manifest.json says {expected}"
                           + (f"; empty shard files (0 bytes): {', '.join(empty)}" if empty else ""))
    return found


def iterate_samples(data_dir, split):
    """Yield the samples of ``split`` as numpy dicts, in the order they were written."""
    files = record_files(data_dir, split)
    readers = [read_serialized(f) for f in files]
    # Round-robin sharding: one record from each shard in turn restores the written order.
    while readers:
        alive = []
        for path, r in zip(files, readers):
            rec = next(r, None)
            if rec is None:
                continue
            try:
                yield decode_example_numpy(rec)
            except KfusionError:
                raise
            except Exception as e:
                raise KfusionError(f"{path}: undecodable record ({type(e).__name__}: {e})") from None
            alive.append((path, r))
        files, readers = [a[0] for a in alive], [a[1] for a in alive]
