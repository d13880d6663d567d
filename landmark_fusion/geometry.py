"""The geometry every part of the project shares: axes, rotations, weak-perspective projection, normals.

Axes. Model frame (the FaceModel's): **+x the subject's left, +y up, +z towards the viewer**. Image
frame: x right, y down, 0-based pixel centres. Depth: along the viewer's line of sight, **larger =
closer to the viewer**, in the image's pixel scale -- the z of AFLW2000-3D's ``pt3d_68`` (docs/formats.md
§4; checked on the AFLW2000-3D samples in ``tests/landmark_fusion/test_geometry.py``).

Weak perspective with scale ``s``, head rotation ``R`` and translation ``t`` (image pixels, with an
optional depth offset)::

    p = R · X                                   (model frame, rotated)
    (x, y, depth) = (s·p_x + t_x,  −s·p_y + t_y,  s·p_z + t_z)

Only y changes sign: image x is model x (the subject's left appears on the image right, as the
subject faces the camera) and depth is model z. The image frame with this depth is a mirror image of
the model frame, so a mesh written in it keeps its triangles but its normals, computed by the
right-hand rule, point into the head (a writer that wants outward normals negates the depth or
reverses the triangles).

Rotations. so(3) vectors (axis × angle, radians) map to rotation matrices by the exponential map
(Rodrigues' formula) and back by :func:`rotation_vector`. Euler angles ``(pitch, yaw, roll)`` follow
the ``Pose_Para`` of 300W-LP and AFLW2000-3D (``RotationMatrix.m`` of the AFLW2000-3D code,
XgTu/2DASL ``test_codes/test.data/AFLW-2000-3D/Code/``)::

    R = Rx(−pitch) · Ry(−yaw) · Rz(−roll)

with ``Rx``, ``Ry``, ``Rz`` the right-handed rotations about the model axes. Positive yaw turns the
face towards the image left (the subject's right), positive pitch raises the nose (the face looks
up), positive roll turns the face clockwise in the image.

Normals: area-weighted vertex normals of a mesh whose triangles are counter-clockwise seen from the
front (the FaceModel contract), so they point out of the face, towards +z where it faces the viewer.
"""
from __future__ import annotations

import numpy as np

#: Model frame → image frame: x kept, y flipped (up → down), z kept (depth towards the viewer).
IMAGE_AXES = np.array([1.0, -1.0, 1.0])
#: Below this angle (radians) the exponential map uses its Taylor series (values and gradients finite).
SMALL_ANGLE = 1e-4


# --------------------------------------------------------------------------------------------
# Rotations
# --------------------------------------------------------------------------------------------

def skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrices (..., 3, 3) of vectors (..., 3): ``skew(a) @ b = a × b``."""
    v = np.asarray(v, dtype=np.float64)
    k = np.zeros(v.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2] = -v[..., 2], v[..., 1]
    k[..., 1, 0], k[..., 1, 2] = v[..., 2], -v[..., 0]
    k[..., 2, 0], k[..., 2, 1] = -v[..., 1], v[..., 0]
    return k


def rodrigues(omega: np.ndarray) -> np.ndarray:
    """Exponential map so(3) → SO(3): rotation matrices (..., 3, 3) of so(3) vectors (..., 3).

    ``R = I + a·K + b·K²`` with ``K = skew(ω)``, ``a = sin θ/θ``, ``b = (1 − cos θ)/θ²``; below
    :data:`SMALL_ANGLE` the series ``a ≈ 1 − θ²/6``, ``b ≈ 1/2 − θ²/24``. The trainer's torch decoder
    (``trainer.decoder.rodrigues``) computes the same formula.
    """
    omega = np.asarray(omega, dtype=np.float64)
    theta2 = (omega * omega).sum(-1)[..., None, None]
    small = theta2 < SMALL_ANGLE ** 2
    safe2 = np.where(small, 1.0, theta2)
    theta = np.sqrt(safe2)
    a = np.where(small, 1.0 - theta2 / 6.0, np.sin(theta) / theta)
    b = np.where(small, 0.5 - theta2 / 24.0, (1.0 - np.cos(theta)) / safe2)
    k = skew(omega)
    return np.eye(3) + a * k + b * (k @ k)


def rotation_vector(rot: np.ndarray) -> np.ndarray:
    """so(3) vectors (..., 3) of rotation matrices (..., 3, 3): the inverse of :func:`rodrigues`
    (angle in [0, π])."""
    from scipy.spatial.transform import Rotation

    rot = np.asarray(rot, dtype=np.float64)
    flat = rot.reshape(-1, 3, 3)
    return Rotation.from_matrix(flat).as_rotvec().reshape(rot.shape[:-2] + (3,))


def axis_rotation(axis: int, angle: np.ndarray | float) -> np.ndarray:
    """Right-handed rotations (..., 3, 3) by ``angle`` (radians, any shape) about model axis 0, 1 or 2."""
    angle = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    out = np.zeros(angle.shape + (3, 3))
    out[..., axis, axis] = 1.0
    out[..., i, i], out[..., i, j] = c, -s
    out[..., j, i], out[..., j, j] = s, c
    return out


def euler_to_rotation(pitch: np.ndarray | float, yaw: np.ndarray | float,
                      roll: np.ndarray | float) -> np.ndarray:
    """Head rotations (..., 3, 3) of ``Pose_Para`` angles (radians): ``Rx(−pitch)·Ry(−yaw)·Rz(−roll)``."""
    pitch, yaw, roll = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (pitch, yaw, roll)))
    return axis_rotation(0, -pitch) @ axis_rotation(1, -yaw) @ axis_rotation(2, -roll)


def rotation_to_euler(rot: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pitch, yaw, roll)`` radians of head rotations (..., 3, 3); inverse of :func:`euler_to_rotation`
    with yaw in [−π/2, π/2]. At |yaw| = 90° (pitch and roll turn about the same axis) roll is 0."""
    r = np.asarray(rot, dtype=np.float64)
    yaw = -np.arcsin(np.clip(r[..., 0, 2], -1.0, 1.0))
    cos_yaw = np.hypot(r[..., 0, 0], r[..., 0, 1])
    locked = cos_yaw < 1e-9
    pitch = np.where(locked, np.arctan2(r[..., 1, 0] * np.sign(r[..., 0, 2]), r[..., 1, 1]),
                     np.arctan2(r[..., 1, 2], r[..., 2, 2]))
    pitch = np.where(locked, -pitch, pitch)
    roll = np.where(locked, 0.0, np.arctan2(r[..., 0, 1], r[..., 0, 0]))
    return pitch, yaw, roll


# --------------------------------------------------------------------------------------------
# Projection
# --------------------------------------------------------------------------------------------

def project(points: np.ndarray, scale: np.ndarray | float, rotation: np.ndarray,
            translation: np.ndarray, depth: bool = True) -> np.ndarray:
    """Weak perspective: model points (..., P, 3) → image points (..., P, 3): x, y pixels and depth
    (larger = closer), or (..., P, 2) without ``depth``.

    ``scale`` (...) pixels per model unit, ``rotation`` (..., 3, 3), ``translation`` (..., 2) image
    pixels or (..., 3) with a depth offset. Leading dimensions broadcast.
    """
    rot = np.asarray(rotation, dtype=np.float64)
    axes = IMAGE_AXES if depth else IMAGE_AXES[:2]
    p = np.asarray(points) @ np.swapaxes(rot if depth else rot[..., :2, :], -1, -2)
    t = np.asarray(translation, dtype=np.float64)
    if depth and t.shape[-1] == 2:
        t = np.concatenate([t, np.zeros(t.shape[:-1] + (1,))], axis=-1)
    elif not depth:
        t = t[..., :2]
    return np.asarray(scale, dtype=np.float64)[..., None, None] * p * axes + t[..., None, :]


def image_jacobian(scale: np.ndarray | float, rotation: np.ndarray) -> np.ndarray:
    """The linear part (..., 2, 3) of :func:`project` without depth: ``d(x, y) / dX``."""
    rot = np.asarray(rotation, dtype=np.float64)
    return rot[..., :2, :] * (np.asarray(scale, dtype=np.float64)[..., None, None] * IMAGE_AXES[:2, None])


# --------------------------------------------------------------------------------------------
# Normals
# --------------------------------------------------------------------------------------------

def face_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Unnormalised triangle normals (T, 3), twice the triangle areas (right-hand rule)."""
    v = np.asarray(vertices, dtype=np.float64)
    tri = np.asarray(triangles, dtype=np.int64)
    a, b, c = v[tri[:, 0]], v[tri[:, 1]], v[tri[:, 2]]
    return np.cross(b - a, c - a)


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Unit vertex normals (N, 3): area-weighted sums of the incident triangles' normals; zero for
    vertices no triangle uses."""
    tri = np.asarray(triangles, dtype=np.int64)
    fn = face_normals(vertices, tri)
    n = len(vertices)
    out = np.stack([sum(np.bincount(tri[:, k], fn[:, d], n) for k in range(3)) for d in range(3)], 1)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norm > 0, norm, 1.0)
