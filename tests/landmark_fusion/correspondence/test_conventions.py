"""The naming convention: sides and mirrored names."""
from __future__ import annotations

from landmark_fusion.correspondence.conventions import NAME_PATTERN, mirrored_name, side_of


def test_side_and_mirror_of_names() -> None:
    assert side_of("eye_r_upper_lid_1of3") == "r" and side_of("brow_l_inner") == "l"
    assert side_of("nose_tip") is None and side_of("chin") is None and side_of("mouth_lower_outer_mid") is None
    assert mirrored_name("eye_r_upper_lid_1of3") == "eye_l_upper_lid_1of3"
    assert mirrored_name("jaw_l_top") == "jaw_r_top" and mirrored_name("nose_tip") == "nose_tip"


def test_name_pattern() -> None:
    assert all(NAME_PATTERN.match(n) for n in ("chin", "eye_r_outer", "ibug68_fixed", "jaw_r_1of8"))
    assert not any(NAME_PATTERN.match(n) for n in ("Chin", "eye__r", "_chin", "chin_", "1chin", "eye r"))
