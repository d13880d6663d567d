"""``train reconstruct IMAGE…``: face box (given, or from a face detector) → square crop as in
the fusion stage (box side × (1 + 2·margin)) → network → landmarks of any scheme, pose angles, the mesh
(.obj/.ply through trimesh, image pixel frame: x right, y down, z away from the viewer) and an overlay
PNG."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .augment import OUTPUT_SIZE


class NoDetector(ValueError):
    """The face detector model given cannot be used."""


def detect_faces(image_rgb: np.ndarray, detector: str | None = None) -> list:
    """Faces of an RGB image as :class:`trainer.detector.Detection` (``box`` contains the face's
    landmarks, ``landmark_box`` estimates their box), largest first.

    By default the detector that ships with the trainer (:mod:`trainer.detector`, BlazeFace). With
    ``detector``, a YuNet ONNX model (OpenCV's ``FaceDetectorYN``, e.g.
    ``face_detection_yunet_2023mar.onnx`` of the OpenCV model zoo) instead; its boxes serve as both.
    """
    import cv2

    from .detector import Detection, detect

    if detector is None:
        return detect(image_rgb)
    if not Path(detector).is_file():
        raise NoDetector(f"{detector}: face detector model not found")
    height, width = image_rgb.shape[:2]
    try:
        yunet = cv2.FaceDetectorYN.create(str(detector), "", (width, height), 0.6, 0.3, 50)
        _, found = yunet.detect(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    except cv2.error as error:
        raise NoDetector(f"{detector}: not a YuNet face detector model ({str(error).strip().splitlines()[-1]})") \
            from None
    rows = [] if found is None else found[:, :5]
    faces = [Detection((float(x), float(y), float(x + w), float(y + h)), (float(x), float(y), float(x + w),
                       float(y + h)), float(score)) for x, y, w, h, score in rows]
    return sorted(faces, key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


def box_to_input_affine(box: Sequence[float], margin: float, out: int = OUTPUT_SIZE) -> np.ndarray:
    """2×3 affine image → network input for a face box, as the fusion stage crops (crop.py)."""
    x0, y0, x1, y1 = map(float, box)
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    s = out / side
    return np.array([[s, 0, -s * (cx - side / 2) - 0.5], [0, s, -s * (cy - side / 2) - 0.5]])


def invert(m: np.ndarray) -> np.ndarray:
    a = np.linalg.inv(m[:, :2])
    return np.hstack([a, -a @ m[:, 2:]])


@dataclass
class Reconstruction:
    image: str
    box: tuple[float, float, float, float]
    landmarks: dict[str, list[float] | None]
    yaw_pitch_roll: tuple[float, float, float]
    files: list[str] = field(default_factory=list)


@dataclass
class Failure:
    """An image that could not be reconstructed, and why (the other images go on)."""

    image: str
    reason: str


def scheme_names(scheme: str | None, trained: Sequence[str]) -> list[str | None]:
    """Canonical name of each point of ``scheme`` (None for a point the scheme drops), or the trained
    landmark names when no scheme is asked for."""
    if not scheme:
        return list(trained)
    from landmark_fusion.correspondence import load_scheme

    from .errors import InputError

    try:
        return list(load_scheme(scheme).index_to_name)
    except (KeyError, ValueError, OSError) as error:
        raise InputError(str(error.args[0] if error.args else error), "--scheme") from None


def reconstruct(images: Sequence[str], checkpoint: str, out_dir: str, box: Sequence[float] | None = None,
                scheme: str | None = None, model_path: str | None = None, vertex_table: str | None = None,
                mesh_format: str = "obj", margin: float | None = None,
                progress: bool = False, detector: str | None = None) -> list[Reconstruction | Failure]:
    """Reconstruct the largest face (or the given box) of each image; writes ``<stem>.json``,
    ``<stem>.<obj|ply>`` and ``<stem>_overlay.png`` into ``out_dir``.

    An image that cannot be read or has no detectable face becomes a :class:`Failure` naming the
    file and the reason; the others are still reconstructed.
    """
    import cv2

    from landmark_fusion.progress import progress as progress_bar

    from . import components as C
    from .export import build_from_checkpoint

    encoder, decoder, trained, face, ck = build_from_checkpoint(checkpoint, model_path, full_mesh=True)
    names = scheme_names(scheme, trained)
    table = C.load_vertex_map(vertex_table, face) if (vertex_table or scheme) else dict(
        zip(trained, decoder.landmark_vertices.tolist(), strict=True))
    margin = ck.get("crop_margin", 0.25) if margin is None else margin
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results: list[Reconstruction | Failure] = []
    for path in progress_bar(images, desc="reconstruct", unit="image", disable=not progress):
        try:
            results.append(_reconstruct_one(path, encoder, decoder, face, names, table, box, scheme,
                                            margin, out, mesh_format, detector))
        except (ValueError, OSError, cv2.error) as error:
            results.append(Failure(str(path), str(error)))
    return results


def _reconstruct_one(path, encoder, decoder, face, names, table, box, scheme, margin, out: Path,
                     mesh_format: str, detector: str | None) -> Reconstruction:
    """One image: box (given or detected), crop, network, mesh in image pixels, files."""
    import cv2
    import torch
    import trimesh

    from .data import to_network_image
    from .decoder import rotation_to_euler

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"{path}: not a readable image")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if box is not None:
        face_box = crop_box = tuple(map(float, box))
    else:
        found = detect_faces(rgb, detector)
        if not found:
            raise ValueError(f"{path}: no face found; give the box with --box x0,y0,x1,y1")
        face_box, crop_box = found[0].box, found[0].landmark_box
    m = box_to_input_affine(crop_box, margin)
    crop = cv2.warpAffine(rgb, m, (OUTPUT_SIZE, OUTPUT_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)
    with torch.no_grad():
        p = encoder(torch.as_tensor(to_network_image(crop))[None])
        mesh = decoder.mesh(p)[0].numpy().astype(np.float64)
    back = invert(m)
    scale = float(np.sqrt(abs(np.linalg.det(back[:, :2]))))
    # the decoder's depth is towards the viewer; the mesh file keeps the right-handed frame (z away
    # from the viewer), in which the model's triangle winding gives outward normals
    verts = np.column_stack([mesh[:, :2] @ back[:, :2].T + back[:, 2], -mesh[:, 2] * scale])
    lms = {}
    for i, name in enumerate(names):
        key = name if name is not None else f"point_{i}"
        lms[key] = verts[table[name], :2].round(3).tolist() if name in table else None
    angles = rotation_to_euler(decoder.rotation(p)[0].numpy())
    stem = out / Path(path).stem
    mesh_path = stem.with_suffix("." + mesh_format)
    trimesh.Trimesh(verts, face.triangles, process=False).export(str(mesh_path))
    overlay = bgr.copy()
    for q in verts[:: max(1, len(verts) // 2000), :2]:
        cv2.circle(overlay, (int(round(q[0])), int(round(q[1]))), 1, (200, 160, 60), -1)
    for q in lms.values():
        if q is not None:
            cv2.circle(overlay, (int(round(q[0])), int(round(q[1]))), 3, (0, 0, 255), -1)
    x0, y0, x1, y1 = map(int, map(round, face_box))
    cv2.rectangle(overlay, (x0, y0), (x1, y1), (0, 255, 0), 1)
    cv2.imwrite(str(stem) + "_overlay.png", overlay)
    face_box4 = (float(face_box[0]), float(face_box[1]), float(face_box[2]), float(face_box[3]))
    rec = Reconstruction(str(path), face_box4, lms, angles,
                         [str(mesh_path), str(stem) + "_overlay.png", str(stem.with_suffix(".json"))])
    stem.with_suffix(".json").write_text(json.dumps(
        {"image": rec.image, "box": rec.box, "scheme": scheme or "trained landmarks",
         "yaw_pitch_roll_degrees": rec.yaw_pitch_roll, "landmarks": rec.landmarks}, indent=1))
    return rec
