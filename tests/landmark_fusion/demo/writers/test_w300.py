"""300W writer: files laid out like the real release, read back unchanged by the reader."""
from __future__ import annotations

import numpy as np

from landmark_fusion.demo.writers.base import FixtureFace
from landmark_fusion.demo.writers.w300 import write_300w
from landmark_fusion.sources.base import RawFace
from landmark_fusion.sources.w300 import W300Source


def test_round_trip_and_real_layout(tmp_path, samples_dir):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, size=(60, 80, 3), dtype=np.uint8)
    faces = [FixtureFace(image=image, points=rng.uniform(0, 60, size=(68, 2)), name=f"f{i}", split=split)
             for i, split in enumerate(["train", "test", "train"])]
    faces[2].extra["folder"] = "ibug"
    paths = write_300w(tmp_path, faces)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "lfpw/trainset/f0.pts", "01_Indoor/f1.pts", "ibug/f2.pts"]
    assert (tmp_path / "lfpw/trainset/f0.png").is_file() and (tmp_path / "ibug/f2.jpg").is_file()

    real = (samples_dir / "300W/lfpw/trainset/image_0001.pts").read_text()
    written = paths[0].read_text()
    assert written.split("\n")[:3] == real.split("\n")[:3] and not written.endswith("\n")
    assert len(written.split("\n")) == len(real.split("\n"))

    source = W300Source(tmp_path)
    by_id = {f.sample_id: f for item in source.items() for f in source.read(item)}
    assert all(isinstance(f, RawFace) for f in by_id.values())
    for face, stem in zip(faces, ["lfpw/trainset/f0.png", "01_Indoor/f1.jpg", "ibug/f2.jpg"], strict=True):
        read = by_id[stem]
        np.testing.assert_allclose(read.points, face.points, atol=5e-7)  # 6 decimals in the file
        assert read.split == face.split
    assert by_id["ibug/f2.jpg"].extra["subset"] == "challenge"
