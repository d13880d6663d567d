"""Scheme points → canonical targets + mask."""
from __future__ import annotations

import numpy as np
import pytest

from landmark_fusion.unify import scheme_mapping, unify, unify_many, unify_points


def test_mapping_keeps_named_indices_only():
    native, canonical = scheme_mapping(["b", None, "a", "z"], ["a", "b", "c"])
    assert native.tolist() == [0, 2]
    assert canonical.tolist() == [1, 0]


def test_unify_masks_dropped_invisible_and_absent_names():
    points = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    visible = np.array([True, True, False, True])
    mapping = scheme_mapping(["b", None, "a", "c"], ["a", "b", "c", "d"])
    targets, mask = unify_points(points, visible, mapping, 4)
    assert mask.tolist() == [False, True, True, False]  # a invisible, d not in the scheme
    np.testing.assert_array_equal(targets, [[0, 0], [1, 2], [7, 8], [0, 0]])
    assert targets.dtype == np.float32 and mask.dtype == bool


def test_two_indices_on_one_name_is_an_error():
    with pytest.raises(ValueError):
        scheme_mapping(["a", "a"], ["a"])


def test_real_ibug68_scheme_matches_its_yaml():
    from landmark_fusion.correspondence import canonical_landmarks, load_scheme

    names = canonical_landmarks()
    scheme = load_scheme("ibug68")
    points = np.arange(68 * 2, dtype=np.float64).reshape(68, 2)
    targets, mask = unify(points, np.ones(68, bool), "ibug68", names)
    assert mask.sum() == len(scheme.kept_indices)
    for index in scheme.kept_indices:
        row = names.index(scheme.index_to_name[index])
        np.testing.assert_array_equal(targets[row], points[index])
    for index in set(range(68)) - set(scheme.kept_indices):
        assert scheme.index_to_name[index] is None


def test_unify_many_is_unify_row_for_row():
    from landmark_fusion.correspondence import canonical_landmarks

    names = canonical_landmarks()
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 450, (6, 68, 2))
    visible = rng.random((6, 68)) > 0.2
    points[2, 30] = np.nan  # masked where invisible, kept where visible
    visible[2, 30] = False
    targets, mask = unify_many(points, visible, "ibug68_fixed", names)
    for i in range(6):
        one_targets, one_mask = unify(points[i], visible[i], "ibug68_fixed", names)
        np.testing.assert_array_equal(mask[i], one_mask)
        np.testing.assert_array_equal(targets[i].astype(np.float32), one_targets)
