import numpy as np
import pytest

from kfusion import skeletons as sk


@pytest.mark.parametrize("name", sorted(sk.SKELETONS))
def test_tree_and_flip(name):
    s = sk.get(name)
    order = s.topological_order()
    pos = {j: i for i, j in enumerate(order)}
    for j, p in enumerate(s.parents):
        if p >= 0:
            assert pos[p] < pos[j], f"{name}: parent {s.joints[p]} after child {s.joints[j]}"
    perm = s.flip_permutation
    assert np.array_equal(perm[perm], np.arange(s.num_joints))
    for j, k in enumerate(perm):
        a, b = s.joints[j], s.joints[k]
        if a.startswith("l_"):
            assert b == "r_" + a[2:]
        elif a.startswith("r_"):
            assert b == "l_" + a[2:]
        else:
            assert a == b
    # the flip maps the tree onto itself
    for j, p in enumerate(s.parents):
        if p >= 0:
            assert s.parents[perm[j]] == perm[p]


def test_h36m_parents_precede_children_in_index_order():
    for name in ("h36m17", "humaneva15"):
        s = sk.get(name)
        assert all(p < j for j, p in enumerate(s.parents))


def test_published_tables():
    assert sk.H36M17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert sk.HUMANEVA15.parents == (-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1)
    assert list(sk.H36M32_TO_17) == [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
    assert sk.LSP14.joints[0] == "r_ankle" and sk.LSP14.joints[13] == "head_top"
    assert sk.MPII16.joints[6] == "pelvis" and sk.MPII16.joints[15] == "l_wrist"


def test_mapping_moves_named_joints():
    pose = np.arange(17 * 3, dtype=float).reshape(17, 3)
    out = sk.convert(pose, "h36m17", "mpii16")
    for j, name in enumerate(sk.MPII16.joints):
        src = {"upper_neck": "neck", "head_top": "head"}.get(name, name)
        assert np.array_equal(out[j], pose[sk.H36M17.index(src)])
    for (a, b), approx in sk.MAPPING_APPROXIMATIONS.items():
        src_idx, dst_idx = sk.mapping(a, b)
        assert set(approx) <= {sk.get(b).joints[i] for i in dst_idx}


def test_mapping_errors():
    with pytest.raises(ValueError, match="no joint mapping"):
        sk.mapping("humaneva15", "lsp14")
    # a correspondence defined one way serves the other: lsp14 -> h36m17 from h36m17 -> lsp14
    src, dst = sk.mapping("lsp14", "h36m17")
    back_src, back_dst = sk.mapping("h36m17", "lsp14")
    assert sorted(zip(src, dst)) == sorted(zip(back_dst, back_src))
    with pytest.raises(ValueError, match="have no source joint"):  # h36m17's pelvis is not in lsp14
        sk.convert(np.zeros((14, 3)), "lsp14", "h36m17")
    with pytest.raises(ValueError, match="shape"):
        sk.convert(np.zeros((16, 3)), "h36m17", "mpii16")
    with pytest.raises(ValueError, match="have no source joint"):
        sk.convert(np.zeros((17, 3)), "coco17", "mpii16")
    with pytest.raises(ValueError, match="no joint 'foo'"):
        sk.H36M17.index("foo")


def test_parts_resolve():
    for s in sk.SKELETONS.values():
        for part in s.parts:
            for a, b in s.part_endpoints(part):
                assert all(0 <= i < s.num_joints for i in a + b)


def test_identity_mapping():
    pose = np.random.default_rng(0).normal(size=(2, 14, 3))
    np.testing.assert_array_equal(sk.convert(pose, "lsp14", "kth14"), pose)


def test_mirrored_bones_pair_each_left_bone_with_its_right_one_once():
    from kfusion import skeletons

    for name in ("h36m17", "mpii16", "lsp14"):
        s = skeletons.get(name)
        pairs = s.mirrored_bones
        seen = [b for pair in pairs for b in pair]
        assert len(seen) == len(set(seen))  # each bone in one pair only
        for a, b in pairs:
            names = [s.joints[i] for i in a + b]
            assert [n.replace("l_", "r_") for n in names[:2]] == [n.replace("l_", "r_") for n in names[2:]], names


def test_blazepose_and_3dhp_orders_and_their_mappings_to_lsp():
    """BlazePose's 33 landmarks (left first: 11 left shoulder, 28 right ankle) and MPI-INF-3DHP's 17 joints
    (its test order: head top first, pelvis 14) map onto LSP's 12 limb joints; 3DHP also onto its neck and
    head top, BlazePose onto nothing else."""
    assert len(sk.BLAZEPOSE33.joints) == 33 and sk.BLAZEPOSE33.joints[11] == "l_shoulder"
    assert sk.BLAZEPOSE33.joints[28] == "r_ankle" and sk.BLAZEPOSE33.joints[23] == "l_hip"
    assert sk.MPI_INF_3DHP17.joints[0] == "head_top" and sk.MPI_INF_3DHP17.root == 14
    assert sk.MPI_INF_3DHP17.joints[8:11] == ("r_hip", "r_knee", "r_ankle")
    src, dst = sk.mapping("blazepose33", "lsp14")
    assert {sk.LSP14.joints[d]: s for s, d in zip(src, dst)} == {
        "l_shoulder": 11, "r_shoulder": 12, "l_elbow": 13, "r_elbow": 14, "l_wrist": 15, "r_wrist": 16,
        "l_hip": 23, "r_hip": 24, "l_knee": 25, "r_knee": 26, "l_ankle": 27, "r_ankle": 28}
    src, dst = sk.mapping("mpi_inf_3dhp17", "lsp14")
    assert len(dst) == 14 and all(sk.MPI_INF_3DHP17.joints[s] == sk.LSP14.joints[d] for s, d in zip(src, dst))
    src, dst = sk.mapping("coco17", "lsp14")
    assert sorted(sk.LSP14.joints[d] for d in dst) == sorted(sk.LIMB_JOINTS)
