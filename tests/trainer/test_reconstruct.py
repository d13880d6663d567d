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


def _annotated_faces(samples_dir):
    """(image path, visible landmarks) of every annotated face of the real AFLW2000-3D, 300W and 300W-LP
    samples, read by the fusion stage's own readers."""
    from landmark_fusion.sources import get_source

    faces = []
    for name, folder in (("aflw2000_3d", "AFLW2000-3D"), ("300w", "300W"), ("300w_lp", "300W-LP"),
                         ("300w_lp", "300W-LP-AFW")):
        source = get_source(name)(samples_dir / folder)
        for item in source.items():
            for face in source.read(item):
                if hasattr(face, "points"):
                    faces.append((face.image_path, np.asarray(face.points)[np.asarray(face.visible, bool)]))
    return faces


def test_the_bundled_detector_finds_every_annotated_face_of_the_real_samples(samples_dir):
    """No --box, no --detector: a box of the shipped detector contains all the annotated landmarks, and its
    landmark-box estimate overlaps their box."""
    from trainer.reconstruct import detect_faces

    faces = _annotated_faces(samples_dir)
    assert len(faces) >= 15
    for path, points in faces:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        found = detect_faces(rgb)
        (lx0, ly0), (lx1, ly1) = points.min(0), points.max(0)
        containing = [f for f in found if f.box[0] <= lx0 and f.box[1] <= ly0 and f.box[2] >= lx1 and f.box[3] >= ly1]
        assert containing, (path, found, (lx0, ly0, lx1, ly1))
        x0, y0, x1, y1 = containing[0].landmark_box
        inter = max(0.0, min(x1, lx1) - max(x0, lx0)) * max(0.0, min(y1, ly1) - max(y0, ly0))
        union = (x1 - x0) * (y1 - y0) + (lx1 - lx0) * (ly1 - ly0) - inter
        assert inter / union > 0.5, (path, containing[0], (lx0, ly0, lx1, ly1))


def test_an_image_without_a_face_has_no_detection():
    from trainer.reconstruct import detect_faces

    y, x = np.mgrid[0:240, 0:320]
    smooth = np.stack([x * 0.5, y * 0.8, (x + y) * 0.3], -1).astype(np.uint8)
    assert detect_faces(smooth) == []


def test_reconstruct_detects_the_face_itself(trained_checkpoint, samples_dir, tmp_path):
    image = samples_dir / "AFLW2000-3D" / "AFLW2000" / "image00050.jpg"
    res = CliRunner().invoke(train, ["reconstruct", str(image), "--checkpoint", str(trained_checkpoint),
                                     "--out", str(tmp_path / "rec")])
    assert res.exit_code == 0, res.output
    assert "reconstructed 1 of 1 images" in res.output
    out = json.loads((tmp_path / "rec" / "image00050.json").read_text())
    x0, y0, x1, y1 = out["box"]
    assert 0 <= x0 < x1 <= 450 and 0 <= y0 < y1 <= 450


def test_a_missing_detector_model_is_named(tmp_path):
    from trainer.reconstruct import NoDetector, detect_faces

    with pytest.raises(NoDetector, match="yunet.onnx"):
        detect_faces(np.zeros((40, 40, 3), np.uint8), str(tmp_path / "yunet.onnx"))
