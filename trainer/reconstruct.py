"""``train reconstruct IMAGE…``: face box (given, or from a face detector) → square crop as in
the fusion stage (box side × (1 + 2·margin)) → network → landmarks of any scheme, pose angles, the mesh
(.obj/.ply through trimesh, image pixel frame: x right, y down, z away from the viewer) and an overlay
PNG."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .augment import OUTPUT_SIZE


class NoDetector(ValueError):
    """No face detector is available and no box was given."""


def detect_faces(image_rgb: np.ndarray, detector: str | None = None
                 ) -> list[tuple[float, float, float, float]]:
    """Face boxes (x0, y0, x1, y1), largest first.

    ``detector``: a YuNet ONNX model (OpenCV's ``FaceDetectorYN``, e.g.
    ``face_detection_yunet_2023mar.onnx`` of the OpenCV model zoo). Without it, OpenCV's bundled
    frontal-face Haar cascade, which OpenCV 4 wheels carry and OpenCV 5 wheels no longer do:
    then :class:`NoDetector` says to give a box or a detector model.
    """
    import cv2

    if detector is not None:
        if not Path(detector).is_file():
            raise NoDetector(f"{detector}: face detector model not found")
        height, width = image_rgb.shape[:2]
        yunet = cv2.FaceDetectorYN.create(str(detector), "", (width, height), 0.6, 0.3, 50)
        _, found = yunet.detect(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
        rows = [] if found is None else found[:, :4]
    else:
        xml = Path(getattr(getattr(cv2, "data", None), "haarcascades", "") or ".",
                   "haarcascade_frontalface_default.xml")
        if not hasattr(cv2, "CascadeClassifier") or not xml.is_file():
            raise NoDetector(f"OpenCV {cv2.__version__} has no bundled Haar cascade: give the face "
                             f"box with --box x0,y0,x1,y1 or a YuNet model with --detector PATH")
        cascade = cv2.CascadeClassifier(str(xml))
        grey = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
        rows = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
    boxes = [(float(x), float(y), float(x + w), float(y + h)) for x, y, w, h in rows]
    return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))


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
    from landmark_fusion.vocabulary import load_scheme

    return list(load_scheme(scheme).index_to_name)


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
    from tqdm import tqdm

    from . import components as C
    from .export import build_from_checkpoint

    encoder, decoder, trained, face, ck = build_from_checkpoint(checkpoint, model_path, full_mesh=True)
    names = scheme_names(scheme, trained)
    table = C.load_vertex_map(vertex_table, face) if (vertex_table or scheme) else dict(
        zip(trained, decoder.landmark_vertices.tolist()))
    margin = ck.get("crop_margin", 0.25) if margin is None else margin
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results: list[Reconstruction | Failure] = []
    for path in tqdm(images, desc="reconstruct", unit="image", disable=not progress):
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
    face_box = tuple(box) if box is not None else (detect_faces(rgb, detector) or [None])[0]
    if face_box is None:
        raise ValueError(f"{path}: no face found; give the box with --box x0,y0,x1,y1")
    m = box_to_input_affine(face_box, margin)
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
    rec = Reconstruction(str(path), tuple(map(float, face_box)), lms, angles,
                         [str(mesh_path), str(stem) + "_overlay.png", str(stem.with_suffix(".json"))])
    stem.with_suffix(".json").write_text(json.dumps(
        {"image": rec.image, "box": rec.box, "scheme": scheme or "trained landmarks",
         "yaw_pitch_roll_degrees": rec.yaw_pitch_roll, "landmarks": rec.landmarks}, indent=1))
    return rec
