"""`kfusion export --model M --out saved_models/NAME`: SavedModel (TF Serving), TFLite, model card."""


def add_arguments(parser):
    parser.add_argument("--model", required=True,
                        help="end-to-end .keras, or a run folder with fusion-trainable/end_to_end.keras")
    parser.add_argument("--out", required=True, help="export folder, e.g. saved_models/kfusion-synthetic")
    parser.add_argument("--version", type=int, default=1, help="TF Serving version sub-folder (default 1)")
    parser.add_argument("--calibration-data", default=None, metavar="RECORDS",
                        help="records folder whose crops measure TFLite parity (default: held-out "
                        "synthetic renders)")
    parser.add_argument("--num-parity", type=int, default=32, help="images for the parity report")
    parser.add_argument("--variants", nargs="+", default=None, choices=("float32", "float16", "int8"),
                        help="TFLite variants to write (default: all three)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an export already in --out (files kfusion did not write are kept)")


def run(args):
    from kfusion.export.package import export_model

    report = export_model(args.model, args.out, version=args.version, calibration_data=args.calibration_data,
                          num_parity=args.num_parity, variants=args.variants, overwrite=args.overwrite)
    for variant, r in report["variants"].items():
        print(f"{variant}: pose_3d max {r['pose_3d']['max']:.3f} mm (mean {r['pose_3d']['mean']:.3f}), "
              f"pose_2d max {r['pose_2d']['max']:.3f} px, {r['size_bytes'] / 1024:.0f} KiB")
    print(f"ONNX: {report['onnx']}")
    print(f"wrote {args.out} (MODEL.md, parity.md)")
    return 0
