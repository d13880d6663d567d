"""Training loader speed: samples per CPU-second of the trainer's dataset on an HDF5 file and a Parquet set
of the same faces, without and with the training augmentation, beside a bare read of the same rows; then,
for every preset, the time of a training step fed by the real loader over the same step fed from batches
already in memory (after a warm-up block, in alternating blocks: see ``step_ratio``).

    python bench/loader.py --shards real.h5 --parquet real.parquet --model MODEL.npz [--batches 40]

Throughput is measured in one process (no workers) with one OpenCV thread, as a loader worker has, on
draws from the balanced sampler over all rows of the shards; a batch counts from the draws to the network
input (uint8 crops read and warped, then jittered and normalised on the CPU, the training device here);
"loader alone" leaves out that last part (what the DataLoader workers do). "bare read" is the same rows'
images read row by row through the shard set's own reader (``get_batch([row], ("images",))``), nothing
else. Prints markdown tables; the numbers go to docs/benchmarks.md ("Training loader").
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from dataclasses import replace

import numpy as np


def per_cpu_second(fn, batches: list, batch_size: int) -> float:
    """Samples per CPU-second of ``fn(batch)`` over ``batches`` (after one warm-up batch)."""
    fn(batches[0])
    start = time.process_time()
    for keys in batches:
        fn(keys)
    return len(batches) * batch_size / (time.process_time() - start)


def throughput_rows(path: str, batch_size: int, count: int, seed: int = 0) -> list[tuple[str, str, float]]:
    """(format, what, samples per CPU-second) of one shard set."""
    import torch

    from trainer.augment import AugmentConfig
    from trainer.augment_device import network_input
    from trainer.data import ShardDataset, mirror_permutation, open_shard_set, source_codes
    from trainer.sampler import BalancedSampler

    shards = open_shard_set(path)
    rows = np.arange(len(shards))
    codes = source_codes(shards.meta()["source"], shards.source_names)
    wanted = (count + 1) * batch_size  # one epoch holds them all, whatever the smallest source
    sampler = BalancedSampler(codes, seed=seed, per_source=-(-wanted // len(np.unique(codes))))
    draws = list(itertools.islice(iter(sampler), wanted))
    if len(draws) < wanted:
        raise SystemExit(f"{path}: the sampler drew {len(draws)} of the {wanted} samples asked for")
    batches = [draws[i * batch_size:(i + 1) * batch_size] for i in range(count + 1)]
    mirror = mirror_permutation(shards.landmark_names)
    plain = ShardDataset(path, rows, None, mirror)
    augmented = ShardDataset(path, rows, AugmentConfig(), mirror)
    plain.small_fields(), augmented.small_fields()  # once per process, as in training

    def bare(keys):
        for p, _ in keys:
            shards.get_batch([rows[p]], ("images",))

    def loader(dataset, photometric):
        def run(keys):
            b = dataset.load_batch(keys)
            network_input(torch.from_numpy(b["image"]), torch.from_numpy(b["jitter"]) if photometric else None)
        return run

    import cv2

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # as in a DataLoader worker (trainer.data.worker_lifeline)
    fmt = shards.format
    rows_out = [(fmt, "bare read, row by row", per_cpu_second(bare, batches, batch_size)),
            (fmt, "loader alone, no augmentation", per_cpu_second(plain.load_batch, batches, batch_size)),
            (fmt, "loader alone, training augmentation", per_cpu_second(augmented.load_batch, batches, batch_size)),
            (fmt, "loader + normalise, no augmentation", per_cpu_second(loader(plain, False), batches, batch_size)),
            (fmt, "loader + jitter + normalise, training augmentation",
             per_cpu_second(loader(augmented, True), batches, batch_size))]
    cv2.setNumThreads(threads)
    return rows_out


def step_ratio(cfg, steps: int, rounds: int = 2) -> tuple[float, float]:
    """(real-loader step, in-memory step) median wall seconds of one preset.

    The first steps of a run are slower than later ones (allocator and autograd caches warming:
    measured 3.08 s against 2.90 s for the same in-memory steps of the defaults preset, one
    block after the other), so a block of ``steps`` untimed steps runs first, and then the two
    sides alternate in ``rounds`` blocks of ``steps`` each, so that neither side gets only the
    early or only the late steps.
    """
    import torch

    from trainer.loop import Training, resolve_options

    cfg, _, _ = resolve_options(cfg)
    run = Training(cfg)
    run.encoder.train()

    def sync() -> None:
        if run.device.type == "cuda":
            torch.cuda.synchronize()

    def timed_real() -> list[float]:
        times, it = [], iter(run.loader())
        for _ in range(steps + 2):
            t = time.perf_counter()
            run.step(next(it))
            sync()
            times.append(time.perf_counter() - t)
        del it
        return times[2:]  # the first two wait for the workers to start

    def timed_memory() -> list[float]:
        it = iter(run.loader())
        memory = [run.prepare(next(it)) for _ in range(steps)]
        del it
        times = []
        for prepared in memory:
            t = time.perf_counter()
            run.optimise(*prepared)
            sync()
            times.append(time.perf_counter() - t)
        return times

    timed_memory()  # warm-up, not counted
    real: list[float] = []
    memory: list[float] = []
    for _ in range(rounds):
        real += timed_real()
        memory += timed_memory()
    return statistics.median(real), statistics.median(memory)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", required=True, help="HDF5 shard file")
    ap.add_argument("--parquet", help="Parquet shard set of the same faces")
    ap.add_argument("--model", required=True, help="face model file (npz) for the step timing")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--batches", type=int, default=40, help="batches per throughput figure")
    ap.add_argument("--steps", type=int, default=8, help="steps per block (see step_ratio)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating real/in-memory blocks per preset")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the training process")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()

    import cv2
    import torch

    from trainer.config import PRESETS, TrainConfig, preset_config

    cv2.setNumThreads(1)
    torch.set_num_threads(args.threads)
    print("| format | what | samples per CPU-second |\n|---|---|---|")
    for path in [args.shards] + ([args.parquet] if args.parquet else []):
        for fmt, what, rate in throughput_rows(path, args.batch_size, args.batches):
            print(f"| {fmt} | {what} | {rate:,.0f} |", flush=True)
    print("\n| preset | batch | workers | real-loader step s | in-memory step s | ratio |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as out:
        common = dict(shards=args.shards, model=args.model, out=out, progress=False, tensorboard=False,
                      val_split="", steps=10_000, device=args.device)
        presets = {"defaults": TrainConfig(**common)}
        presets.update({name: preset_config(name, **common) for name in PRESETS})
        for name, cfg in presets.items():
            cfg = replace(cfg, out=f"{out}/{name}")
            real, memory = step_ratio(cfg, args.steps, args.rounds)
            print(f"| {name} | {cfg.batch_size} | {cfg.workers} | {real:.4f} | {memory:.4f} | {real / memory:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
