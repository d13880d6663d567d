import json

import cv2
import numpy as np
import pytest
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


def test_a_bad_image_is_reported_and_the_others_go_on(trained_checkpoint, small_shards, tmp_path):
    from landmark_fusion.shards import open_shards

    row = open_shards(small_shards).get(0)
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), cv2.copyMakeBorder(row["images"][..., ::-1], 50, 50, 80, 80, cv2.BORDER_CONSTANT))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    args = ["reconstruct", str(broken), str(good), "--checkpoint", str(trained_checkpoint),
            "--box", "100,70,156,126", "--out", str(tmp_path / "rec")]
    res = CliRunner().invoke(train, args)
    assert res.exit_code == 0, res.output
    assert f"{broken}: FAILED: {broken}: not a readable image" in res.output
    assert "reconstructed 1 of 2 images" in res.output
    assert (tmp_path / "rec" / "good.json").is_file() and not (tmp_path / "rec" / "broken.json").exists()
    only_bad = CliRunner().invoke(train, args[:2] + args[3:])
    assert only_bad.exit_code != 0 and "no image could be reconstructed" in only_bad.output


def test_face_detection_on_a_real_300w_photo(samples_dir):
    """The bundled Haar cascade finds the annotated face where OpenCV has one; else a clear error."""
    from landmark_fusion.sources.pts import read_pts
    from trainer.reconstruct import NoDetector, detect_faces

    folder = samples_dir / "300W" / "lfpw" / "trainset"
    rgb = cv2.cvtColor(cv2.imread(str(folder / "image_0001.png")), cv2.COLOR_BGR2RGB)
    points = read_pts(folder / "image_0001.pts", 68) - 1.0
    if not hasattr(cv2, "CascadeClassifier"):
        with pytest.raises(NoDetector, match="--box"):
            detect_faces(rgb)
        return
    x0, y0, x1, y1 = detect_faces(rgb)[0]
    (lx0, ly0), (lx1, ly1) = points.min(0), points.max(0)
    inter = max(0.0, min(x1, lx1) - max(x0, lx0)) * max(0.0, min(y1, ly1) - max(y0, ly0))
    union = (x1 - x0) * (y1 - y0) + (lx1 - lx0) * (ly1 - ly0) - inter
    assert inter / union > 0.4


def test_a_missing_detector_model_is_named(tmp_path):
    from trainer.reconstruct import NoDetector, detect_faces

    with pytest.raises(NoDetector, match="yunet.onnx"):
        detect_faces(np.zeros((40, 40, 3), np.uint8), str(tmp_path / "yunet.onnx"))
