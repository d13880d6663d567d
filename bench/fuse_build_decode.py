"""Crops from reduced-resolution JPEG decoding against crops from full decoding, on real photos.

For each face, the same crop (box of the landmarks with the build's margin) is cut twice: from the
full decode (the build's path with ``--no-reduced-decode``) and from the decode at the reduction
the build chooses (``crop.reduction_for``: the largest of 2, 4, 8 leaving the box at least the crop
size). Prints, per reduction, the faces, the mean and the largest absolute pixel difference (uint8
levels, over all pixels and channels), the 99.9th percentile, and the decode time of both.

* ``aflw2000_3d``: the 2,000 real 450x450 AFLW2000-3D photos with their ``pt3d_68`` points, at a
  crop size small enough for their faces to allow a reduction (``--small-size``, default 64);
* ``large``: the same photos upscaled 3x (1350x1350, bicubic, JPEG quality 95), crop 160.

    python bench/fuse_build_decode.py --faces 500
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

UPSCALE = 3


def faces(realdata: Path, count: int):
    """``(jpg path, 0-based points)`` of the first ``count`` AFLW2000-3D photos."""
    import scipy.io

    for mat in sorted((realdata / "aflw2000_3d" / "AFLW2000").glob("*.mat"))[:count]:
        points = scipy.io.loadmat(str(mat), variable_names=["pt3d_68"])["pt3d_68"][:2].T - 1.0
        yield mat.with_suffix(".jpg"), points


def compare(items, size: int, margin: float) -> dict[int, dict[str, list]]:
    import cv2

    from landmark_fusion.crop import crop_box_image, reduction_for, square_box
    from landmark_fusion.imageio import decode_image

    cv2.setNumThreads(1)
    stats: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for path, points in items:
        box = square_box(points, np.ones(len(points), bool), margin)
        wanted = reduction_for(box[2], size)
        started = time.perf_counter()
        full = decode_image(path)[0]
        full_s = time.perf_counter() - started
        reference = crop_box_image(full, *box, size).image
        started = time.perf_counter()
        image, reduction, _, _ = decode_image(path, reduction=wanted)
        reduced_s = time.perf_counter() - started
        crop = crop_box_image(image, *box, size, reduction=reduction).image
        diff = np.abs(reference.astype(np.int16) - crop.astype(np.int16))
        entry = stats[reduction]
        entry["mean"].append(float(diff.mean()))
        entry["max"].append(int(diff.max()))
        entry["p999"].append(float(np.percentile(diff, 99.9)))
        entry["full_ms"].append(full_s * 1e3)
        entry["reduced_ms"].append(reduced_s * 1e3)
    return stats


def upscaled(items, folder: Path):
    import cv2

    for path, points in items:
        big = cv2.resize(cv2.imread(str(path)), None, fx=UPSCALE, fy=UPSCALE,
                         interpolation=cv2.INTER_CUBIC)
        target = folder / path.name
        cv2.imwrite(str(target), big, [cv2.IMWRITE_JPEG_QUALITY, 95])
        yield target, UPSCALE * points + (UPSCALE - 1) / 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=500)
    parser.add_argument("--realdata", type=Path, default=Path("/work/realdata"))
    parser.add_argument("--small-size", type=int, default=64)
    parser.add_argument("--margin", type=float, default=0.25)
    args = parser.parse_args()
    print(f"{'photos':<34}{'reduction':>10}{'faces':>7}{'mean |diff|':>13}{'max':>6}{'p99.9':>7}"
          f"{'full ms':>9}{'reduced ms':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        sets = [(f"AFLW2000-3D 450x450, crop {args.small_size}",
                 list(faces(args.realdata, args.faces)), args.small_size),
                ("AFLW2000-3D x3 (1350x1350), crop 160",
                 list(upscaled(faces(args.realdata, args.faces), Path(tmp))), 160)]
        for label, items, size in sets:
            for reduction, entry in sorted(compare(items, size, args.margin).items()):
                print(f"{label:<34}{reduction:>10}{len(entry['mean']):>7}"
                      f"{np.mean(entry['mean']):>13.3f}{max(entry['max']):>6}"
                      f"{np.mean(entry['p999']):>7.1f}{np.median(entry['full_ms']):>9.2f}"
                      f"{np.median(entry['reduced_ms']):>12.2f}")


if __name__ == "__main__":
    main()
