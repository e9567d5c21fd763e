"""`kfusion prepare DATASET ...`: make TFRecords in the common record schema.

One sub-command per dataset; each is defined by an ``_add_<name>`` function below and runs
``<module>.prepare_from_args(args)``.
"""
import importlib

# dataset -> (module, one-line help)
DATASETS = {
    "synthetic": ("kfusion.synthetic.benchmark", "the embedded synthetic benchmark rendered from CMU motion capture"),
    "h36m": ("kfusion.datasets.h36m", "Human3.6M (original release, or 3d-pose-baseline h5 / VideoPose3D npz poses)"),
    "humaneva": ("kfusion.datasets.humaneva", "HumanEva-I (original videos + converted 15-joint poses)"),
    "kth": ("kfusion.datasets.kth", "KTH Multiview Football II (text annotations + PNG frames)"),
    "lsp": ("kfusion.datasets.lsp", "Leeds Sports Pose (joints.mat + images), 2D only"),
    "mpii": ("kfusion.datasets.mpii", "MPII Human Pose (annotation .mat or JSON), 2D only"),
    "motions": ("kfusion.synthetic.motions", "a wide-motion pose set (.npz: Human3.6M S1, S5-S8 and BVH motion "
                "capture, held-out clips split off) for `prepare synthetic --poses`"),
    "teacher": ("kfusion.data.teacher", "BlazePose-full's 3D world landmarks as a teacher's 3D for 2D-only photographs "
                "(beside their records; `fusion.teacher_weight`)"),
}
# `prepare h36m --render`: the real motions and cameras through kfusion's renderer
H36M_RENDER = "kfusion.synthetic.h36m_render"


def add_arguments(parser):
    sub = parser.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    for name, (module, help_text) in DATASETS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        globals()[f"_add_{name}"](p)


def run(args):
    name = H36M_RENDER if getattr(args, "render", False) else DATASETS[args.dataset][0]
    return importlib.import_module(name).prepare_from_args(args)


def _add_common(p, out_required=True, crop=False):
    p.add_argument("--out", required=out_required, help="output folder for the records and manifest")
    p.add_argument("--shards", type=int, default=None, help="TFRecord shards per split (default: by size)")
    if crop:  # datasets cut a square crop around each person
        p.add_argument("--image-size", type=int, default=128, help="square crop size in pixels")
        p.add_argument("--margin", type=float, default=0.2, help="crop margin around the joints' box (fraction)")


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
    p.add_argument("--backgrounds", default=None, metavar="FOLDER",
                   help="photographs behind the people: a folder of images, or an LSP folder (joints.mat, images/: "
                        "its training images only, away from the annotated person); read now, never copied "
                        "(default: procedural backgrounds only)")
    p.add_argument("--background-share", type=float, default=0.8,
                   help="with --backgrounds: the share of samples in front of a photograph (the rest procedural)")


def _add_h36m(p):
    _add_common(p, crop=True)
    p.add_argument("--root", required=True, help="Human3.6M folder holding S1 ... S11 (Videos, MyPoseFeatures "
                   "or MyPoses)")
    p.add_argument("--every", type=int, default=None,
                   help="keep every N-th frame (default: 5 of the 50 fps videos; every stored pose with --poses-only)")
    p.add_argument("--poses-only", action="store_true",
                   help="write 2D/3D pose pairs without images (the default when there is no Videos folder)")
    p.add_argument("--render", action="store_true",
                   help="render the real motions through the real cameras with kfusion's renderer (synthetic "
                        "appearance): train S1 S5-S8, test S9 S11")
    p.add_argument("--num-train", type=int, default=20000, help="--render: training images (random frames)")
    p.add_argument("--test-every", type=int, default=64, help="--render: every N-th frame of the test subjects")
    p.add_argument("--seed", type=int, default=0, help="--render: random seed (appearance, crops, light)")
    p.add_argument("--workers", type=int, default=None, help="--render: rendering processes (default: CPU count)")
    p.add_argument("--subjects", nargs="+", default=None, metavar="S",
                   help="only these subjects (default: train S1 S5 S6 S7 S8, test S9 S11)")
    p.add_argument("--npz", default=None, help="VideoPose3D data_3d_h36m.npz (world metres) instead of the "
                   "release's poses; needs --allow-pickle and cameras.h5")
    p.add_argument("--cameras", default=None, help="3d-pose-baseline cameras.h5 (default: ROOT/cameras.h5); "
                   "needed for h5/npz world poses")
    p.add_argument("--allow-pickle", action="store_true",
                   help="allow unpickling the VideoPose3D npz (runs code from the file: trusted files only)")
    p.add_argument("--skip-broken", action="store_true",
                   help="skip missing or undecodable videos (e.g. S11 Directions.54138969) with a warning")


def _add_humaneva(p):
    _add_common(p, crop=True)
    p.add_argument("--root", required=True, help="HumanEva-I folder with S1..S3/Image_Data/*.avi")
    p.add_argument("--poses", required=True, help="converted_15j folder ({Train,Validate}/S{1,2,3}/*.mat)")
    p.add_argument("--camera", default="C1", choices=["C1", "C2", "C3"], help="camera (paper: C1)")
    p.add_argument("--subjects", nargs="+", default=["S1", "S2", "S3"], help="subjects")
    p.add_argument("--actions", nargs="+", default=None,
                   help="only these actions (Walking, Jog, Box, Gestures, ThrowCatch; default all)")
    p.add_argument("--extrinsics", default=None, help="JSON {subject: {camera: {R, T[, K]}}}, X_cam = R X + T "
                   "mm (default: camera fitted per file from the 2D-3D pairs)")
    p.add_argument("--every", type=int, default=1, help="keep every N-th frame (60 fps videos)")


def _add_kth(p):
    _add_common(p, crop=True)
    p.add_argument("--root", required=True, help="sequence folder (positions2d.txt, positions3d.txt, "
                   "cameras.txt, 'Camera 1'/...) of KTH Football II, e.g. the Player 2 sequence")
    p.add_argument("--camera", type=int, default=1, choices=[1, 2, 3], help="camera (paper: 1)")
    p.add_argument("--units", default="auto", choices=["auto", "m", "mm"],
                   help="unit of positions3d.txt (auto: from the thigh length)")


def _add_lsp(p):
    _add_common(p, crop=True)
    p.add_argument("--root", required=True, help="LSP or LSP-extended folder (joints.mat, images/)")
    p.add_argument("--limit", type=int, default=None, help="at most N samples per split (quick looks)")


def _add_motions(p):
    p.add_argument("--out", required=True, help="the .npz to write (it holds Human3.6M poses: keep it in data/ or "
                   "runs/, never in git)")
    p.add_argument("--config", default="configs/motions.yaml",
                   help="sources, rate, motion threshold and held-out clips (default: configs/motions.yaml)")


def _add_teacher(p):
    p.add_argument("--records", required=True, help="records of 2D-only photographs (`kfusion prepare lsp|mpii`); "
                   "teacher-{split}.npz is written beside them")
    p.add_argument("--split", nargs="+", default=["train"], help="splits to label (default: train)")
    p.add_argument("--peer", required=True, help="BlazePose-full's landmark network (MediaPipe's "
                   "pose_landmark_full.tflite, Apache-2.0)")


def _add_mpii(p):
    _add_common(p)
    p.add_argument("--image-size", type=int, default=128, help="square crop size in pixels")
    p.add_argument("--images", required=True, help="MPII images folder")
    p.add_argument("--train", default=None, help="training annotations JSON (hourglass/HRNet conversion)")
    p.add_argument("--val", default=None, help="validation annotations JSON")
    p.add_argument("--limit", type=int, default=None, help="at most N samples per split (quick looks)")
