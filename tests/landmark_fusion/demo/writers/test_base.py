"""The face record every writer takes: visibility and pose defaults."""
from __future__ import annotations

import math

import numpy as np
import pytest

from landmark_fusion.demo.writers.base import FixtureFace


def _face(**kwargs):
    return FixtureFace(image=np.zeros((4, 4, 3), np.uint8), points=np.zeros((3, 2)), **kwargs)


def test_pose_radians_prefers_the_pose_then_the_yaw():
    assert _face(pose=(0.1, -0.2, 0.3), yaw=45.0).pose_radians() == (0.1, -0.2, 0.3)
    pitch, yaw, roll = _face(yaw=90.0).pose_radians()
    assert (pitch, roll) == (0.0, 0.0) and yaw == pytest.approx(math.pi / 2, abs=1e-15)
    assert _face().pose_radians() == (0.0, 0.0, 0.0)  # unknown yaw stored as 0


def test_visibility_defaults_to_all():
    assert _face().visibility().tolist() == [True, True, True]
    assert _face(visible=[1, 0, 1]).visibility().tolist() == [True, False, True]
