"""The software renderer: coverage, z-buffer order, back-face culling, visibility."""
import numpy as np

from landmark_fusion.demo.renderer import rasterize, visible_points


def _square(x0, y0, x1, y1, depth):
    """Two front-facing triangles (counter-clockwise in x right / y up, so clockwise on screen)."""
    xy = np.array([[x0, y1], [x1, y1], [x1, y0], [x0, y0]], dtype=float)  # y down: bottom first
    return xy, np.full(4, depth), np.array([[0, 1, 2], [0, 2, 3]])


def test_near_triangle_occludes_far_one_in_either_drawing_order():
    far_xy, far_z, far_t = _square(2, 2, 30, 30, depth=-5.0)
    near_xy, near_z, near_t = _square(10, 10, 20, 20, depth=5.0)
    for first_near in (True, False):
        parts = [(near_xy, near_z, near_t), (far_xy, far_z, far_t)]
        if not first_near:
            parts.reverse()
        xy = np.concatenate([p[0] for p in parts])
        z = np.concatenate([p[1] for p in parts])
        tri = np.concatenate([parts[0][2], parts[1][2] + 4])
        r = rasterize(xy, z, tri, 40, 40)
        near_ids = {0, 1} if first_near else {2, 3}
        assert r.triangle[15, 15] in near_ids and r.depth[15, 15] == 5.0
        assert r.triangle[5, 5] not in near_ids and r.depth[5, 5] == -5.0
        assert r.triangle[35, 35] == -1 and np.isneginf(r.depth[35, 35])
        assert r.mask.sum() == 29 * 29  # pixel centres 2..30 inclusive on both axes


def test_back_faces_are_culled_and_barycentrics_interpolate_depth():
    xy, _, tri = _square(0, 0, 10, 10, 0.0)
    z = np.array([0.0, 10.0, 10.0, 0.0])  # depth grows with x
    r = rasterize(xy, z, tri, 12, 12)
    assert np.isclose(r.depth[5, 3], 3.0) and np.isclose(r.depth[7, 8], 8.0)
    assert np.allclose(r.bary[r.mask].sum(1), 1.0)
    back = rasterize(xy, z, tri[:, ::-1], 12, 12)
    assert not back.mask.any()
    both = rasterize(xy, z, tri[:, ::-1], 12, 12, cull_back=False)
    assert both.mask.sum() == r.mask.sum()


def test_visibility_uses_the_z_buffer():
    xy, z, tri = _square(0, 0, 20, 20, 10.0)
    r = rasterize(xy, z, tri, 40, 40)
    pts = np.array([[10, 10], [10, 10], [30, 30], [50, 5]], dtype=float)
    depth = np.array([10.0, 0.0, 0.0, 0.0])
    assert visible_points(pts, depth, r, tolerance=0.5).tolist() == [True, False, True, False]
