"""Square crops: the affine maps, uncrop returns the points, pixels land where the map says."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landmark_fusion.crop import (
    MIN_SIDE,
    apply_affine,
    box_maps,
    box_transform,
    crop_box_image,
    crop_face,
    invert_affine,
    norm_size,
    resample_box,
    square_box,
)

coordinate = st.floats(min_value=-500, max_value=1500, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(points=st.lists(st.tuples(coordinate, coordinate), min_size=2, max_size=30),
       margin=st.floats(min_value=0.0, max_value=1.0), size=st.sampled_from([32, 128, 160]))
def test_crop_then_uncrop_returns_the_points(points, margin, size):
    pts = np.asarray(points, dtype=np.float64)
    visible = np.ones(len(pts), dtype=bool)
    x0, y0, side = square_box(pts, visible, margin)
    to_crop = box_transform(x0, y0, side, size)
    back = apply_affine(invert_affine(to_crop), apply_affine(to_crop, pts))
    np.testing.assert_allclose(back, pts, atol=1e-6 * max(1.0, np.abs(pts).max()))
    in_crop = apply_affine(to_crop, pts)
    # the landmark box sits centred in the crop with the margin around it
    lo, hi = in_crop.min(0), in_crop.max(0)
    assert np.all(lo >= -0.5 - 1e-6) and np.all(hi <= size - 0.5 + 1e-6)
    if side > MIN_SIDE:
        longer = (hi - lo).max()
        np.testing.assert_allclose(longer, size / (1 + 2 * margin), rtol=1e-6)


def test_box_is_the_square_around_the_visible_points_with_margin():
    points = np.array([[100.0, 50.0], [300.0, 150.0], [5000.0, 5000.0]])
    visible = np.array([True, True, False])
    x0, y0, side = square_box(points, visible, margin=0.25)
    assert side == pytest.approx(200 * 1.5)
    assert (x0 + side / 2, y0 + side / 2) == pytest.approx((200.0, 100.0))


def test_crop_pixel_centres_follow_the_convention():
    # box [9.5, 19.5] x [29.5, 39.5] (the outer edges of pixels 10..19, 30..39) at 10 px:
    # crop pixel (u, v) is image pixel (10 + u, 30 + v)
    matrix = box_transform(9.5, 29.5, 10.0, 10)
    np.testing.assert_allclose(apply_affine(matrix, [[10.0, 30.0], [19.0, 39.0]]),
                               [[0.0, 0.0], [9.0, 9.0]])
    image = np.arange(50 * 50 * 3, dtype=np.uint8).reshape(50, 50, 3)
    crop = crop_box_image(image, 9.5, 29.5, 10.0, 10)
    np.testing.assert_array_equal(crop.image, image[30:40, 10:20])


@pytest.mark.parametrize("scale_down", [1, 3, 8])
def test_a_dot_lands_where_the_affine_puts_it(scale_down):
    import cv2

    size = 64
    image = np.zeros((900, 1200, 3), np.uint8)
    centre = (700.0, 400.0)
    radius = 3 * scale_down
    cv2.circle(image, (int(centre[0]), int(centre[1])), radius, (255, 255, 255), -1)
    half = size * scale_down / 2 / 1.5
    points = np.array([[centre[0] - half, centre[1] - half * 0.5], [centre[0] + half, centre[1] + half]])
    crop = crop_face(image, points, np.ones(2, bool), size=size, margin=0.25)
    weights = crop.image[..., 0].astype(np.float64)
    ys, xs = np.mgrid[0:size, 0:size]
    found = np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum()
    expected = apply_affine(crop.image_to_crop, np.array(centre))
    np.testing.assert_allclose(found, expected, atol=0.15)


def test_outside_the_image_is_black_and_points_outside_are_allowed():
    image = np.full((100, 100, 3), 200, np.uint8)
    points = np.array([[-40.0, -40.0], [60.0, 60.0]])  # box partly left of / above the image
    crop = crop_face(image, points, np.ones(2, bool), size=40, margin=0.0)
    assert crop.image[0, 0].tolist() == [0, 0, 0]
    assert crop.image[-1, -1].tolist() == [200, 200, 200]
    far = crop_face(image, np.array([[500.0, 500.0], [600.0, 600.0]]), np.ones(2, bool), size=16)
    assert not far.image.any()


def test_norm_size_is_sqrt_of_the_visible_box_area():
    points = np.array([[0.0, 0.0], [40.0, 10.0], [1e4, 1e4]])
    assert norm_size(points, np.array([True, True, False])) == pytest.approx(20.0)


def test_crop_from_a_reduced_decode_matches_the_full_one(samples_dir):
    import scipy.io

    from landmark_fusion.crop import crop_box_image, reduction_for, square_box
    from landmark_fusion.imageio import decode_image

    folder = samples_dir / "AFLW2000-3D/AFLW2000"
    for mat in sorted(folder.glob("*.mat")):
        points = scipy.io.loadmat(mat)["pt3d_68"][:2].T - 1.0
        box = square_box(points, np.ones(68, bool))
        size = 48
        factor = reduction_for(box[2], size)
        assert factor >= 2  # these faces span well over 96 px
        full = crop_box_image(decode_image(mat.with_suffix(".jpg"))[0], *box, size)
        image, applied, _, _ = decode_image(mat.with_suffix(".jpg"), reduction=factor)
        reduced = crop_box_image(image, *box, size, reduction=applied)
        np.testing.assert_array_equal(reduced.image_to_crop, full.image_to_crop)
        np.testing.assert_array_equal(reduced.crop_to_image, full.crop_to_image)
        diff = np.abs(full.image.astype(int) - reduced.image.astype(int))
        assert diff.mean() < 4.0, (mat.name, factor, diff.mean())


def test_reduction_never_upsamples():
    from landmark_fusion.crop import reduced_box, reduction_for

    assert [reduction_for(side, 160) for side in (159, 320, 639, 640, 1280, 5000)] == [1, 2, 2, 4, 8, 8]
    assert reduced_box(10.1, 20.3, 100.0, 1) == (10.1, 20.3, 100.0)
    assert reduced_box(1.5, 3.5, 100.0, 2) == (0.5, 1.5, 50.0)


def test_resample_box_into_an_array_is_the_crop():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
    out = np.full((32, 32, 3), 7, np.uint8)
    for box in [(10.3, 5.7, 60.0), (-40.0, -30.0, 100.0), (500.0, 500.0, 10.0)]:
        expected = crop_box_image(image, *box, size=32).image
        assert resample_box(image, *box, 32, out=out) is out
        np.testing.assert_array_equal(out, expected)


def test_box_maps_are_box_transform_and_its_inverse():
    rng = np.random.default_rng(5)
    boxes = np.column_stack([rng.uniform(-50, 400, 20), rng.uniform(-50, 400, 20),
                             rng.uniform(8, 900, 20)])
    scale, shift, inverse = box_maps(boxes, 160)
    for i, (x0, y0, side) in enumerate(boxes):
        matrix = box_transform(x0, y0, side, 160)
        assert scale[i] == matrix[0, 0] == matrix[1, 1]
        assert shift[i].tolist() == matrix[:, 2].tolist()
        np.testing.assert_allclose(inverse[i], invert_affine(matrix), rtol=1e-12, atol=1e-9)
