"""The installed vocabulary: 106 landmarks in six regions, mutual mirrors, one-line descriptions."""
from __future__ import annotations

from landmark_fusion.correspondence import FIXED_NAMES, load_vocabulary, validate


def test_installed_data_is_valid() -> None:
    assert validate() == []


def test_vocabulary_structure() -> None:
    vocabulary = load_vocabulary()
    assert len(vocabulary) == len(set(vocabulary.names)) == 106
    assert set(vocabulary.regions) == {"jaw", "ear", "brow", "eye", "nose", "mouth"}
    for name in vocabulary.names:
        landmark = vocabulary.landmarks[name]
        partner = vocabulary.landmarks[landmark.mirror]
        assert partner.mirror == name and partner.region == landmark.region
        assert landmark.description.endswith(".") and "\n" not in landmark.description
        if landmark.side is None:
            assert landmark.mirror == name
        else:
            assert {landmark.side, partner.side} == {"r", "l"}


def test_fixed_names_are_there() -> None:
    assert set(FIXED_NAMES) <= set(load_vocabulary().names)
