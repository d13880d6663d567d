"""Vocabulary objects: mirror permutations, vocabulary order, sides."""
from __future__ import annotations

import numpy as np
import pytest

from landmark_fusion.correspondence import canonical_landmarks, load_vocabulary


def test_mirror_permutation_of_canonical_landmarks() -> None:
    vocabulary = load_vocabulary()
    names = canonical_landmarks()
    permutation = vocabulary.mirror_permutation(names)
    assert (permutation[permutation] == np.arange(len(names))).all()
    assert names[permutation[names.index("eye_r_outer")]] == "eye_l_outer"
    assert names[permutation[names.index("chin")]] == "chin"
    with pytest.raises(ValueError, match="mirror"):
        vocabulary.mirror_permutation(["eye_r_outer"])


def test_order_and_membership() -> None:
    vocabulary = load_vocabulary()
    assert vocabulary.order({"chin", "eye_l_outer", "jaw_r_top"}) == ["jaw_r_top", "chin", "eye_l_outer"]
    assert "chin" in vocabulary and "chinn" not in vocabulary and len(vocabulary) == len(vocabulary.names)
    with pytest.raises(KeyError, match="chinn"):
        vocabulary.order(["chin", "chinn"])


def test_sides_and_mirrors() -> None:
    vocabulary = load_vocabulary()
    assert vocabulary.landmarks["eye_r_outer"].side == "r" and vocabulary.landmarks["chin"].side is None
    assert vocabulary.mirror("eye_r_outer") == "eye_l_outer" and vocabulary.mirror("chin") == "chin"
