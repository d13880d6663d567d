import numpy as np
import pytest

from trainer.augment import augment_sample, resize_affine, transform_points
from trainer.augment_config import NO_AUGMENT, AugmentConfig


def dot_image(size, points):
    img = np.zeros((size, size, 3), np.uint8)
    for x, y in np.round(points).astype(int):
        img[y - 1:y + 2, x - 1:x + 2] = 255
    return img


def brightest(img, near, r=4):
    x0, y0 = np.round(near).astype(int)
    win = img[max(0, y0 - r):y0 + r + 1, max(0, x0 - r):x0 + r + 1].astype(float).sum(-1)
    yy, xx = np.mgrid[max(0, y0 - r):y0 + r + 1, max(0, x0 - r):x0 + r + 1]
    return np.array([(win * xx).sum() / win.sum(), (win * yy).sum() / win.sum()])


def test_plain_resize_keeps_pixel_centres():
    m = resize_affine(64, 128)[:2]
    np.testing.assert_allclose(transform_points(m, np.array([[-0.5, -0.5], [63.5, 63.5], [31.5, 31.5]])),
                               [[-0.5, -0.5], [127.5, 127.5], [63.5, 63.5]])


@pytest.mark.parametrize("seed", range(4))
def test_image_and_points_move_together(seed):
    pts = np.array([[30.0, 40.0], [60.0, 45.0], [50.0, 70.0]])
    img = dot_image(96, pts)
    cfg = AugmentConfig(rotate_deg=30, flip_prob=0.5, scale_range=(0.8, 1.2), shift_frac=0.05,
                        brightness=0, contrast=0, saturation=0)
    mirror = np.array([1, 0, 2])
    out = augment_sample(img, pts, np.ones(3, bool), 20.0, np.random.default_rng(seed), cfg, mirror)
    for p in out["landmarks"]:
        np.testing.assert_allclose(brightest(out["image"], p), p, atol=0.6)
    assert out["norm_size"] == pytest.approx(20.0 * np.sqrt(abs(np.linalg.det(out["affine"][:, :2]))))


def test_flip_permutes_names_and_mask():
    pts = np.array([[20.0, 30.0], [70.0, 30.0], [45.0, 60.0]])  # subject's right eye (image left), left eye, nose
    mask = np.array([True, False, True])
    cfg = AugmentConfig(0, 1.0, (1, 1), 0, 0, 0, 0)
    out = augment_sample(dot_image(96, pts), pts, mask, 10.0, np.random.default_rng(0), cfg, np.array([1, 0, 2]))
    k = 128 / 96
    # after mirroring, the "right eye" slot holds the old left eye (masked), the left-eye slot the old right
    assert out["mask"].tolist() == [False, True, True]
    np.testing.assert_allclose(out["landmarks"][1], [127 - ((20 + 0.5) * k - 0.5), (30 + 0.5) * k - 0.5], atol=1e-4)
    np.testing.assert_allclose(out["landmarks"][2, 0], 127 - ((45 + 0.5) * k - 0.5), atol=1e-4)


def test_flip_without_permutation_is_refused():
    with pytest.raises(ValueError):
        augment_sample(np.zeros((8, 8, 3), np.uint8), np.zeros((1, 2)), np.ones(1, bool), 1.0,
                       np.random.default_rng(0), AugmentConfig(flip_prob=1.0), None)


def test_no_augmentation_is_deterministic_resize():
    img = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    a = augment_sample(img, np.zeros((2, 2)), np.ones(2, bool), 5.0, None, NO_AUGMENT, None)
    assert a["norm_size"] == pytest.approx(10.0)
    assert a["image"].shape == (128, 128, 3)
