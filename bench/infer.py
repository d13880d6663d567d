"""Inference speed on CPU: batch-1 latency and batch-64 throughput of the encoder (torch eager and ONNX
Runtime), with the decoder's time shown apart (landmarks only and full mesh).

    python bench/infer.py --model MODEL.npz [--checkpoint CKPT] [--width 1.0] [--threads N]

Without a checkpoint the network has random weights (speed does not depend on them). Prints a markdown
table; numbers go to docs/benchmarks.md ("inference").
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def timed(fn, repeats: int, warmup: int = 3) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="face model file (npz)")
    ap.add_argument("--checkpoint", help="training checkpoint (default: random weights)")
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--kc", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0, help="torch/ORT threads (0: library default)")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()

    import onnxruntime as ort
    import torch

    from trainer import components as C
    from trainer.export import FaceNet
    from trainer.network import EncoderConfig, count_macs, count_parameters

    if args.threads:
        torch.set_num_threads(args.threads)
    face = C.load_face_model(args.model)
    n = face.mean.shape[0]
    if args.checkpoint:
        from trainer.export import build_from_checkpoint

        encoder, decoder, *_ = build_from_checkpoint(args.checkpoint, args.model, full_mesh=True)
    else:
        cfg = EncoderConfig(face.id_basis.shape[0], face.exp_basis.shape[0], args.kc, args.width)
        encoder = C.build_encoder(cfg).eval()
        verts = np.linspace(0, n - 1, 68).astype(np.int64)
        decoder = C.build_decoder(face, verts, args.kc, C.compute_harmonics(face, args.kc)[0], full_mesh=True)
    encoder.eval()
    rows = []
    with torch.no_grad():
        for batch in (1, 64):
            x = torch.randn(batch, 3, 128, 128)
            reps = args.repeats if batch == 1 else max(3, args.repeats // 4)
            t_enc = timed(lambda: encoder(x), reps)
            p = encoder(x)
            t_lm = timed(lambda: decoder.landmarks(p), reps)
            t_mesh = timed(lambda: decoder.mesh(p), reps)
            rows.append(("torch eager", batch, t_enc, t_lm, t_mesh))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "enc.onnx"
            net = FaceNet.make(encoder, decoder, "landmarks")
            torch.onnx.export(net, (torch.randn(1, 3, 128, 128),), str(path), input_names=["image"],
                              output_names=["points", "pose"], dynamic_axes={"image": {0: "b"}},
                              opset_version=17, dynamo=False)
            so = ort.SessionOptions()
            if args.threads:
                so.intra_op_num_threads = args.threads
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
            for batch in (1, 64):
                x = np.random.default_rng(0).normal(size=(batch, 3, 128, 128)).astype(np.float32)
                reps = args.repeats if batch == 1 else max(3, args.repeats // 4)
                t = timed(lambda: sess.run(None, {"image": x}), reps)
                rows.append(("onnxruntime (encoder + landmark decoder)", batch, t, float("nan"), float("nan")))
    print(f"encoder width {encoder.config.width}: {count_parameters(encoder) / 1e6:.2f} M parameters, "
          f"{count_macs(encoder) / 1e6:.1f} M MACs; model {face.name}, {n} vertices; "
          f"threads {torch.get_num_threads()}\n")
    print("| runtime | batch | network ms/batch | images/s | decoder landmarks ms | decoder full mesh ms |")
    print("|---|---|---|---|---|---|")
    for name, b, t, tl, tm in rows:
        fmt = (lambda v: "–" if np.isnan(v) else f"{v * 1e3:.2f}")
        print(f"| {name} | {b} | {t * 1e3:.2f} | {b / t:.0f} | {fmt(tl)} | {fmt(tm)} |")


if __name__ == "__main__":
    main()
