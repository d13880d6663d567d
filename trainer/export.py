"""Export of encoder + decoder as one graph that needs neither the Python model code nor the face model
file: the decoder's bases are constants of the graph. Both formats come from ``torch.export`` (the
graph capture that replaces TorchScript, deprecated in this torch): ONNX through the torch.export-based
exporter (``dynamo=True``, onnxscript), and the ``.pt2`` program of ``torch.export.save``. Outputs:
``points`` (B,V,2) landmarks or (B,N,3) mesh in the 128 input frame, and ``pose`` (B,6); the batch size
is dynamic. The graph is the folded network (:mod:`.fold`: one fully connected layer after the trunk);
each export is loaded back and checked against the unfolded eager model (ONNX through onnxruntime).
An int8 ONNX graph (:mod:`.quantize`) can be written beside the float one, with its NME change."""
from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .quantize import CALIBRATION_FACES, CALIBRATION_SPLIT, TEST_SPLIT

FORMATS = ("pt2", "onnx")
ONNX_OPSET = 18


def build_from_checkpoint(checkpoint: str, model_path: str | None = None, full_mesh: bool = False,
                          landmark_names: Sequence[str] | None = None, vertex_table: str | None = None):
    """(encoder, decoder, names, face model or None, checkpoint) rebuilt from a training checkpoint.

    Landmarks: the names given (from ``vertex_table`` or the model's table), else those the network
    was trained on. The trained landmarks decode from the checkpoint alone; the full mesh, another
    vertex table or ``model_path`` need the face model file (checked against the checkpoint's)."""
    from . import components as C
    from .checkpoint import load_checkpoint

    ck = load_checkpoint(checkpoint, "CHECKPOINT")
    source = C.DecoderSource.of(ck, checkpoint, model_path, vertex_table,
                                full_mesh=full_mesh or landmark_names is not None)
    trained = list(ck["decoder"]["names"])
    if landmark_names is not None:
        table = source.vertex_map  # the vertex table's (given) or the trained landmarks', on the full model
        names = [n for n in landmark_names if n in table]
        verts = [table[n] for n in names]
    else:
        names = trained
        verts = [source.vertex_map[n] for n in names]
    encoder, _ = C.checkpoint_encoder(ck, checkpoint)
    decoder = source.decoder(np.asarray(verts, np.int64), full_mesh=full_mesh)
    return encoder, decoder, names, source.face, ck


class FaceNet:
    """Factory of the exported module (a class so torch is imported lazily)."""

    @staticmethod
    def make(encoder: Any, decoder: Any, output: str = "landmarks"):
        import torch

        class _FaceNet(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder, self.decoder, self.output = encoder, decoder, output

            def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                p = self.encoder(image)
                pts = self.decoder.mesh(p) if self.output == "mesh" else self.decoder.landmarks(p)
                return pts, p.pose

        return _FaceNet().eval()


@dataclass
class Int8Options:
    """``--int8``: calibrate on ``faces`` crops of split ``split`` of ``shards``; measure the NME change
    on split ``test_split`` of ``test_shards`` (default: ``shards``)."""

    shards: str
    split: str = CALIBRATION_SPLIT
    faces: int = CALIBRATION_FACES
    test_shards: str | None = None
    test_split: str = TEST_SPLIT


@dataclass
class ExportReport:
    files: list[str]
    max_abs_diff: dict[str, float]
    int8: Any = None  # quantize.NMEChange when an int8 graph was written


def _contiguous_buffers(module: Any) -> None:
    """Make every buffer contiguous: a strided view (e.g. NumPy's gather on a middle axis) would be
    saved by ``torch.export.save`` with a warning about an incomplete tensor."""
    for m in module.modules():
        for key, buf in m._buffers.items():
            if buf is not None and not buf.is_contiguous():
                m._buffers[key] = buf.contiguous()


@contextmanager
def _quiet_exporters() -> Iterator[None]:
    """Silence what the exporters say about themselves rather than about this graph: the ONNX
    exporter's notes on torchvision operators it skips (torchvision is not used here) and a
    deprecation inside ``torch.export.load``'s own unpickling of tree specs."""
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
            yield
    finally:
        onnx_log.setLevel(level)


def _exported_program(net: Any, x: Any):
    """``torch.export`` of the network with a dynamic batch dimension."""
    import torch

    _contiguous_buffers(net)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with torch.no_grad():
        return torch.export.export(net, (x,), dynamic_shapes=({0: batch},), strict=False)


def export(checkpoint: str, out_dir: str, formats: Sequence[str] = FORMATS, output: str = "landmarks",
           model_path: str | None = None, batch: int = 2, tolerance: float = 1e-3,
           int8: Int8Options | None = None) -> ExportReport:
    """Write ``facenet_<output>.pt2`` / ``.onnx`` (+ ``.json`` with landmark names and conventions) of the
    folded network and check each, loaded back, against the unfolded eager model on random input of
    another batch size than the traced one; raises if a difference exceeds ``tolerance`` px. With
    ``int8``, also ``facenet_landmarks.int8.onnx`` and its NME change (:mod:`.quantize`)."""
    import torch

    from .fold import FoldedFaceNet

    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown export format {', '.join(unknown)}; choose from {', '.join(FORMATS)}", "--format")
    if int8 is not None and (output != "landmarks" or "onnx" not in formats):
        raise InputError("the int8 graph is the ONNX landmark network: use --output landmarks and an ONNX "
                         "format", "--int8")
    encoder, decoder, names, _, ck = build_from_checkpoint(checkpoint, model_path, full_mesh=output == "mesh")
    images = None
    if int8 is not None:  # the shards are read before anything is written: a bad one stops the export
        from .quantize import calibration_images, test_rows

        test_rows(int8.test_shards or int8.shards, int8.test_split, "--int8-test" if int8.test_shards else "--int8")
        images = calibration_images(int8.shards, int8.split, int8.faces)
    reference = FaceNet.make(encoder, decoder, output)
    net = FoldedFaceNet(encoder, decoder, output)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder", "--out")
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, 128, 128, generator=gen)
    check = torch.randn(batch + 1, 3, 128, 128, generator=gen)  # another batch size: the batch is dynamic
    with torch.no_grad():
        ref = [t.numpy() for t in reference(check)]
    with _quiet_exporters():
        files, diffs = _write(net, x, check, ref, out / f"facenet_{output}", formats)
    stem = out / f"facenet_{output}"
    info = {"input": "RGB (B,3,128,128), (pixel - 127.5) / 128", "output": output,
            "points": "128-frame pixels (x right, y down); mesh z in the same scale, towards the viewer",
            "pose": "[log scale, rotation vector (3), translation (2)], see docs/trainer.md",
            "landmark_names": names if output == "landmarks" else None, "encoder": ck["encoder"],
            "graph": "trunk, one fully connected layer to pose + shape (folded), pose projection"}
    bad = {k: v for k, v in diffs.items() if v > tolerance}
    if bad:
        raise RuntimeError(f"exported graph differs from the eager model: {bad}")
    change = None
    if int8 is not None and images is not None:
        from .quantize import nme_change, quantize

        int8_path = quantize(stem.with_suffix(".onnx"), stem.with_suffix(".int8.onnx"), images)
        files.append(str(int8_path))
        change = nme_change(stem.with_suffix(".onnx"), int8_path, names, int8.test_shards or int8.shards,
                            int8.test_split)
        info["int8"] = {"file": int8_path.name, "calibration": f"{len(images)} faces of split {int8.split} of "
                        f"{int8.shards}", "nme": change.describe()}
    stem.with_suffix(".json").write_text(json.dumps(info, indent=1))
    files.append(str(stem.with_suffix(".json")))
    return ExportReport(files, diffs, change)


def save_onnx(program: Any, path: Path, output_names: Sequence[str]) -> Path:
    """The ONNX file of an exported program (input ``image``), as every export writes it."""
    import torch

    onnx_program = torch.onnx.export(program, input_names=["image"], output_names=list(output_names),
                                     opset_version=ONNX_OPSET, dynamo=True, verbose=False)
    if onnx_program is None:  # the dynamo exporter always returns a program; None is the legacy path's
        raise RuntimeError(f"{path}: torch.onnx.export returned no program")
    onnx_program.save(str(path))
    return path


def onnx_export(net: Any, example: Any, path: Path, output_names: Sequence[str]) -> Path:
    """``net`` (dynamic batch, traced on ``example``) as an ONNX file, the way ``train export`` writes it
    (``bench/infer.py`` exports its reference network with it)."""
    with _quiet_exporters():
        return save_onnx(_exported_program(net, example), path, output_names)


def _write(net: Any, x: Any, check: Any, ref: list, stem: Path, formats: Sequence[str]
           ) -> tuple[list[str], dict[str, float]]:
    """Export ``net`` (traced on ``x``) in ``formats``, load each back and compare it on ``check``."""
    import torch

    program = _exported_program(net, x)
    files, diffs = [], {}
    if "pt2" in formats:
        path = stem.with_suffix(".pt2")
        torch.export.save(program, str(path))
        loaded = torch.export.load(str(path)).module()
        with torch.no_grad():
            got = [t.numpy() for t in loaded(check)]
        diffs["pt2"] = max(float(np.abs(a - b).max()) for a, b in zip(ref, got, strict=False))
        files.append(str(path))
    if "onnx" in formats:
        import onnxruntime as ort

        path = save_onnx(program, stem.with_suffix(".onnx"), ["points", "pose"])
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = sess.run(None, {sess.get_inputs()[0].name: check.numpy()})
        diffs["onnx"] = max(float(np.abs(a - b).max()) for a, b in zip(ref, got, strict=False))
        files.append(str(path))
    return files, diffs
