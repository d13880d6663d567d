"""Inference speed on CPU, ONNX Runtime with one thread: the exported landmark network (128², the
paper's outputs; unfolded, folded as ``train export`` writes it, and int8) against a reference
MobileNet-V1 1.0 at 120² with 62 outputs (the network size of 3DDFA_V2's MobileNet-V1 model), batch 1
and batch 64; ms per image, images per second and the ratio ours / reference.

    python bench/infer.py --model MODEL.npz [--checkpoint CKPT] [--calibration SHARDS] [--repeats N]

Without a checkpoint our network has random weights (speed does not depend on them): width 1.0,
K_c = 20, 68 landmark vertices. The int8 row needs real crops to calibrate on (``--calibration``, the
``train`` split of a shard set, as ``train export --int8``). Every network is exported as ``train
export`` exports (torch.export, ONNX opset 18) and timed in one loop that takes one run of each in
turn, so that a load that comes and goes on a shared machine falls on all of them alike; the figures are
medians. Prints a markdown table; numbers go to docs/benchmarks.md ("Inference").
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

REFERENCE_INPUT = 120
REFERENCE_OUTPUTS = 62  # 12 pose + 40 shape + 10 expression parameters (3DDFA)

# MobileNet-V1 of Howard et al. 2017 ("MobileNets: Efficient Convolutional Neural Networks for Mobile
# Vision Applications", arXiv:1704.04861), Table 1: a full 3×3 convolution (32 channels, stride 2), then
# depthwise-separable layers given as (pointwise output channels, depthwise stride); each convolution
# is followed by batch normalisation and ReLU; global average pooling; one fully connected layer. The
# table's last depthwise layer reads "s2" on a 7×7 input that stays 7×7: its stride is 1.
HOWARD_TABLE_1: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


class ReferenceMobileNetV1(nn.Module):
    """MobileNet-V1 width 1.0 from Table 1 with a ``outputs``-wide fully connected head."""

    def __init__(self, outputs: int = REFERENCE_OUTPUTS) -> None:
        super().__init__()
        layers, cin = _conv_bn_relu(3, 32, 3, 2), 32
        for cout, stride in HOWARD_TABLE_1:
            layers += _conv_bn_relu(cin, cin, 3, stride, groups=cin)  # depthwise
            layers += _conv_bn_relu(cin, cout, 1, 1)                   # pointwise
            cin = cout
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.fc = nn.Linear(cin, outputs)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(image))


def _randomise_batch_norms(net: nn.Module) -> None:
    """Non-trivial BN statistics, so no runtime can skip them as identities."""
    gen = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)


def our_networks(model: str, checkpoint: str | None, kc: int):
    """(encoder, landmark decoder) from the checkpoint, or random weights at the paper's sizes."""
    from trainer import components as C
    from trainer.network import EncoderConfig

    if checkpoint:
        from trainer.export import build_from_checkpoint

        encoder, decoder, *_ = build_from_checkpoint(checkpoint, model)
        return encoder.eval(), decoder
    face = C.load_face_model(model)
    encoder = C.build_encoder(EncoderConfig(face.id_basis.shape[0], face.exp_basis.shape[0], kc, 1.0)).eval()
    _randomise_batch_norms(encoder)
    verts = np.linspace(0, face.mean.shape[0] - 1, 68).astype(np.int64)
    return encoder, C.build_decoder(face, verts, kc, C.compute_harmonics(face, kc)[0])


def head_outputs(path: Path) -> int:
    """Outputs of the graph's fully connected layers, together (the unfolded head has two)."""
    import onnx

    graph = onnx.load(str(path)).graph
    weights = {t.name: t for t in graph.initializer}
    return sum(int(weights[n.input[1]].dims[0]) for n in graph.node if n.op_type == "Gemm")


def interleaved(sessions: dict[str, tuple], batch: int, repeats: int, warmup: int = 3) -> dict[str, float]:
    """Median seconds per run of each session on a batch of ``batch`` images, one run of each in turn."""
    rng = np.random.default_rng(0)
    feeds = {k: {s.get_inputs()[0].name: rng.normal(size=(batch, 3, size, size)).astype(np.float32)}
             for k, (s, size) in sessions.items()}
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for i in range(warmup + repeats):
        for k, (s, _) in sessions.items():
            t = time.perf_counter()
            s.run(None, feeds[k])
            if i >= warmup:
                times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="face model file (npz)")
    ap.add_argument("--checkpoint", help="training checkpoint (default: random weights)")
    ap.add_argument("--calibration", help="shard set whose --calibration-split calibrates the int8 graph")
    ap.add_argument("--calibration-split", default="train")
    ap.add_argument("--calibration-faces", type=int, default=256)
    ap.add_argument("--kc", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=200, help="timed runs of each network at batch 1 "
                    "(batch 64: a twentieth, at least 5)")
    args = ap.parse_args()

    import onnxruntime as ort

    from trainer.export import FaceNet, onnx_export
    from trainer.fold import FoldedFaceNet
    from trainer.network import INPUT_SIZE

    torch.set_num_threads(1)
    encoder, decoder = our_networks(args.model, args.checkpoint, args.kc)
    reference = ReferenceMobileNetV1().eval()
    _randomise_batch_norms(reference)
    ours_x = torch.randn(2, 3, INPUT_SIZE, INPUT_SIZE)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        files = {
            "ours, unfolded": (onnx_export(FaceNet.make(encoder, decoder), ours_x, out / "unfolded.onnx",
                                           ["points", "pose"]), INPUT_SIZE),
            "ours, folded (train export)": (onnx_export(FoldedFaceNet(encoder, decoder), ours_x,
                                                        out / "folded.onnx", ["points", "pose"]), INPUT_SIZE),
            "reference MobileNet-V1": (onnx_export(reference, torch.randn(2, 3, REFERENCE_INPUT, REFERENCE_INPUT),
                                                   out / "reference.onnx", ["params"]), REFERENCE_INPUT),
        }
        if args.calibration:
            from trainer.quantize import calibration_images, quantize

            images = calibration_images(args.calibration, args.calibration_split, args.calibration_faces,
                                        "--calibration")
            files["ours, int8 (train export --int8)"] = (
                quantize(out / "folded.onnx", out / "folded.int8.onnx", images), INPUT_SIZE)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        sessions = {k: (ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"]), size)
                    for k, (p, size) in files.items()}
        outputs = {k: head_outputs(p) for k, (p, _) in files.items()}
        results = {1: interleaved(sessions, 1, args.repeats),
                   64: interleaved(sessions, 64, max(5, args.repeats // 20))}
    print(f"ONNX Runtime {ort.__version__}, CPU, one thread; medians of {args.repeats} runs at batch 1, "
          f"{max(5, args.repeats // 20)} at batch 64, all networks in turn\n")
    print("| network | input | head outputs | batch | ms/image | images/s | time ours/reference | "
          "throughput ours/reference |")
    print("|---|---|---|---|---|---|---|---|")
    for batch, res in results.items():
        ref = res["reference MobileNet-V1"]
        for k, t in res.items():
            size = sessions[k][1]
            ratio = "–" if k.startswith("reference") else f"{t / ref:.2f}"
            tput = "–" if k.startswith("reference") else f"{ref / t:.2f}"
            print(f"| {k} | {size}² | {outputs[k]} | {batch} | {t * 1e3 / batch:.2f} | {batch / t:.0f} | "
                  f"{ratio} | {tput} |")


if __name__ == "__main__":
    main()
