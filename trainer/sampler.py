"""Balanced multi-source sampler (§4.1): each epoch draws about equally from every source, sub-sampling
the larger ones at random (and repeating a source only when a quota larger than it is asked for).

Every draw carries its own seed, derived from (seed, epoch, position), which the dataset uses for the
augmentation of that draw: the sequence of samples *and* their augmentations depends only on the sampler
state, not on worker count or process, so ``--resume`` continues the same trajectory. In distributed
training each rank takes every ``world_size``-th draw of the same epoch plan.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np


def draw_seed(seed: int, epoch: int, position: int) -> int:
    """Seed of one draw (a 32-bit integer)."""
    return int(np.random.SeedSequence([seed, epoch, position]).generate_state(1)[0])


class BalancedSampler:
    """Yields ``(item, seed)`` pairs; ``item`` indexes the training selection whose source codes are
    ``sources``. ``per_source``: draws per source per epoch (default: the smallest source's size);
    ``balanced=False`` gives a plain shuffle of everything."""

    def __init__(self, sources: np.ndarray, seed: int = 0, per_source: int | None = None,
                 balanced: bool = True, rank: int = 0, world_size: int = 1) -> None:
        self.sources = np.asarray(sources)
        if self.sources.size == 0:
            raise ValueError("no samples to draw from")
        self.seed, self.per_source, self.balanced = int(seed), per_source, balanced
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.consumed = 0  # draws of the current epoch already used by this rank
        self._plan_cache: tuple[int, np.ndarray] | None = None

    def plan(self, epoch: int | None = None) -> np.ndarray:
        """All draws of an epoch (every rank), as item indices, in order."""
        epoch = self.epoch if epoch is None else epoch
        if self._plan_cache is not None and self._plan_cache[0] == epoch:
            return self._plan_cache[1]
        rng = np.random.default_rng([self.seed, epoch])
        if not self.balanced:
            plan = rng.permutation(self.sources.size)
        else:
            groups = [np.flatnonzero(self.sources == s) for s in np.unique(self.sources)]
            quota = self.per_source or min(g.size for g in groups)
            parts = []
            for g in groups:
                reps, rest = divmod(quota, g.size)
                parts += [rng.permutation(g) for _ in range(reps)]
                parts.append(rng.choice(g, size=rest, replace=False))
            plan = rng.permutation(np.concatenate(parts))
        plan = plan[: plan.size - plan.size % self.world_size] if self.world_size > 1 else plan
        self._plan_cache = (epoch, plan)
        return plan

    def rank_plan(self) -> np.ndarray:
        """Global positions in the epoch plan drawn by this rank."""
        return np.arange(self.rank, self.plan().size, self.world_size)

    def __len__(self) -> int:
        return max(0, self.rank_plan().size - self.consumed)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        plan = self.plan()
        for pos in self.rank_plan()[self.consumed:]:
            yield int(plan[pos]), draw_seed(self.seed, self.epoch, int(pos))

    def advance(self, n: int) -> None:
        """Record that ``n`` draws of this rank were consumed (called by the loop after each step)."""
        self.consumed += n

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self.consumed = epoch, 0

    def shares(self, names: list[str] | None = None) -> dict[str, float]:
        """Share of each source in this epoch's plan (what the loop logs)."""
        plan = self.plan()
        counts = Counter(self.sources[plan].tolist())
        key = (lambda c: names[c]) if names is not None else str
        return {key(c): counts[c] / plan.size for c in sorted(counts)}

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "consumed": self.consumed, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.seed, self.epoch, self.consumed = int(state["seed"]), int(state["epoch"]), int(state["consumed"])
        self._plan_cache = None
