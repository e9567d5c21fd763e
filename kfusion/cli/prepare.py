"""`kfusion prepare DATASET ...`: make TFRecords in the common record schema.

One sub-command per dataset; each is defined by an ``_add_<name>`` function below and runs
``kfusion.data.<module>.prepare_from_args(args)``.
"""
import importlib

# dataset -> (module under kfusion.data, one-line help)
DATASETS = {
    "synthetic": ("synthetic", "the embedded synthetic benchmark rendered from CMU motion capture"),
    "h36m": ("h36m", "Human3.6M (original release, or 3d-pose-baseline h5 / VideoPose3D npz poses)"),
    "humaneva": ("humaneva", "HumanEva-I (original videos + converted 15-joint poses)"),
    "kth": ("kth", "KTH Multiview Football II (text annotations + PNG frames)"),
    "lsp": ("lsp", "Leeds Sports Pose (joints.mat + images), 2D only"),
    "mpii": ("mpii", "MPII Human Pose (annotation .mat or JSON), 2D only"),
}


def add_arguments(parser):
    sub = parser.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    for name, (module, help_text) in DATASETS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        globals()[f"_add_{name}"](p)


def run(args):
    module = importlib.import_module(f"kfusion.data.{DATASETS[args.dataset][0]}")
    return module.prepare_from_args(args)


def _add_common(p, out_required=True):
    p.add_argument("--out", required=out_required, help="output folder for the records and manifest")
    p.add_argument("--shards", type=int, default=None, help="TFRecord shards per split (default: by size)")


def _add_synthetic(p):
    _add_common(p)
    p.add_argument("--num-train", type=int, default=20000, help="training samples")
    p.add_argument("--num-test", type=int, default=2000, help="test samples")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, byte-identical records")
    p.add_argument("--poses", default=None, help=".npz with poses_3d (N, 17, 3) mm in h36m17 order "
                   "(optional actions (N,)) to render instead of the built-in motions")
    p.add_argument("--image-size", type=int, default=128, help="square crop size in pixels")
    p.add_argument("--workers", type=int, default=None, help="rendering processes (default: CPU count)")
    p.add_argument("--preview", default=None, help="also write a PNG grid of samples with 2D skeletons")


def _add_h36m(p):
    _add_common(p)


def _add_humaneva(p):
    _add_common(p)


def _add_kth(p):
    _add_common(p)


def _add_lsp(p):
    _add_common(p)


def _add_mpii(p):
    _add_common(p)
