import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from kfusion import skeletons
from kfusion.eval import metrics as m
from kfusion.eval.procrustes import similarity_align


def _rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _pose(rng, n=None, joints=17):
    shape = (joints, 3) if n is None else (n, joints, 3)
    return rng.normal(size=shape) * 300.0 + [0.0, 0.0, 4000.0]


def test_known_similarity_transform_is_recovered():
    rng = np.random.default_rng(0)
    gt = _pose(rng)
    R, t = _rotation(rng), np.array([120.0, -40.0, 900.0])
    for s in (1.0, 1.3):
        pred = s * gt @ R.T + t
        aligned, R_hat, s_hat, t_hat = similarity_align(pred, gt, return_transform=True)
        # pred -> gt is the inverse map: R^T, 1/s, and the matching translation.
        np.testing.assert_allclose(R_hat, R.T, atol=1e-9)
        assert s_hat == pytest.approx(1.0 / s)
        np.testing.assert_allclose(aligned, gt, atol=1e-6)
        assert m.pa_mpjpe(pred, gt) < 1e-6
        if s == 1.0:
            assert m.rigid_mpjpe(pred, gt) < 1e-6
        else:
            assert m.rigid_mpjpe(pred, gt) > 10.0
    # MPJPE of the unaligned prediction, by hand: mean_j |(s R - I) gt_j + t|.
    pred = 1.3 * gt @ R.T + t
    by_hand = np.mean([np.sqrt(np.sum((pred[j] - gt[j]) ** 2)) for j in range(17)])
    assert m.mpjpe(pred, gt) == pytest.approx(by_hand)


def test_mpjpe_hand_computed_and_root_align():
    gt = np.zeros((3, 3))
    pred = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0], [1.0, 2.0, 2.0]])
    assert m.mpjpe(pred, gt) == pytest.approx((5.0 + 2.0 + 3.0) / 3.0)
    aligned = m.root_align(pred, gt, root=0)
    np.testing.assert_allclose(aligned[0], gt[0])
    assert m.mpjpe(aligned, gt) == pytest.approx((0.0 + np.sqrt(9 + 16 + 4) + np.sqrt(4 + 4 + 4)) / 3)
    # A root that is the mean of joints (mid-hip): the mean is matched.
    aligned = m.root_align(pred, gt, root=[1, 2])
    np.testing.assert_allclose(aligned[[1, 2]].mean(axis=0), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="root"):
        m.root_align(pred, gt, root=5)


def test_n_mpjpe_recovers_a_known_scale_but_not_a_rotation():
    rng = np.random.default_rng(7)
    gt = _pose(rng, 3)
    hips = [1, 4]
    # a smaller body elsewhere: root + scale alignment undoes it exactly (s = 1 / 0.6 about the mid-hip)
    assert np.all(m.n_mpjpe(0.6 * gt + [300.0, -50.0, 2000.0], gt, root=hips) < 1e-9)
    # a turned body: Procrustes undoes it, root + scale cannot
    R = _rotation(rng)
    turned = 0.6 * gt @ R.T
    assert np.all(m.pa_mpjpe(turned, gt) < 1e-6) and np.all(m.n_mpjpe(turned, gt, root=hips) > 50.0)
    # by hand: poses rooted at joint 0, s = <p, g> / <p, p>, then the mean distance
    g = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    p = np.array([[0.0, 0.0, 0.0], [20.0, 0.0, 0.0], [0.0, 0.0, 20.0]])
    s = 200.0 / 800.0  # <p, g> = 200, <p, p> = 800
    by_hand = np.mean(np.linalg.norm(s * p - g, axis=-1))
    assert m.n_mpjpe(p, g, root=0) == pytest.approx(by_hand)


def test_mirrored_pose_needs_reflection():
    gt = _pose(np.random.default_rng(1))
    pred = gt * [-1.0, 1.0, 1.0]
    assert m.pa_mpjpe(pred, gt) > 10.0
    assert m.pa_mpjpe(pred, gt, allow_reflection=True) < 1e-6
    _, R, _, _ = similarity_align(pred, gt, return_transform=True)
    assert np.linalg.det(R) == pytest.approx(1.0)
    _, R, _, _ = similarity_align(pred, gt, allow_reflection=True, return_transform=True)
    assert np.linalg.det(R) == pytest.approx(-1.0)


def _reference_pa(pred, gt, allow_reflection, scale=True):
    """Per-pose loop: scipy's orthogonal Procrustes, or VideoPose3D's explicit SVD."""
    out = []
    for p, g in zip(pred, gt):
        P, G = p - p.mean(0), g - g.mean(0)
        if allow_reflection:
            R, sv_sum = scipy.linalg.orthogonal_procrustes(P, G)  # min |P R - G|, R orthogonal
        else:
            U, S, Vt = np.linalg.svd(P.T @ G)
            D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
            R, sv_sum = U @ D @ Vt, np.sum(S * np.diag(D))
        s = sv_sum / np.sum(P**2) if scale else 1.0
        aligned = s * P @ R + g.mean(0)
        out.append(np.mean([np.linalg.norm(aligned[j] - g[j]) for j in range(len(g))]))
    return np.array(out)


def test_metrics_match_independent_per_pose_implementation():
    rng = np.random.default_rng(2)
    gt = _pose(rng, n=20)
    pred = gt + rng.normal(size=gt.shape) * 60.0
    pred[::4] *= [-1.0, 1.0, 1.0]  # some near-mirrored poses, where the two conventions differ
    loop_mpjpe = np.array([np.mean([np.linalg.norm(a - b) for a, b in zip(p, g)]) for p, g in zip(pred, gt)])
    np.testing.assert_allclose(m.mpjpe(pred, gt), loop_mpjpe, atol=1e-6)
    np.testing.assert_allclose(m.pa_mpjpe(pred, gt), _reference_pa(pred, gt, False), atol=1e-6)
    np.testing.assert_allclose(m.pa_mpjpe(pred, gt, allow_reflection=True),
                               _reference_pa(pred, gt, True), atol=1e-6)
    np.testing.assert_allclose(m.rigid_mpjpe(pred, gt), _reference_pa(pred, gt, False, scale=False),
                               atol=1e-6)
    assert np.any(m.pa_mpjpe(pred, gt) - m.pa_mpjpe(pred, gt, allow_reflection=True) > 1.0)
    # Batched over extra leading dims gives the same numbers.
    np.testing.assert_allclose(m.pa_mpjpe(pred.reshape(4, 5, 17, 3), gt.reshape(4, 5, 17, 3)).ravel(),
                               m.pa_mpjpe(pred, gt))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.2, 5.0))
def test_aligned_errors_are_invariant_to_a_transform_of_the_prediction(seed, scale):
    rng = np.random.default_rng(seed)
    gt = _pose(rng, n=2)
    pred = gt + rng.normal(size=gt.shape) * 50.0
    moved = scale * pred @ _rotation(rng).T + rng.normal(size=3) * 1000.0
    np.testing.assert_allclose(m.pa_mpjpe(moved, gt), m.pa_mpjpe(pred, gt), atol=1e-6)
    np.testing.assert_allclose(m.rigid_mpjpe(pred @ _rotation(rng).T + 300.0, gt), m.rigid_mpjpe(pred, gt),
                               atol=1e-6)


# A toy skeleton for PCP: one plain limb, and one whose start is the mean of two joints.
TOY = skeletons.Skeleton(
    name="toy", joints=("a", "b", "c", "d"), parents=(-1, 0, 0, 0),
    parts={"limb": [("a", "b")], "mid": [(("c", "d"), "b")]},
)
TOY_GT = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [2.0, -1.0, 2.0], [2.0, 1.0, 2.0]])  # |a-b| = 2


def _toy_pred(err_a, err_b):
    """Move a along y by err_a, b along z by err_b (the 'mid' part then sees b's error)."""
    pred = TOY_GT.copy()
    pred[0, 1] += err_a
    pred[1, 2] += err_b
    return pred


@pytest.mark.parametrize("err_a, err_b, mean_ok, strict_ok", [
    (1.0, 1.0, True, True),                 # exactly at the boundary (0.5 * 2 = 1), inclusive
    (1.0 - 1e-9, 1.0 - 1e-9, True, True),   # just inside
    (1.0 + 1e-9, 1.0 + 1e-9, False, False),  # just outside
    (1.5, 0.25, True, False),               # mean 0.875 <= 1 but one endpoint 1.5 > 1
    (0.0, 2.0 + 1e-9, False, False),        # mean just above 1
    (0.0, 2.0, True, False),                # mean exactly 1, one endpoint 2 > 1
])
def test_pcp_boundary_mean_endpoint_vs_strict(err_a, err_b, mean_ok, strict_ok):
    pred = _toy_pred(err_a, err_b)
    assert m.pcp(pred, TOY_GT, TOY)["limb"] == float(mean_ok)
    assert m.pcp(pred, TOY_GT, TOY, strict=True)["limb"] == float(strict_ok)


def test_pcp_mean_endpoint_part_and_classes():
    # 'mid' runs from mean(c, d) = (2, 0, 2) to b = (2, 0, 0): length 2, limit 1 at alpha 0.5.
    pred = TOY_GT.copy()
    pred[2, 0] += 1.8  # moves mean(c, d) by 0.9: correct in both forms
    out = m.pcp(pred, TOY_GT, TOY)
    assert out["mid"] == 1.0 and out["limb"] == 1.0
    pred[3, 0] += 0.4  # mean moves by 1.1: mean-endpoint (1.1 + 0) / 2 <= 1, strict fails
    assert m.pcp(pred, TOY_GT, TOY)["mid"] == 1.0
    assert m.pcp(pred, TOY_GT, TOY, strict=True)["mid"] == 0.0
    # Per pose and per class on a real skeleton: one wrist far off -> lower arms 1/2.
    gt = _pose(np.random.default_rng(3), n=2)
    pred = gt.copy()
    pred[1, skeletons.H36M17.index("l_wrist")] += 5000.0
    out = m.pcp(pred, gt, "h36m17")
    assert set(out) == set(skeletons.H36M17.parts) | {"all_parts"}
    np.testing.assert_array_equal(out["lower_arms"], [1.0, 0.5])
    np.testing.assert_array_equal(out["upper_arms"], [1.0, 1.0])
    np.testing.assert_allclose(out["all_parts"], [1.0, 10.0 / 11.0])
    with pytest.raises(ValueError, match="skeleton h36m17 has 17 joints"):
        m.pcp(pred[:, :16], gt[:, :16], "h36m17")


def test_pck3d_and_auc_on_known_errors():
    gt = np.zeros((5, 3))
    pred = np.zeros((5, 3))
    pred[:, 0] = [0.0, 100.0, 150.0, 151.0, 300.0]
    assert m.pck3d(pred, gt) == pytest.approx(3 / 5)
    assert m.pck3d(pred, gt, threshold=100.0) == pytest.approx(2 / 5)
    # thresholds 0, 50, 100, 150 -> 1/5, 1/5, 2/5, 3/5
    assert m.auc3d(pred, gt, thresholds=[0.0, 50.0, 100.0, 150.0]) == pytest.approx(7 / 20)
    # default 0..150 in 31 steps: joint errors 0 (31 hits), 100 (11), 150 (1), 151, 300 (0)
    assert m.auc3d(pred, gt) == pytest.approx((31 + 11 + 1) / (31 * 5))
    assert m.auc3d(np.stack([pred, gt]), np.stack([gt, gt])).shape == (2,)


def test_pck_and_pckh_on_known_2d_errors():
    gt = np.zeros((2, 4, 2))
    pred = np.zeros((2, 4, 2))
    pred[:, :, 0] = [0.0, 5.0, 10.0, 11.0]
    np.testing.assert_allclose(m.pck(pred, gt, 10.0), [0.75, 0.75])
    vis = np.array([[1, 1, 1, 0], [0, 0, 0, 0]])
    gt[0, 3] = np.nan  # an invisible joint may have no coordinates
    out = m.pck(pred, gt, 10.0, visibility=vis)
    assert out[0] == 1.0 and np.isnan(out[1])
    per_joint = m.pck(pred, gt, 10.0, visibility=vis, per_joint=True)
    np.testing.assert_array_equal(per_joint[0, :3], [1, 1, 1])
    assert np.isnan(per_joint[0, 3]) and np.all(np.isnan(per_joint[1]))
    gt[0, 3] = 0.0
    # normaliser: threshold 0.5 of a per-pose length of 20 and 10 px -> 10 and 5 px
    np.testing.assert_allclose(m.pck(pred, gt, 0.5, normaliser=[20.0, 10.0]), [0.75, 0.5])
    np.testing.assert_allclose(m.pckh(pred, gt, head_sizes=[20.0, 10.0]), [0.75, 0.5])
    np.testing.assert_allclose(m.pckh(pred, gt, head_sizes=[20.0, 10.0], alpha=0.25), [0.5, 0.25])


@pytest.mark.parametrize("fn", [m.mpjpe, m.pa_mpjpe, m.rigid_mpjpe, m.pck3d, m.auc3d, m.root_align, m.n_mpjpe,
                                lambda p, g: m.pcp(p, g, "h36m17")])
def test_bad_input_raises_value_error_naming_shapes(fn):
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match=r"pred has shape \(4, 17, 3\) but gt has shape \(4, 16, 3\)"):
        fn(_pose(rng, 4), _pose(rng, 4, joints=16))
    with pytest.raises(ValueError, match=r"\(4, 17, 2\); expected \(\.\.\., J, 3\)"):
        fn(_pose(rng, 4)[..., :2], _pose(rng, 4)[..., :2])
    bad = _pose(rng, 4)
    bad[2, 5, 1] = np.nan
    with pytest.raises(ValueError, match=r"pred \(shape \(4, 17, 3\)\) has NaN"):
        fn(bad, _pose(rng, 4))


def test_bad_2d_input():
    with pytest.raises(ValueError, match=r"pred2d has shape \(3, 2\) but gt2d has shape \(4, 2\)"):
        m.pck(np.zeros((3, 2)), np.zeros((4, 2)), 5.0)
    with pytest.raises(ValueError, match="gt2d .* NaN"):
        m.pck(np.zeros((4, 2)), np.full((4, 2), np.nan), 5.0)
    with pytest.raises(ValueError, match="normaliser"):
        m.pckh(np.zeros((2, 4, 2)), np.zeros((2, 4, 2)), head_sizes=[1.0, 0.0])
    with pytest.raises(ValueError, match="visibility"):
        m.pck(np.zeros((4, 2)), np.zeros((4, 2)), 5.0, visibility=np.ones(3))


def test_bootstrap_percentages_resample_people_alike_for_every_method():
    """A person's cells stay together: people all right or all wrong give a binomial spread over people; the
    draws are the same for each array (a copy redraws identically) and for the same seed; NaN cells do not
    count; bad shapes are refused by name."""
    rng = np.random.default_rng(0)
    right = (rng.random(200) < 0.3).astype(float)
    cells = np.repeat(right[:, None], 12, axis=1)
    cells[:, 5] = np.nan
    draws = m.bootstrap_percentages([cells, cells.copy()], draws=4000, seed=3)
    assert draws.shape == (4000, 2) and np.array_equal(draws[:, 0], draws[:, 1])
    assert np.mean(draws[:, 0]) == pytest.approx(100 * right.mean(), abs=0.5)
    assert np.std(draws[:, 0]) == pytest.approx(100 * np.sqrt(0.3 * 0.7 / 200), rel=0.15)
    assert np.array_equal(m.bootstrap_percentages([cells], draws=50, seed=3),
                          m.bootstrap_percentages([cells], draws=50, seed=3))
    with pytest.raises(ValueError, match="expected one or more"):
        m.bootstrap_percentages([cells, cells[:10]])
    with pytest.raises(ValueError, match="draws is 1"):
        m.bootstrap_percentages([cells], draws=1)
