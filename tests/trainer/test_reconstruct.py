import json

import cv2
import numpy as np
import trimesh
from click.testing import CliRunner

from trainer.cli import train
from trainer.reconstruct import box_to_input_affine


def test_box_affine_matches_the_fusion_crop():
    from landmark_fusion.crop import box_transform, square_box

    pts = np.array([[100.0, 120], [180, 200]])
    x0, y0, side = square_box(pts, np.ones(2, bool), 0.25)
    np.testing.assert_allclose(box_to_input_affine((100, 120, 180, 200), 0.25), box_transform(x0, y0, side, 128))


def test_reconstruct_command_writes_mesh_landmarks_overlay(trained_checkpoint, small_shards, tmp_path):
    from landmark_fusion.shards import open_shards

    row = open_shards(small_shards).get(0)
    img = tmp_path / "face.png"
    cv2.imwrite(str(img), cv2.copyMakeBorder(row["images"][..., ::-1], 50, 50, 80, 80, cv2.BORDER_CONSTANT))
    res = CliRunner().invoke(train, ["reconstruct", str(img), "--checkpoint", str(trained_checkpoint),
                                     "--box", "100,70,156,126", "--out", str(tmp_path / "rec"),
                                     "--mesh-format", "ply"])
    assert res.exit_code == 0, res.output
    assert "yaw" in res.output
    out = json.loads((tmp_path / "rec" / "face.json").read_text())
    assert set(out["landmarks"]) >= {"nose_tip", "chin"} and len(out["yaw_pitch_roll_degrees"]) == 3
    mesh = trimesh.load(str(tmp_path / "rec" / "face.ply"), process=False)
    assert len(mesh.vertices) == 169
    assert cv2.imread(str(tmp_path / "rec" / "face_overlay.png")).shape == (196, 256, 3)
