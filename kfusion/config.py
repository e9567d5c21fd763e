"""The one experiment schema: YAML files in ``configs/``, validated on load.

A config is a nested dict. ``DEFAULTS`` below is the schema: every key a config may hold, with its
default; a key that is not in it is an error naming the key and the allowed ones, and a value of
the wrong type is an error naming the key, the value and the expected type.
"""
import copy
import re
from pathlib import Path

from kfusion.errors import KfusionError
from kfusion.io import read_json, read_yaml

_ANY = object()  # a default whose type is not checked (e.g. None meaning "automatic")

DEFAULTS = {
    "name": "experiment",
    "seed": 0,
    "output_dir": "runs/experiment",  # relative paths resolve against the working directory
    "data": {
        "source": "synthetic",  # synthetic | h36m | humaneva | kth | lsp | mpii
        "records": "data/synthetic",  # folder with manifest.json and the TFRecord shards
        "train_split": "train",
        "val_split": "test",
        "test_split": "test",
        "skeleton": "h36m17",  # the 3D target skeleton
        "heatmap_skeleton": "mpii16",  # the confidence maps' joints (stacked-hourglass order)
        # only for source "synthetic": what `kfusion prepare synthetic` / `reproduce` make
        "num_train": 20000,
        "num_test": 2000,
        "image_size": 128,
        "poses": None,
        # photographs behind the rendered people (a folder of images, or an LSP folder: its training
        # images away from the annotated person), read when rendering; null: procedural backgrounds
        "backgrounds": None,
        "background_share": 0.8,  # with backgrounds: the share of samples in front of a photograph
        # only for source "h36m" rendered by `kfusion prepare h36m --render` / `reproduce`
        "root": None,  # the Human3.6M folder (3d-pose-baseline layout: S*/MyPoses/3D_positions, cameras.h5)
        "test_every": 64,  # test frames: every N-th frame of S9 and S11
    },
    "augment": {
        "crop_prob": 0.7,  # the authors: a random 112/128 crop with probability 0.7
        "scale": [0.875, 1.0],
        "translate": 0.0625,
        "rotate_deg": 0.0,
        "flip": False,
        "color": 0.0,
        # real photographs' camera and light (greyscale, gamma, blur, noise, JPEG, light from one
        # side, dark rooms; data.pipeline.photometric) and occluders (data.pipeline.occlude): the
        # hourglass's training only; off for the paper's presets
        "photometric": 0.0,
        "occlude": 0.0,
        # the probability of a crop of the upper body or of the body down to the knees (skeletons.BODY_PARTS)
        "part_crop": 0.0,
    },
    "hourglass": {
        "preset": "cpu",
        "input_size": 128,
        "heatmap_size": None,  # input_size / 4 when None
        "sigma": 1.0,  # Gaussian std of the target maps, heatmap pixels
        "batch_size": 32,
        "epochs": 10,
        "learning_rate": 1e-3,
        "schedule": "constant",  # constant | cosine (to 1 % of learning_rate over the run)
        "checkpoint": None,  # a trained hourglass (.keras) to start from; at another input size it is resized (models.hourglass.resized)
        # with a checkpoint: continue it with this many times its features, starting from the same
        # maps (models.hourglass.widened): more capacity without starting from scratch
        "widen": 1,
        # 2D-only records (e.g. LSP-extended photographs: kfusion prepare lsp) the hourglass also
        # learns from; extra_weight: the fraction of training batches drawn from them
        "extra_records": [],
        "extra_weight": 0.5,
        # at test time (the fusion stage's caches and the end-to-end model) average the maps with
        # those of the mirrored crop: twice the hourglass's computation
        "flip_test": False,
        # and with those of the crop's central zoom_test square enlarged to the input (e.g. 0.875;
        # with flip_test, its mirror too): two more passes. None: no zoomed view
        "zoom_test": None,
    },
    "fusion": {
        "preset": "cpu",
        "strategy": "trainable",  # trainable | fixed | early | late | free | image_only | cm_only
        "fusion_layer": None,  # for strategy "fixed": the layer beta at which to fuse
        "input_size": 64,
        "batch_size": 64,
        "epochs": 20,
        "learning_rate": 1e-3,
        "penalty": 5000.0,  # lambda of Eq. 4, with the data loss in mm^2
        "alpha_init": 0.1,
        "beta_init": None,  # middle of the network when None
        "alpha_squared": False,  # the authors' code squares alpha in the sigmoid
        # alpha (the penalty's variable) on its own Adam with a short second-moment memory ("own"),
        # or on the weights' Adam ("shared": the paper); see kfusion/train/step.py
        "alpha_optimizer": "own",
        "alpha_learning_rate": 0.01,  # Adam's step for alpha (per step)
        "alpha_beta_2": 0.9,  # Adam's second-moment decay for alpha (0.999: the usual)
        # from this fraction of the run on, beta stays in the middle of the block it points at and
        # alpha alone sharpens the weights (null: beta learns to the end, the paper)
        "settle_at": None,
        "init_from": None,  # a trained fusion .keras to fine-tune from (layers whose shapes match)
        # 2D-only records (photographs: kfusion prepare lsp) whose labelled limbs teach the 3D pose
        # through its best scaled orthographic projection (models/losses.py); extra_weight: the
        # fraction of training samples drawn from them
        "extra_records": [],
        "extra_weight": 0.25,
        # a teacher's 3D for those photographs (kfusion prepare teacher: BlazePose-full's 3D world
        # landmarks where, projected, they agree with the label, kfusion/data/teacher.py), compared with the
        # predicted pose after centring and scaling (models/losses.py), this many times the weight
        # of a render's 3D error; 0: no teacher
        "teacher_weight": 0.0,
        # the probability that a training sample is mirrored: its image and maps (left and right
        # maps swapped), its 3D pose (x negated, left and right swapped) and its 2D labels. The paper
        # crops only; the mirror images are people moving the other way round
        "flip": 0.0,
        # the deployable model's 3D pose: the mean of the crop's and (mirrored back) of the mirrored
        # crop's (one more pass of the fusion network)
        "flip_test": False,
    },
    "lifting": {
        "units": 1024,
        "blocks": 2,
        "dropout": 0.5,
        "batch_size": 64,
        "epochs": 20,
        "learning_rate": 1e-3,
        "schedule": "constant",  # constant | cosine (to 1 % of learning_rate over the run)
        "init_from": None,  # a trained lifting .keras to continue from (pose-pair training)
    },
    "train": {
        "distribute": "default",  # tf.distribute strategy: default | mirrored | multiworker
        "checkpoint_every": 1,  # epochs
        "validate": True,
        "jit_compile": False,
        "mixed_precision": None,  # None | mixed_float16 | mixed_bfloat16
        "steps_per_epoch": None,  # None: one pass over the training data
    },
}

# The fusion network's strategies (kfusion.models.fusion builds them; its module docstring says what each is).
FUSION_STRATEGIES = ("trainable", "fixed", "early", "late", "free", "image_only", "cm_only")

_ALLOWED_CHOICES = {
    ("data", "source"): ("synthetic", "h36m", "humaneva", "kth", "lsp", "mpii"),
    ("fusion", "strategy"): FUSION_STRATEGIES,
    ("train", "distribute"): ("default", "mirrored", "multiworker"),
    ("lifting", "schedule"): ("constant", "cosine"),
    ("hourglass", "schedule"): ("constant", "cosine"),
    ("fusion", "alpha_optimizer"): ("own", "shared"),
    ("train", "mixed_precision"): (None, "mixed_float16", "mixed_bfloat16"),
}


# Lower bounds of numeric keys, by key name wherever they appear (None values are not checked).
_AT_LEAST = {"epochs": 1, "batch_size": 1, "input_size": 1, "heatmap_size": 1, "image_size": 1, "num_train": 1,
             "num_test": 0, "units": 1, "blocks": 0, "test_every": 1, "checkpoint_every": 0, "steps_per_epoch": 1,
             "penalty": 0.0, "widen": 1, "teacher_weight": 0.0}
_ABOVE = {"learning_rate": 0.0, "sigma": 0.0, "alpha_learning_rate": 0.0}  # strictly greater
_STRING_LISTS = {"extra_records"}
_YAML11_FLOAT = re.compile(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+")
_PATH_OR_NONE = {"backgrounds"}  # a folder or file named by a non-empty string, or null
_NUMBER_OR_NONE = {"heatmap_size", "fusion_layer", "steps_per_epoch", "beta_init", "settle_at", "zoom_test"}


# The paper's names of some keys: a user who writes them is pointed at the key.
_PAPER_NAMES = {"lambda": "penalty", "alpha0": "alpha_init", "beta0": "beta_init", "lr": "learning_rate",
                "strategy": "distribute", "fusion_rate": "alpha_learning_rate"}  # train.strategy was the tf.distribute strategy's old name


def _unknown_key(origin, path, key, allowed):
    """One line (under 200 characters with the command's prefix): the unknown key and what is allowed."""
    import difflib

    names = {**{a: a for a in allowed}, **{n: k for n, k in _PAPER_NAMES.items() if k in allowed}}
    close = sorted({names[c] for c in difflib.get_close_matches(str(key), list(names), n=2, cutoff=0.6)})
    if close:
        return f"{origin}: unknown key '{path}'; did you mean {' or '.join(repr(c) for c in close)}?"
    msg = f"{origin}: unknown key '{path}'; allowed: {', '.join(sorted(allowed))}"
    return msg if len(msg) < 170 else msg[:165].rsplit(", ", 1)[0] + ", ..."


def _merge(defaults, given, where, origin):
    if not isinstance(given, dict):
        raise KfusionError(f"{origin}: '{where or 'top level'}' must be a mapping, got {type(given).__name__}")
    out = copy.deepcopy(defaults)
    for key, value in given.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in defaults:
            raise KfusionError(_unknown_key(origin, path, key, defaults))
        default = defaults[key]
        if isinstance(default, dict):
            out[key] = _merge(default, value if value is not None else {}, path, origin)
        else:
            out[key] = _check_value(path, value, default, origin)
    return out


def _check_value(path, value, default, origin):
    choices = _ALLOWED_CHOICES.get(tuple(path.split(".")))
    if choices is not None:
        if value not in choices:
            raise KfusionError(f"{origin}: '{path}' is {value!r}; expected one of {list(choices)}")
        return value
    if value is None:
        return value
    name = path.split(".")[-1]
    if name in _PATH_OR_NONE and not (isinstance(value, str) and value.strip()):
        raise KfusionError(f"{origin}: '{path}' is {value!r}; expected a folder path (a string) or null")
    if default is None:
        if name not in _NUMBER_OR_NONE:
            return value
        default = 0 if name in ("heatmap_size", "fusion_layer", "steps_per_epoch") else 0.0
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        if isinstance(value, str) and _YAML11_FLOAT.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 (safe_load) reads 1e3 and 5e-3, without a dot, as strings
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, list) and name in _STRING_LISTS:
        ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
    elif isinstance(default, list):
        ok = isinstance(value, list) and all(isinstance(v, (int, float)) for v in value)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise KfusionError(f"{origin}: '{path}' is {value!r}; expected {type(default).__name__}")
    if name in _AT_LEAST and not isinstance(value, list) and value < _AT_LEAST[name]:
        raise KfusionError(f"{origin}: '{path}' is {value!r}; expected >= {_AT_LEAST[name]}")
    if name in _ABOVE and value <= _ABOVE[name]:
        raise KfusionError(f"{origin}: '{path}' is {value!r}; expected > {_ABOVE[name]}")
    if name == "settle_at" and not 0.0 <= value <= 1.0:
        raise KfusionError(f"{origin}: '{path}' is {value!r}; expected a fraction of the run in [0, 1]")
    if name == "zoom_test" and not 0.0 < value < 1.0:
        raise KfusionError(f"{origin}: '{path}' is {value!r}; expected a fraction in (0, 1) of the crop, or null")
    if path == "fusion.flip" and not 0.0 <= value <= 1.0:
        raise KfusionError(f"{origin}: '{path}' is {value!r}; expected a probability in [0, 1]")
    if name == "background_share" and not 0.0 <= value <= 1.0:
        raise KfusionError(f"{origin}: '{path}' is {value!r}; expected a fraction in [0, 1]")
    if name == "extra_weight" and not 0.0 <= value < 1.0:
        raise KfusionError(f"{origin}: '{path}' is {value!r}; expected a fraction in [0, 1)")
    if name == "alpha_beta_2" and not 0.0 < value < 1.0:
        raise KfusionError(f"{origin}: '{path}' is {value!r}; expected Adam's beta_2 in (0, 1)")
    if name == "dropout" and not 0.0 <= value < 1.0:
        raise KfusionError(f"{origin}: '{path}' is {value!r}; expected a rate in [0, 1)")
    return value


def from_dict(given, origin="config"):
    """Validate a config dict against the schema and fill in defaults."""
    return _merge(DEFAULTS, given or {}, "", origin)


def with_defaults(saved, defaults=None):
    """A config saved by an earlier version (``saved``, a dict) with the keys added to the schema since
    then set to their defaults, nothing validated: a key is added with the default that keeps the old
    behaviour, so that run was trained as if it held it."""
    defaults = DEFAULTS if defaults is None else defaults
    out = dict(saved)
    for key, default in defaults.items():
        if key not in out:
            out[key] = copy.deepcopy(default)
        elif isinstance(default, dict) and isinstance(out[key], dict):
            out[key] = with_defaults(out[key], default)
    return out


def load(path, overrides=None):
    """Load and validate a YAML config; ``overrides`` (dotted key -> value) are applied on top."""
    cfg = read_yaml(path)
    cfg = from_dict(cfg if cfg is not None else {}, origin=str(path))
    for key, value in (overrides or {}).items():
        cfg = override(cfg, key, value, origin=str(path))
    return cfg


def override(cfg, dotted_key, value, origin="override"):
    """Return a copy of ``cfg`` with ``dotted_key`` (e.g. ``fusion.epochs``) set to ``value``."""
    parts = dotted_key.split(".")
    nested = value
    for p in reversed(parts):
        nested = {p: nested}
    merged = copy.deepcopy(cfg)
    node, ref = merged, DEFAULTS
    for p in parts[:-1]:
        if p not in ref or not isinstance(ref[p], dict):
            raise KfusionError(f"{origin}: unknown key '{dotted_key}'")
        node, ref = node[p], ref[p]
    if parts[-1] not in ref:
        raise KfusionError(_unknown_key(origin, dotted_key, parts[-1], ref))
    node[parts[-1]] = _check_value(dotted_key, value, ref[parts[-1]], origin)
    return merged


def parse_override(text):
    """Parse ``key=value`` from the command line (the value is read as YAML: numbers, lists, null)."""
    import yaml

    if "=" not in text:
        raise KfusionError(f"--set {text!r}: expected KEY=VALUE, e.g. fusion.epochs=5")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw)


def resolve_path(cfg, value):
    """Resolve a path from a config (relative paths are relative to the working directory)."""
    return Path(value).expanduser()


def dump(cfg):
    """The config as YAML text."""
    import yaml

    return yaml.safe_dump(cfg, sort_keys=False)


def read_run_config(run_dir):
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise KfusionError(f"{path}: not found (expected the config of a kfusion run)")
    return read_json(path)
