"""Export of encoder + decoder as one graph (TorchScript and ONNX) that needs neither the Python model
code nor the face model file: the decoder's bases are constants of the graph. Outputs: ``points``
(B,V,2) landmarks or (B,N,3) mesh in the 128 input frame, and ``pose`` (B,6). Each export is checked
against the eager model (ONNX through onnxruntime)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def build_from_checkpoint(checkpoint: str, model_path: str | None = None, full_mesh: bool = False,
                          landmark_names: Sequence[str] | None = None, vertex_table: str | None = None):
    """(encoder, decoder, names, face model) rebuilt from a training checkpoint. Landmarks: the names
    given (from ``vertex_table`` or the model's table), else those the network was trained on."""
    from . import components as C
    from .loop import load_checkpoint
    from .network import EncoderConfig

    ck = load_checkpoint(checkpoint)
    face = C.load_face_model(model_path or ck["model_path"])
    trained = dict(zip([ck["landmark_names"][c] for c in ck["columns"]], ck["vertices"]))
    if landmark_names is not None:
        table = C.load_vertex_map(vertex_table, face) if vertex_table else trained
        names = [n for n in landmark_names if n in table]
        verts = [table[n] for n in names]
    else:
        names, verts = list(trained), list(trained.values())
    enc_cfg = EncoderConfig(**ck["encoder"])
    encoder = C.build_encoder(enc_cfg)
    encoder.load_state_dict(ck["model"])
    encoder.eval()
    decoder = C.build_decoder(face, np.asarray(verts, np.int64), enc_cfg.n_corr,
                              C.compute_harmonics(face, enc_cfg.n_corr)[0], full_mesh=full_mesh)
    return encoder, decoder, names, face, ck


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
class ExportReport:
    files: list[str]
    max_abs_diff: dict[str, float]


def export(checkpoint: str, out_dir: str, formats: Sequence[str] = ("torchscript", "onnx"),
           output: str = "landmarks", model_path: str | None = None, batch: int = 2,
           tolerance: float = 1e-3) -> ExportReport:
    """Write ``facenet_<output>.pt`` / ``.onnx`` (+ ``.json`` with landmark names and conventions) and
    check each against the eager model on random input; raises if a difference exceeds ``tolerance`` px."""
    import torch

    encoder, decoder, names, _, ck = build_from_checkpoint(checkpoint, model_path, full_mesh=output == "mesh")
    net = FaceNet.make(encoder, decoder, output)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    x = torch.randn(batch, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = [t.numpy() for t in net(x)]
    files, diffs = [], {}
    stem = out / f"facenet_{output}"
    if "torchscript" in formats:
        with torch.no_grad():
            traced = torch.jit.trace(net, x, check_trace=False)
        traced.save(str(stem.with_suffix(".pt")))
        loaded = torch.jit.load(str(stem.with_suffix(".pt")))
        with torch.no_grad():
            got = [t.numpy() for t in loaded(x)]
        diffs["torchscript"] = max(float(np.abs(a - b).max()) for a, b in zip(ref, got))
        files.append(str(stem.with_suffix(".pt")))
    if "onnx" in formats:
        import onnxruntime as ort

        path = stem.with_suffix(".onnx")
        with torch.no_grad():
            torch.onnx.export(net, (x,), str(path), input_names=["image"], output_names=["points", "pose"],
                              dynamic_axes={"image": {0: "batch"}, "points": {0: "batch"}, "pose": {0: "batch"}},
                              opset_version=17, dynamo=False)
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"image": x.numpy()})
        diffs["onnx"] = max(float(np.abs(a - b).max()) for a, b in zip(ref, got))
        files.append(str(path))
    info = {"input": "RGB (B,3,128,128), (pixel - 127.5) / 128", "output": output,
            "points": "128-frame pixels (x right, y down); mesh z in the same scale, towards the viewer",
            "pose": "[log scale, rotation vector (3), translation (2)], see docs/trainer.md",
            "landmark_names": names if output == "landmarks" else None, "encoder": ck["encoder"]}
    stem.with_suffix(".json").write_text(json.dumps(info, indent=1))
    files.append(str(stem.with_suffix(".json")))
    bad = {k: v for k, v in diffs.items() if v > tolerance}
    if bad:
        raise RuntimeError(f"exported graph differs from the eager model: {bad}")
    return ExportReport(files, diffs)
