"""The face detector that ships with the trainer: MediaPipe's BlazeFace short-range model
(``assets/face_detection_short_range.tflite``, 229,714 bytes, Apache License 2.0, taken unchanged from
the ``mediapipe`` 0.10.14 wheel on PyPI, ``mediapipe/modules/face_detection/``; see
``assets/NOTICE.md``), run by OpenCV's TFLite importer. No download at run time.

The model sees a 128×128 picture (RGB scaled to −1…1) and scores 896 fixed anchors: a 16×16 grid with
2 anchors per cell and an 8×8 grid with 6 (strides 8 and 16, anchor centres at cell centres, unit
size). Each anchor regresses a box (x, y, w, h in input pixels relative to its centre) and six
keypoints. These are the model's published settings (MediaPipe ``face_detection_short_range.pbtxt``:
SsdAnchorsCalculator and TensorsToDetectionsCalculator options); the decoding below is written from
them. The model is made for faces that fill a good part of the picture, so the image is searched
whole and in overlapping windows (:data:`WINDOWS`), and overlapping boxes are merged by weighted
non-maximum suppression as MediaPipe does.

Each face comes as a :class:`Detection`: ``box``, a square that contains the face's landmarks, and
``landmark_box``, the estimate of the landmark box the fusion stage crops around (what
``train reconstruct`` crops with). Both are the BlazeFace box moved down by :data:`CENTRE_SHIFT` of its
side and scaled by :data:`FACE_BOX_SCALE` or :data:`LANDMARK_BOX_SCALE`, measured on the 17 annotated
faces of the real AFLW2000-3D, 300W, 300W-LP and FaceWarehouse samples (docs/trainer.md "Face
detection").
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_FILE = Path(__file__).with_name("assets") / "face_detection_short_range.tflite"
INPUT_SIZE = 128
#: (stride, anchors per cell) of the model's output grids
GRIDS = ((8, 2), (16, 6))
MIN_SCORE = 0.5
NMS_IOU = 0.3
#: window sides as fractions of the image's longer side, each searched with 50 % overlap
WINDOWS = (1.0, 0.6, 0.35)
#: the window sizes searched in every image (the smaller ones only when these find no face)
ALWAYS_SEARCHED = 0.6
#: downward shift of the box centre, in detector box sides (landmark boxes reach lower: the chin)
CENTRE_SHIFT = 0.075
#: side of the landmark box in detector box sides (mean of the samples: 0.96, range 0.80-1.23)
LANDMARK_BOX_SCALE = 0.96
#: side of the square that contains every landmark of the face (the samples needed at most 1.40)
FACE_BOX_SCALE = 1.5


@dataclass(frozen=True)
class Detection:
    """One face: ``box`` contains its landmarks, ``landmark_box`` estimates their box (image pixels,
    x0, y0, x1, y1), ``score`` the detector's confidence."""

    box: tuple[float, float, float, float]
    landmark_box: tuple[float, float, float, float]
    score: float


@lru_cache(maxsize=1)
def anchors() -> np.ndarray:
    """(896, 2) anchor centres in 0…1 input coordinates, in the model's output order."""
    centres = []
    for stride, per_cell in GRIDS:
        n = INPUT_SIZE // stride
        for y in range(n):
            for x in range(n):
                centres += [((x + 0.5) / n, (y + 0.5) / n)] * per_cell
    return np.asarray(centres, np.float64)


@lru_cache(maxsize=1)
def _network():
    import cv2

    return cv2.dnn.readNetFromTFLite(str(MODEL_FILE))


def _run(square_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (K, 4) as x0, y0, x1, y1 in 0…1 of the square picture and their scores (K,)."""
    import cv2

    x = cv2.resize(square_rgb, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    blob = (x.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
    net = _network()
    net.setInput(np.ascontiguousarray(blob))
    raw = np.asarray(net.forward("regressors"), np.float64)[0]
    net.setInput(np.ascontiguousarray(blob))
    logits = np.asarray(net.forward("classificators"), np.float64)[0, :, 0]
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100.0, 100.0)))
    keep = scores >= MIN_SCORE
    a = anchors()[keep]
    r = raw[keep] / INPUT_SIZE
    cx, cy = a[:, 0] + r[:, 0], a[:, 1] + r[:, 1]
    w, h = r[:, 2], r[:, 3]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1), scores[keep]


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    lo, hi = np.maximum(box[:2], others[:, :2]), np.minimum(box[2:], others[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    return inter / np.maximum(area(box) + area(others) - inter, 1e-12)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> list[tuple[np.ndarray, float]]:
    """Groups of boxes overlapping the best remaining one by more than ``iou``, each replaced by the
    score-weighted mean of its group; (box, best score) per group, best first."""
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    out = []
    while boxes.shape[0]:
        group = _iou(boxes[0], boxes) > iou
        group[0] = True
        w = scores[group][:, None]
        out.append(((boxes[group] * w).sum(0) / w.sum(), float(scores[0])))
        boxes, scores = boxes[~group], scores[~group]
    return out


def detect(image_rgb: np.ndarray) -> list[Detection]:
    """Faces of an RGB image, largest first."""
    height, width = image_rgb.shape[:2]
    longer = max(height, width)
    boxes, scores = [], []
    for fraction in WINDOWS:
        side = max(1, int(round(longer * fraction)))
        step = max(1, side // 2)
        ys = range(0, max(1, height - side + step), step) if side < height else [0]
        xs = range(0, max(1, width - side + step), step) if side < width else [0]
        for y0 in ys:
            for x0 in xs:
                tile = np.zeros((side, side, 3), np.uint8)  # the window, padded to a square with black
                part = image_rgb[y0:y0 + side, x0:x0 + side]
                tile[:part.shape[0], :part.shape[1]] = part
                b, s = _run(tile)
                if b.size:
                    boxes.append(b * side + np.array([x0, y0, x0, y0]))
                    scores.append(s)
        if boxes and fraction <= ALWAYS_SEARCHED:  # the smallest windows only where no face was found
            break
    if not boxes:
        return []
    merged = weighted_nms(np.concatenate(boxes), np.concatenate(scores))
    faces = [Detection(_square(b, FACE_BOX_SCALE), _square(b, LANDMARK_BOX_SCALE), s) for b, s in merged]
    return sorted(faces, key=lambda f: -(f.box[2] - f.box[0]))


def _square(box: np.ndarray, scale: float) -> tuple[float, float, float, float]:
    """The square of side ``scale`` × the box's longer side about its centre moved down by
    :data:`CENTRE_SHIFT`."""
    x0, y0, x1, y1 = map(float, box)
    side = max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + CENTRE_SHIFT * side
    half = side * scale / 2
    return cx - half, cy - half, cx + half, cy + half
