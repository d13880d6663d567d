"""JPEG-encoded crops: both formats store a JPEG per row, their readers give back RGB crops."""
from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest

from landmark_fusion.shards import ShardInfo, create_writer, open_shards, stack_samples
from landmark_fusion.shards.crops import crop_encoding, decode_crops, encode_crops, encoding_attributes, jpeg_decoder

SIZE = 64


def _photo_crops(samples_dir, count: int) -> np.ndarray:
    """Real photo content: SIZE-px RGB crops cut from the AFLW2000-3D sample photos."""
    crops = []
    for path in sorted((samples_dir / "AFLW2000-3D" / "AFLW2000").glob("*.jpg")):
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        for y in range(100, 300, 50):
            crops.append(cv2.resize(image[y:y + 150, 150:300], (SIZE, SIZE), interpolation=cv2.INTER_AREA))
    return np.stack(crops[:count])


def test_attributes_and_their_checks():
    assert encoding_attributes("raw") == {}
    assert encoding_attributes("jpeg", 80) == {"crop_encoding": "jpeg", "jpeg_quality": 80}
    assert crop_encoding({}) == ("raw", None)
    assert crop_encoding({"crop_encoding": "jpeg", "jpeg_quality": 80}) == ("jpeg", 80)
    with pytest.raises(ValueError, match="101"):
        encoding_attributes("jpeg", 101)
    with pytest.raises(ValueError, match="webp"):
        crop_encoding({"crop_encoding": "webp"})


def test_encode_decode_keeps_rgb_order_and_is_close(samples_dir):
    crops = _photo_crops(samples_dir, 12)
    for quality, bound in ((95, 2.5), (75, 5.0)):
        decoded = decode_crops(encode_crops(crops, quality), SIZE)
        assert decoded.shape == crops.shape and decoded.dtype == np.uint8
        error = np.abs(decoded.astype(int) - crops.astype(int)).mean()
        assert 0 < error < bound, (quality, error)
    swapped = decode_crops(encode_crops(crops[..., ::-1], 95), SIZE)[..., ::-1]
    assert np.abs(swapped.astype(int) - crops.astype(int)).mean() < 2.5
    with pytest.raises(ValueError, match="crop 1"):
        decode_crops([encode_crops(crops[:1], 90)[0], b"not a jpeg"], SIZE)


def test_both_decoders_give_the_same_pixels_and_errors(samples_dir):
    pytest.importorskip("simplejpeg")
    assert jpeg_decoder() == "simplejpeg"
    crops = _photo_crops(samples_dir, 12)
    grey = cv2.imencode(".jpg", crops[0, :, :, 1])[1].tobytes()
    for quality in (95, 75):
        blobs = encode_crops(crops, quality) + [grey]
        fast = decode_crops(blobs, SIZE, "simplejpeg")
        plain = decode_crops([np.frombuffer(b, np.uint8) for b in blobs], SIZE, "opencv")
        np.testing.assert_array_equal(fast, plain)
    good = encode_crops(crops[:1], 90)[0]
    for bad in (b"", b"not a jpeg", good[:200], encode_crops(crops[:1, :, :32], 90)[0]):
        for decoder in ("simplejpeg", "opencv"):
            with pytest.raises(ValueError, match=f"crop 1 of the batch is not a {SIZE}x{SIZE} JPEG"):
                decode_crops([good, bad], SIZE, decoder)


@pytest.mark.parametrize("suffix", ["fused.h5", "fused_parquet"])
def test_jpeg_sets_read_back_like_raw_ones(tmp_path, samples_dir, shard_rows, suffix):
    crops = _photo_crops(samples_dir, len(shard_rows) if len(shard_rows) <= 20 else 20)
    rows = shard_rows[:len(crops)]
    for row, crop in zip(rows, crops, strict=False):
        row.image = crop
    names = ["brow_r_outer", "eye_r_outer", "nose_tip", "chin", "mouth_l"]
    sets = {}
    for encoding in ("raw", "jpeg"):
        info = ShardInfo(list(names), ["aflw", "300w", "wflw"], ["aflw21", "ibug68", "wflw98"], SIZE,
                         0.25, extra=encoding_attributes(encoding, 90))
        out = tmp_path / encoding / suffix
        out.parent.mkdir()
        writer = create_writer(out, info, "hdf5" if suffix.endswith(".h5") else "parquet")
        batch = stack_samples(rows, SIZE, len(names))
        writer.append({k: v[:7] for k, v in batch.items()})
        writer.append({k: v[7:] for k, v in batch.items()})
        writer.close()
        sets[encoding] = out
    raw, jpeg = open_shards(sets["raw"]), pickle.loads(pickle.dumps(open_shards(sets["jpeg"])))
    assert jpeg.info.extra["crop_encoding"] == "jpeg" and "crop_encoding" not in raw.info.extra
    every = range(len(rows))
    a, b = raw.get_batch(every), jpeg.get_batch(every)
    for name in a:
        if name != "images":
            np.testing.assert_array_equal(a[name], b[name])
    np.testing.assert_array_equal(a["images"], crops)
    assert b["images"].shape == crops.shape
    assert np.abs(b["images"].astype(int) - crops.astype(int)).mean() < 3.0
    np.testing.assert_array_equal(jpeg.get(3)["images"], b["images"][3])
    np.testing.assert_array_equal(jpeg.get_batch([5, 2, 5])["images"], b["images"][[5, 2, 5]])
    streamed = np.concatenate([cols["images"] for _, cols in jpeg.iter_columns(["images"], chunk=6)])
    np.testing.assert_array_equal(streamed, b["images"])
    def size(path):
        return sum(p.stat().st_size for p in ([path] if path.is_file() else path.iterdir()))
    assert size(sets["jpeg"]) < size(sets["raw"])


def test_cli_build_jpeg_crops_both_formats(tmp_path, samples_dir):
    from click.testing import CliRunner

    from landmark_fusion.commands import fuse

    roots = tmp_path / "roots.yaml"
    roots.write_text(f"aflw2000_3d: {samples_dir / 'AFLW2000-3D'}\n300w_lp: {samples_dir / '300W-LP'}\n")
    outputs = {}
    for name, extra in (("raw.h5", []), ("jpeg.h5", ["--crop-encoding", "jpeg", "--jpeg-quality", "90"]),
                        ("jpeg_set", ["--crop-encoding", "jpeg", "--jpeg-quality", "90"])):
        out = tmp_path / name
        result = CliRunner().invoke(fuse, ["build", "--roots", str(roots), "--out", str(out),
                                           "--workers", "0", "--no-progress", *extra])
        assert result.exit_code == 0, result.output
        outputs[name] = open_shards(out)
    raw = outputs["raw.h5"].get_batch(range(len(outputs["raw.h5"])))
    for name in ("jpeg.h5", "jpeg_set"):
        shards = outputs[name]
        assert shards.info.extra["jpeg_quality"] == 90
        got = shards.get_batch(range(len(shards)))
        np.testing.assert_array_equal(got["landmarks"], raw["landmarks"])
        assert np.abs(got["images"].astype(int) - raw["images"].astype(int)).mean() < 3.0
    result = CliRunner().invoke(fuse, ["build", "--roots", str(roots), "--out", str(tmp_path / "x.h5"),
                                       "--crop-encoding", "jpeg", "--jpeg-quality", "0"])
    assert result.exit_code != 0 and "jpeg-quality" in result.output
