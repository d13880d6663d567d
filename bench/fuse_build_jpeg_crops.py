"""JPEG-encoded shard crops: bytes per crop, pixel error and decode speed per quality, on real faces.

Builds a raw HDF5 set of real faces (``--per-db`` faces of each of 300W-LP and AFLW2000-3D, crop
160), then for each quality (``--qualities``):

* **bytes**: mean JPEG size of a crop (raw: S·S·3 = 76,800 bytes at 160 px);
* **error**: mean and largest absolute difference to the raw crop (uint8 levels), and PSNR;
* **decode**: :func:`decode_crops` alone, one thread, crops per CPU-second, with each decoder
  (OpenCV's ``cv2.imdecode`` + BGR→RGB, and simplejpeg where it is installed: the same pixels);
* **reader**: rows per CPU-second of ``ShardSet.get_batch`` in shuffled batches of ``--batch`` rows
  from an HDF5 set and a Parquet set written with that quality (what the trainer's loader calls,
  with the default decoder), against the raw sets.

    python bench/fuse_build_jpeg_crops.py --per-db 500
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def cpu_rate(function, rows: int, repeats: int = 3) -> float:
    """Best rows per CPU-second (``time.process_time``) of ``function()`` over ``repeats`` runs."""
    best = 0.0
    for _ in range(repeats):
        started = time.process_time()
        function()
        best = max(best, rows / max(time.process_time() - started, 1e-9))
    return best


def reader_rate(path: Path, batch: int) -> float:
    from landmark_fusion.shards import open_shards

    shards = open_shards(path)
    order = np.random.default_rng(0).permutation(len(shards))
    batches = [np.sort(order[i:i + batch]) for i in range(0, len(order), batch)]

    def read_all():
        for rows in batches:
            shards.get_batch(rows, ("images",))
    read_all()  # open the file, warm the page cache
    return cpu_rate(read_all, len(order))


def main() -> None:
    import cv2

    from landmark_fusion.build import BuildSettings, build_shards
    from landmark_fusion.roots import Root
    from landmark_fusion.shards import ShardInfo, create_writer, open_shards
    from landmark_fusion.shards.crops import decode_crops, encode_crops, encoding_attributes, jpeg_decoder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-db", type=int, default=500)
    parser.add_argument("--realdata", type=Path, default=Path("/work/realdata"))
    parser.add_argument("--qualities", default="75,85,90,95")
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        raw_path = tmp / "raw.h5"
        roots = [Root("300w_lp", args.realdata / "300w_lp"),
                 Root("aflw2000_3d", args.realdata / "aflw2000_3d")]
        build_shards(roots, raw_path, BuildSettings(limit=args.per_db, workers=2, progress=False))
        raw_set = open_shards(raw_path)
        batch = raw_set.get_batch(range(len(raw_set)))
        crops, size, n = batch["images"], raw_set.crop_size, len(raw_set)
        print(f"{n} real crops of {size}x{size} (300W-LP, AFLW2000-3D); raw: {size * size * 3} "
              f"bytes a crop; reader batches of {args.batch} shuffled rows; rates per CPU-second")

        def write(path: Path, extra: dict) -> Path:
            info = ShardInfo(raw_set.landmark_names, raw_set.source_names, raw_set.scheme_names,
                             size, raw_set.info.margin, extra=extra)
            writer = create_writer(path, info)
            for start in range(0, n, 500):
                writer.append({k: v[start:start + 500] for k, v in batch.items()})
            writer.close()
            return path

        raw_pq = write(tmp / "raw_parquet", {})
        decoders = ["opencv"] + (["simplejpeg"] if jpeg_decoder() == "simplejpeg" else [])
        print(f"default decoder: {jpeg_decoder()}")
        print(f"{'quality':>8}{'bytes/crop':>12}{'mean |err|':>12}{'max':>6}{'PSNR dB':>9}"
              + "".join(f"{d + '/s':>14}" for d in decoders) + f"{'HDF5 rows/s':>13}{'Parquet rows/s':>16}")
        print(f"{'raw':>8}{size * size * 3:>12}{0.0:>12.2f}{0:>6}{'inf':>9}" + "".join(f"{'-':>14}" for _ in decoders)
              + f"{reader_rate(raw_path, args.batch):>13.0f}{reader_rate(raw_pq, args.batch):>16.0f}")
        for quality in [int(q) for q in args.qualities.split(",")]:
            blobs = encode_crops(crops, quality)
            decoded = decode_crops(blobs, size)
            diff = np.abs(decoded.astype(np.int16) - crops.astype(np.int16))
            mse = float((diff.astype(np.float64) ** 2).mean())
            decode = [cpu_rate(lambda blobs=blobs, d=d: decode_crops(blobs, size, d), n) for d in decoders]
            extra = encoding_attributes("jpeg", quality)
            h5 = write(tmp / f"q{quality}.h5", extra)
            pq = write(tmp / f"q{quality}_parquet", extra)
            print(f"{quality:>8}{np.mean([len(b) for b in blobs]):>12.0f}{diff.mean():>12.2f}"
                  f"{int(diff.max()):>6}{10 * np.log10(255 ** 2 / mse):>9.1f}"
                  + "".join(f"{rate:>14.0f}" for rate in decode) +
                  f"{reader_rate(h5, args.batch):>13.0f}{reader_rate(pq, args.batch):>16.0f}")


if __name__ == "__main__":
    main()
