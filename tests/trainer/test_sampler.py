import numpy as np

from trainer.sampler import BalancedSampler


def test_each_source_gets_the_smallest_sources_count():
    sources = np.array([0] * 90 + [1] * 10 + [2] * 25)
    s = BalancedSampler(sources, seed=3)
    plan = s.plan()
    assert np.bincount(sources[plan]).tolist() == [10, 10, 10]
    assert len(set(plan.tolist())) == 30  # sub-sampled without repeats
    assert s.shares(["a", "b", "c"]) == {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}
    s.set_epoch(1)
    assert not np.array_equal(s.plan(), plan)  # a new random subset each epoch


def test_quota_above_a_source_size_repeats_it():
    sources = np.array([0] * 5 + [1] * 50)
    plan = BalancedSampler(sources, per_source=12).plan()
    assert np.bincount(sources[plan]).tolist() == [12, 12]


def test_resume_continues_the_same_draws_with_the_same_seeds():
    sources = np.array([0] * 40 + [1] * 20)
    a = BalancedSampler(sources, seed=5)
    full = list(a)
    b = BalancedSampler(sources, seed=5)
    b.advance(7)
    c = BalancedSampler(sources, seed=0)
    c.load_state_dict(b.state_dict())
    assert list(c) == full[7:]


def test_ranks_split_one_plan():
    sources = np.array([0] * 33 + [1] * 33)
    r0, r1 = BalancedSampler(sources, 1, rank=0, world_size=2), BalancedSampler(sources, 1, rank=1, world_size=2)
    d0, d1 = list(r0), list(r1)
    assert len(d0) == len(d1) == 33
    assert sorted(i for i, _ in d0 + d1) == sorted(r0.plan().tolist())
