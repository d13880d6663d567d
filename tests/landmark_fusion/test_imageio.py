"""Image decode: RGB order, grayscale, and the named errors."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from landmark_fusion.imageio import read_image
from landmark_fusion.sources.base import SourceError


def _save(path, array):
    Image.fromarray(array).save(path)
    return path


def test_rgb_order_and_grayscale(tmp_path):
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[..., 0] = 250  # red
    out = read_image(_save(tmp_path / "red.png", rgb))
    assert out.shape == (6, 8, 3) and out[0, 0].tolist() == [250, 0, 0]
    gray = read_image(_save(tmp_path / "gray.png", np.full((5, 7), 77, np.uint8)))
    assert gray.shape == (5, 7, 3) and gray[2, 3].tolist() == [77, 77, 77]


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_image_is_corrupt(tmp_path, suffix):
    rng = np.random.default_rng(0)
    path = _save(tmp_path / f"full{suffix}", rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    data = path.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(SourceError) as error:
        read_image(cut)
    assert error.value.reason == "corrupt_image"
    assert "cut" in error.value.detail


def test_missing_garbage_and_too_large(tmp_path):
    with pytest.raises(SourceError) as error:
        read_image(tmp_path / "nope.jpg")
    assert error.value.reason == "missing_image"
    (tmp_path / "junk.jpg").write_bytes(b"not an image at all")
    with pytest.raises(SourceError) as error:
        read_image(tmp_path / "junk.jpg")
    assert error.value.reason == "corrupt_image"
    path = _save(tmp_path / "big.png", np.zeros((40, 50, 3), np.uint8))
    with pytest.raises(SourceError) as error:
        read_image(path, max_pixels=40 * 50 - 1)
    assert error.value.reason == "image_too_large"
    assert read_image(path, max_pixels=40 * 50).shape == (40, 50, 3)


def test_real_sample_decodes(samples_dir):
    image = read_image(samples_dir / "300W/lfpw/trainset/image_0001.png")
    reference = np.asarray(Image.open(samples_dir / "300W/lfpw/trainset/image_0001.png").convert("RGB"))
    np.testing.assert_array_equal(image, reference)


def test_fast_header_size_matches_pillow_on_real_samples(samples_dir):
    from landmark_fusion.imageio import header_size

    paths = sorted(samples_dir.rglob("*.jpg")) + sorted(samples_dir.rglob("*.png"))
    assert len(paths) > 20
    for path in paths:
        assert header_size(path.read_bytes(), path) == Image.open(path).size, path


def test_reduced_decode_of_a_real_jpeg(samples_dir):
    from landmark_fusion.imageio import decode_image

    path = samples_dir / "AFLW2000-3D/AFLW2000/image00050.jpg"
    full, applied, size, _ = decode_image(path)
    assert applied == 1 and size == (450, 450) and full.shape == (450, 450, 3)
    for factor in (2, 4, 8):
        image, applied, size, _ = decode_image(path, reduction=factor)
        side = -(-450 // factor)
        assert applied == factor and size == (450, 450) and image.shape == (side, side, 3)
        # libjpeg's scaled decode is close to the block means of the full decode
        blocks = full[:450 // factor * factor, :450 // factor * factor].reshape(
            450 // factor, factor, 450 // factor, factor, 3).mean(axis=(1, 3))
        assert np.abs(blocks - image[:450 // factor, :450 // factor]).mean() < 3.0


def test_reduced_decode_leaves_other_formats_whole(samples_dir):
    from landmark_fusion.imageio import decode_image

    image, applied, size, channels = decode_image(samples_dir / "300W/lfpw/trainset/image_0001.png",
                                                  reduction=4)
    assert applied == 1 and image.shape[:2] == (size[1], size[0]) and channels == "BGR"


@pytest.mark.parametrize("reduction", [1, 2, 4, 8])
def test_simplejpeg_and_opencv_give_the_same_pixels(samples_dir, reduction, monkeypatch):
    """A JPEG decoded by simplejpeg in RGB is OpenCV's BGR decode in the other order, full and
    reduced, on real photos (300W-LP, AFLW2000-3D, AFLW crops)."""
    pytest.importorskip("simplejpeg")
    from landmark_fusion import imageio

    paths = (sorted(samples_dir.glob("300W-LP*/**/*.jpg"))[:4]
             + sorted(samples_dir.glob("AFLW2000-3D/**/*.jpg"))[:4]
             + sorted(samples_dir.glob("AFLW/**/*.jpg"))[:4])
    assert len(paths) >= 8
    for path in paths:
        rgb = imageio.decode_image(path, reduction=reduction)
        with monkeypatch.context() as patch:
            patch.setattr(imageio, "simplejpeg_module", lambda: None)
            bgr = imageio.decode_image(path, reduction=reduction)
        assert (rgb.channels, bgr.channels) == ("RGB", "BGR")
        assert (rgb.reduction, rgb.size) == (bgr.reduction, bgr.size)
        np.testing.assert_array_equal(rgb.pixels, bgr.pixels[..., ::-1], err_msg=str(path))


def test_a_cmyk_jpeg_decodes_alike_both_ways(tmp_path, monkeypatch):
    pytest.importorskip("simplejpeg")
    from landmark_fusion import imageio

    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (24, 16), (0, 255, 255, 0)).save(path, quality=95)
    rgb = imageio.decode_image(path)
    monkeypatch.setattr(imageio, "simplejpeg_module", lambda: None)
    bgr = imageio.decode_image(path)
    np.testing.assert_array_equal(rgb.pixels, bgr.pixels[..., ::-1])
    assert rgb.pixels[8, 12].tolist() == pytest.approx([255, 0, 0], abs=8)  # red


def test_a_jpeg_simplejpeg_refuses_goes_to_opencv(samples_dir, monkeypatch):
    """OpenCV stays the reference: a JPEG simplejpeg fails on is decoded by OpenCV, in BGR."""
    from landmark_fusion import imageio

    class Refusing:
        @staticmethod
        def decode_jpeg(*args, **kwargs):
            raise ValueError("refused")

    monkeypatch.setattr(imageio, "simplejpeg_module", lambda: Refusing)
    decoded = imageio.decode_image(samples_dir / "AFLW2000-3D/AFLW2000/image00050.jpg")
    assert decoded.channels == "BGR" and decoded.pixels.shape == (450, 450, 3)
    assert read_image(samples_dir / "AFLW2000-3D/AFLW2000/image00050.jpg").shape == (450, 450, 3)
