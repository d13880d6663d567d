"""Peak memory of `fuse build` against the number of faces: it must not grow with the database.

Writes synthetic 300W folders of N and 4·N faces (600×450 JPEG + ``.pts``), then builds each in a
fresh Python process, in-process (``--workers 0``: reading, decoding, cropping and writing all in
one process) and with workers (the building process only), and prints that process's peak
resident set size (``VmHWM`` of ``/proc/self/status``: the high-water mark of this process image,
unlike ``ru_maxrss``, which a child inherits from the process that started it) for each. Linux only.

    python bench/fuse_build_memory.py --images 500
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

CHILD = """
import json, sys
from pathlib import Path
from landmark_fusion.build import BuildSettings, build_shards
from landmark_fusion.roots import Root


def high_water_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


if __name__ == "__main__":
    root, out, workers = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    before = high_water_kib()
    report = build_shards([Root("300w", root)], out, BuildSettings(workers=workers, progress=False))
    print(json.dumps({"kept": report.total_kept, "before_kib": before, "peak_kib": high_water_kib()}))
"""


def measure(root: Path, out: Path, workers: int) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, str(root), str(out), str(workers)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    from fuse_build import write_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"{'faces':>7}{'workers':>9}{'kept':>7}{'peak RSS MiB':>14}{'after imports MiB':>19}")
    with tempfile.TemporaryDirectory() as tmp:
        for count in (args.images, 4 * args.images):
            root = Path(tmp) / f"300W-{count}"
            write_dataset(root, count, 600, 450)
            for workers in (0, args.workers):
                row = measure(root, Path(tmp) / f"fused-{count}-{workers}.h5", workers)
                assert row["kept"] == count, row
                print(f"{count:>7}{workers:>9}{row['kept']:>7}{row['peak_kib'] / 1024:>14.1f}"
                      f"{row['before_kib'] / 1024:>19.1f}")


if __name__ == "__main__":
    main()
