"""Scheme objects: flip permutations derived from the vocabulary and the dropped points' mirrors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landmark_fusion.correspondence import list_schemes, load_scheme

# The mirror permutation of iBUG 68 as it is commonly written out (jaw reversed, brows reversed,
# nose bridge fixed, lower nose reversed, eyes and lips swapped) -- typed in, not derived.
IBUG68_FLIP = [16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
               26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
               27, 28, 29, 30, 35, 34, 33, 32, 31,
               45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
               54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,
               64, 63, 62, 61, 60, 67, 66, 65]
SCHEMES = list_schemes()


def test_ibug68_flip_is_the_well_known_one() -> None:
    assert load_scheme("ibug68").flip_permutation().tolist() == IBUG68_FLIP
    assert load_scheme("ibug68_fixed").flip_permutation().tolist() == IBUG68_FLIP


def test_wflw98_flip_pairs() -> None:
    flip = load_scheme("wflw98").flip_permutation()
    for a, b in [(0, 32), (16, 16), (33, 46), (38, 50), (41, 47), (60, 72), (64, 68), (61, 71), (65, 75),
                 (54, 54), (55, 59), (76, 82), (88, 92), (96, 97)]:
        assert flip[a] == b and flip[b] == a


@pytest.mark.parametrize("name", SCHEMES)
def test_flip_twice_is_identity(name: str) -> None:
    flip = load_scheme(name).flip_permutation()
    assert sorted(flip.tolist()) == list(range(len(flip)))
    assert (flip[flip] == np.arange(len(flip))).all()


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(SCHEMES), st.integers(0, 2**31 - 1))
def test_flipping_points_twice_restores_them(name: str, seed: int) -> None:
    scheme = load_scheme(name)
    points = np.random.default_rng(seed).uniform(0, 100, (scheme.num_points, 2))
    flip = scheme.flip_permutation()

    def mirror(p: np.ndarray) -> np.ndarray:
        return np.stack([100 - p[:, 0], p[:, 1]], axis=1)[flip]

    np.testing.assert_allclose(mirror(mirror(points)), points)


def test_kept_and_dropped_views_agree() -> None:
    scheme = load_scheme("aflw21")
    assert scheme.kept_indices == [i for i, n in enumerate(scheme.index_to_name) if n is not None]
    assert scheme.kept_names == [scheme.index_to_name[i] for i in scheme.kept_indices]
    assert sorted(scheme.drops) == [7, 10, 18] and scheme.drop_counts() == {3: 3}
    assert scheme.native[12] == "LeftEar"
