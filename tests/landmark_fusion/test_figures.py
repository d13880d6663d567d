"""Figures replace only an earlier figure of the tool; a user's file at the path is never touched."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from landmark_fusion.build import BuildSettings, build_shards
from landmark_fusion.commands import fuse
from landmark_fusion.figures import FigureExistsError, check_figure_path, save_figure
from landmark_fusion.roots import Root


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    return fig


def test_an_earlier_figure_is_replaced_anything_else_refused(tmp_path):
    path = tmp_path / "plot.png"
    save_figure(_figure(), path, dpi=50)
    first = path.read_bytes()
    save_figure(_figure(), path, dpi=60)  # ours: replaced
    assert path.read_bytes() != first and check_figure_path(path) == path
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(photo)
    (tmp_path / "notes.png").write_text("not even an image")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "link.png").symlink_to(path)
    for name in ("photo.png", "notes.png", "folder.png", "link.png"):
        before = (tmp_path / name).read_bytes() if (tmp_path / name).is_file() else None
        with pytest.raises(FigureExistsError, match="not a figure written by landmark-fusion"):
            save_figure(_figure(), tmp_path / name, dpi=50)
        if before is not None:
            assert (tmp_path / name).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_stats_plot_refuses_a_users_picture_before_reading(tmp_path, samples_dir):
    out = tmp_path / "fused.h5"
    build_shards([Root("300w", samples_dir / "300W")], out, BuildSettings(workers=0, progress=False))
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((4, 4, 3), 7, np.uint8)).save(photo)
    before = photo.read_bytes()
    result = CliRunner().invoke(fuse, ["stats", str(out), "--plot", str(photo)])
    assert result.exit_code == 1 and "not a figure written by landmark-fusion" in result.output
    assert photo.read_bytes() == before
    for _ in range(2):  # its own heatmap: written, then replaced
        result = CliRunner().invoke(fuse, ["stats", str(out), "--plot", str(tmp_path / "heat.png")])
        assert result.exit_code == 0, result.output
