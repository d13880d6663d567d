"""Int8 export of the landmark network (docs/trainer.md "Export and use"): ONNX Runtime's static
quantization (``onnxruntime.quantization.quantize_static``, QDQ format), weights int8 per output
channel, activations uint8 per tensor with ranges calibrated (min/max) on real crops of a shard set.

Only the trunk (convolutions and their ReLUs) is quantized. The folded last layer (trunk features → pose and landmark
coordinates) and the pose projection stay float: one step of a per-tensor int8 code over the whole
output (pose and coordinates side by side) would be about 0.5 px in the 128 frame, several tenths of an
NME point, for a layer that costs under 1 % of the time.

What the quantization costs is measured, not assumed: :func:`nme_change` runs the float and the int8
graph on the test faces of a shard set and gives both NMEs.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError

if TYPE_CHECKING:  # NumPy is imported where it is used: `train` and `fuse` start without it
    import numpy as np

CALIBRATION_FACES = 256
CALIBRATION_SPLIT = "train"
TEST_SPLIT = "test"
BATCH = 64
# The trunk's operators. With Relu among them its clamp becomes the uint8 range of the convolution's
# output (zero point 0) and the Relu node goes; ONNX Runtime then ran the graph 1.5× (batch 1) and 1.7×
# (batch 64) as fast as with the convolutions alone quantized (one thread, both in one loop).
QUANTIZED_OPS = ["Conv", "Relu"]


def _select(shards_path: str, split: str, option: str) -> np.ndarray:
    """Rows of ``split`` in the shard set, or one message naming the file and the split."""
    from .data import describe_empty, open_shard_set, select_indices

    shards = open_shard_set(shards_path, option)
    rows = select_indices(shards, split, None)
    if rows.size == 0:
        raise InputError(describe_empty(shards, shards_path, split, None), option)
    return rows


def test_rows(shards_path: str, split: str = TEST_SPLIT, option: str = "--int8-test") -> np.ndarray:
    """Rows of the split on which :func:`nme_change` measures."""
    return _select(shards_path, split, option)


def _batches(shards_path: str, rows: np.ndarray, batch: int = BATCH) -> Iterator[dict[str, np.ndarray]]:
    """The faces of ``rows`` as the network sees them in evaluation (no augmentation), in batches."""
    import numpy as np

    from .data import ShardDataset

    dataset = ShardDataset(shards_path, rows)
    for start in range(0, len(rows), batch):
        items = [dataset[i] for i in range(start, min(start + batch, len(rows)))]
        yield {k: np.stack([it[k] for it in items]) for k in items[0]}


def calibration_images(shards_path: str, split: str = CALIBRATION_SPLIT, faces: int = CALIBRATION_FACES,
                       option: str = "--int8") -> np.ndarray:
    """(N,3,128,128) float32 network inputs: ``faces`` crops of ``split`` spread evenly over its rows
    (every source of the set is represented in proportion)."""
    import numpy as np

    rows = _select(shards_path, split, option)
    pick = rows[np.unique(np.linspace(0, rows.size - 1, min(faces, rows.size)).round().astype(np.int64))]
    return np.concatenate([b["image"] for b in _batches(shards_path, pick)]).astype(np.float32)


def _reader(name: str, images: np.ndarray, batch: int = 16):
    """An ONNX Runtime ``CalibrationDataReader`` over fixed images, ``batch`` at a time."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._items = iter([{name: images[i:i + batch]} for i in range(0, len(images), batch)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._items, None)

    return Reader()


def quantize(float_onnx: str | Path, int8_onnx: str | Path, images: np.ndarray) -> Path:
    """Write the int8 graph of ``float_onnx`` to ``int8_onnx``, calibrated on ``images``. The float graph
    first goes through ONNX Runtime's pre-processing (shape inference, graph optimisation), as its
    quantization tool asks."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = Path(int8_onnx)
    prepared, partial = out.with_name(out.name + ".prepared"), out.with_name(out.name + ".partial")
    try:
        quant_pre_process(str(float_onnx), str(prepared))
        name = onnx.load(str(prepared)).graph.input[0].name
        quantize_static(str(prepared), str(partial), _reader(name, images), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=QUANTIZED_OPS, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        partial.replace(out)  # a killed run leaves no complete-looking file
    finally:
        prepared.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return out


@dataclass
class NMEChange:
    """NME (%) of the float and the int8 graph on the same faces (3DDFA's mean of the |yaw| bucket
    means, and the per-face mean)."""

    shards: str
    split: str
    faces: int
    landmarks: int
    float_bucket_mean: float
    int8_bucket_mean: float
    float_face_mean: float
    int8_face_mean: float

    @property
    def change(self) -> float:
        """int8 − float NME points, on 3DDFA's bucket mean (NaN when a |yaw| bucket has no face)."""
        return self.int8_bucket_mean - self.float_bucket_mean

    def describe(self) -> str:
        return (f"int8 NME on {self.faces} faces of {self.shards} (split {self.split}, {self.landmarks} "
                f"landmarks): mean of the |yaw| buckets {self.float_bucket_mean:.3f} % float, "
                f"{self.int8_bucket_mean:.3f} % int8 (change {self.change:+.3f} points); per-face mean "
                f"{self.float_face_mean:.3f} → {self.int8_face_mean:.3f} % "
                f"({self.int8_face_mean - self.float_face_mean:+.3f})")


def nme_change(float_onnx: str | Path, int8_onnx: str | Path, landmark_names: Sequence[str], shards_path: str,
               split: str = TEST_SPLIT, option: str = "--int8-test") -> NMEChange:
    """NME of both graphs on the ``split`` faces of ``shards_path``, on the landmarks the graph outputs
    that the shards have."""
    import numpy as np
    import onnxruntime as ort

    from .data import open_shard_set
    from .evaluate import face_nme, make_row, point_errors

    rows = test_rows(shards_path, split, option)
    shard_names = list(open_shard_set(shards_path, option).landmark_names)
    shared = [n for n in landmark_names if n in shard_names]
    if not shared:
        raise InputError(f"{shards_path}: none of the network's landmarks is in these shards", option)
    out_idx = np.asarray([list(landmark_names).index(n) for n in shared])
    cols = np.asarray([shard_names.index(n) for n in shared])
    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (float_onnx, int8_onnx)]
    preds: list[list[np.ndarray]] = [[], []]
    gt, mask, norm, yaw = [], [], [], []
    for b in _batches(shards_path, rows):
        for i, sess in enumerate(sessions):
            preds[i].append(sess.run(None, {sess.get_inputs()[0].name: b["image"]})[0][:, out_idx])
        gt.append(b["landmarks"][:, cols])
        mask.append(b["mask"][:, cols])
        norm.append(b["norm_size"])
        yaw.append(b["yaw"])
    gt_a, mask_a, norm_a, yaw_a = (np.concatenate(v) for v in (gt, mask, norm, yaw))
    results = []
    for p in preds:
        nme = face_nme(point_errors(np.concatenate(p), gt_a, mask_a, norm_a))
        row = make_row("", "", nme, nme, yaw_a)
        results.append((row.bucket_mean, row.face_mean, row.faces))
    (fb, ff, n), (ib, i_f, _) = results
    return NMEChange(shards_path, split, n, len(shared), fb, ib, ff, i_f)
