"""Figures: skeletons in 2D and 3D, and the paper's Fig. 4, 5 and 7 analogues (matplotlib, PNG)."""
from pathlib import Path

import numpy as np

from kfusion import skeletons
from kfusion.io import atomic_path

SIDE_COLOURS = {"left": "tab:blue", "right": "tab:red", "centre": "0.25"}


def pyplot():
    """``matplotlib.pyplot``, headless (Agg) unless a backend was already chosen."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi=110):
    """Save atomically as PNG and close the figure."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return path


def _bone_colour(skel, parent, child):
    side = skel.side(child) if skel.side(child) != "centre" else skel.side(parent)
    return SIDE_COLOURS[side]


def draw_skeleton_2d(ax, joints_2d, skeleton="mpii16", visibility=None, linewidth=2, marker_size=12):
    """Draw 2D joints (J, 2) pixels on ``ax`` (image coordinates, y down); left blue, right red."""
    skel = skeletons.get(skeleton) if isinstance(skeleton, str) else skeleton
    p = np.asarray(joints_2d)
    vis = np.ones(len(p), bool) if visibility is None else np.asarray(visibility) > 0
    for parent, child in skel.bones:
        style = "-" if vis[parent] and vis[child] else ":"
        ax.plot(p[[parent, child], 0], p[[parent, child], 1], style, color=_bone_colour(skel, parent, child),
                lw=linewidth)
    ax.scatter(p[:, 0], p[:, 1], s=marker_size, c=["k" if v else "0.6" for v in vis], zorder=3)


def draw_skeleton_3d(ax, pose_3d, skeleton="h36m17", colour=None, linewidth=2, elev=15, azim=-70,
                     limit=1000.0):
    """Draw a 3D pose (J, 3) mm (camera frame: x right, y down, z forward) on a 3D ``ax``.

    Plotted with the camera's y axis pointing down in the figure (up is -y), depth along z.
    """
    skel = skeletons.get(skeleton) if isinstance(skeleton, str) else skeleton
    p = np.asarray(pose_3d, dtype=np.float64) - np.asarray(pose_3d)[skel.root]
    X, Y, Z = p[:, 0], p[:, 2], -p[:, 1]
    for parent, child in skel.bones:
        ax.plot(X[[parent, child]], Y[[parent, child]], Z[[parent, child]],
                color=colour or _bone_colour(skel, parent, child), lw=linewidth)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_zlim(-limit, limit)
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("depth z (mm)")
    ax.set_zlabel("up (mm)")
    ax.view_init(elev=elev, azim=azim)
    ax.tick_params(labelsize=6)


def fusion_trace_figure(traces, path):
    """Fig. 4 analogue: alpha and beta (left) and the fusion weights w_l (right) per epoch.

    ``traces``: dict label -> list of trace records (``{"epoch", "alpha", "beta", "weights"}``).
    """
    plt = pyplot()
    fig, axes = plt.subplots(len(traces), 2, figsize=(10, 3.2 * len(traces)), squeeze=False)
    for row, (label, records) in enumerate(traces.items()):
        epochs = [r["epoch"] for r in records]
        ax = axes[row, 0]
        for key in ("alpha", "beta"):
            if all(r.get(key) is not None for r in records):
                ax.plot(epochs, [r[key] for r in records], label=key)
        ax.set_xlabel("epoch")
        ax.set_title(f"{label}: alpha and beta" if ax.lines else f"{label}: no alpha, beta (free weights)")
        if ax.lines:
            ax.legend()
        ax = axes[row, 1]
        w = np.array([r["weights"] for r in records])
        im = ax.imshow(w.T, aspect="auto", origin="lower", vmin=0, vmax=1, cmap="viridis",
                       extent=[epochs[0] - 0.5, epochs[-1] + 0.5, -0.5, w.shape[1] - 0.5])
        ax.set_xlabel("epoch")
        ax.set_ylabel("layer l")
        ax.set_title(f"{label}: fusion weights w_l")
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return save_figure(fig, path)


def correlation_figure(r2, n_image, path, title="Squared Pearson correlation between stream features"):
    """Fig. 7 analogue: the R^2 matrix of [image-stream | confidence-map-stream] features."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5.2))
    im = ax.imshow(r2, vmin=0, vmax=1, cmap="magma")
    ax.axhline(n_image - 0.5, color="w", lw=1)
    ax.axvline(n_image - 0.5, color="w", lw=1)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(f"features: image stream (0..{n_image - 1}) | confidence-map stream")
    fig.colorbar(im, ax=ax)
    return save_figure(fig, path)


def examples_figure(images, heatmaps, pred_3d, gt_3d, path, joints_2d=None, titles=None,
                    skeleton_2d="mpii16", skeleton_3d="h36m17"):
    """Fig. 5 analogue: per row, input, confidence maps, predicted and ground-truth 3D poses.

    images uint8 (N, S, S, 3); heatmaps (N, h, h, Jh); pred_3d, gt_3d (N, J, 3) mm;
    joints_2d (N, Jh, 2) crop pixels (optional, drawn on the input).
    """
    plt = pyplot()
    n = len(images)
    fig = plt.figure(figsize=(12, 3 * n))
    for i in range(n):
        ax = fig.add_subplot(n, 4, 4 * i + 1)
        ax.imshow(images[i])
        if joints_2d is not None:
            draw_skeleton_2d(ax, joints_2d[i], skeleton_2d, linewidth=1.5, marker_size=6)
        ax.set_title(titles[i] if titles else "input", fontsize=8)
        ax.axis("off")
        ax = fig.add_subplot(n, 4, 4 * i + 2)
        ax.imshow(np.asarray(heatmaps[i], np.float32).max(axis=-1), cmap="inferno", vmin=0, vmax=1)
        ax.set_title("confidence maps (max over joints)", fontsize=8)
        ax.axis("off")
        for k, (pose, name) in enumerate(((pred_3d[i], "predicted 3D"), (gt_3d[i], "ground truth 3D"))):
            ax = fig.add_subplot(n, 4, 4 * i + 3 + k, projection="3d")
            draw_skeleton_3d(ax, pose, skeleton_3d)
            ax.set_title(name, fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def learning_curves_figure(curves, points, path, ylabel="MPJPE (mm)"):
    """Error against epochs, one colour a method: the per-epoch curve (mean over seeds, a band of
    ± one std where there are several) and the measurements at the budgets (mean ± std error bars).

    ``curves``: label -> (epochs (E,), values (S, E) per seed, NaN where a seed has none), or None;
    ``points``: label -> (budgets (B,), mean (B,), std (B,), NaN std for one seed).
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, label in enumerate(points):
        c = colours[i % len(colours)]
        if curves.get(label) is not None:
            epochs, values = curves[label]
            values = np.asarray(values, float)
            have = np.sum(np.isfinite(values), axis=0)
            mean = np.array([np.nanmean(v) if n else np.nan for v, n in zip(values.T, have)])
            std = np.array([np.nanstd(v, ddof=1) if n > 1 else np.nan for v, n in zip(values.T, have)])
            ax.plot(epochs, mean, color=c, lw=1, alpha=0.8)
            ax.fill_between(epochs, mean - std, mean + std, color=c, alpha=0.15, lw=0)
        budgets, mean, std = (np.asarray(a, float) for a in points[label])
        ax.errorbar(budgets, mean, yerr=np.nan_to_num(std), fmt="o", color=c, capsize=3, label=label)
    ax.set_xticks(sorted({int(b) for budgets, _, _ in points.values() for b in budgets}))
    ax.set_xlabel("epochs trained")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
