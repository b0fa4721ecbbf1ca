"""Server-side assignors: every partition once, balanced within one partition per member, sticky."""

from __future__ import annotations

import random

import pytest

from chronik.broker.assignors import ASSIGNORS, range_, uniform


def _counts(a):
    return {m: sum(len(ps) for ps in tps.values()) for m, tps in a.items()}


def _check_complete(a, subs, parts):
    seen = set()
    for m, tps in a.items():
        for t, ps in tps.items():
            assert t in subs[m]
            for p in ps:
                assert (t, p) not in seen
                seen.add((t, p))
    wanted = {(t, p) for t in {t for s in subs.values() for t in s} for p in range(parts.get(t, 0))}
    assert seen == wanted


@pytest.mark.parametrize("name", sorted(ASSIGNORS))
@pytest.mark.parametrize("seed", range(20))
def test_balanced_within_one_for_one_topic(name, seed):
    rnd = random.Random(seed)
    members = [f"m{i}" for i in range(rnd.randint(1, 12))]
    parts = {"t": rnd.randint(0, 40)}
    subs = {m: {"t"} for m in members}
    a = ASSIGNORS[name](subs, parts, {})
    _check_complete(a, subs, parts)
    c = _counts(a)
    assert max(c.values()) - min(c.values()) <= 1


@pytest.mark.parametrize("seed", range(20))
def test_uniform_balanced_with_several_topics_and_sticky(seed):
    rnd = random.Random(seed)
    parts = {f"t{i}": rnd.randint(1, 10) for i in range(rnd.randint(1, 5))}
    members = [f"m{i}" for i in range(rnd.randint(1, 8))]
    subs = {m: set(parts) for m in members}
    a = uniform(subs, parts, {})
    _check_complete(a, subs, parts)
    c = _counts(a)
    assert max(c.values()) - min(c.values()) <= 1
    # One more member: only what it needs moves; everybody else keeps the rest.
    subs2 = {**subs, "new": set(parts)}
    b = uniform(subs2, parts, a)
    _check_complete(b, subs2, parts)
    c2 = _counts(b)
    assert max(c2.values()) - min(c2.values()) <= 1
    moved = sum(len(ps - b[m].get(t, set())) for m, tps in a.items() for t, ps in tps.items())
    assert moved == c2["new"]


def test_uniform_respects_heterogeneous_subscriptions():
    parts = {"a": 4, "b": 2}
    subs = {"x": {"a"}, "y": {"a", "b"}, "z": {"b"}}
    r = uniform(subs, parts, {})
    _check_complete(r, subs, parts)
    assert max(_counts(r).values()) - min(_counts(r).values()) <= 1


def test_range_gives_contiguous_ranges_in_member_order():
    r = range_({"b": {"t"}, "a": {"t"}, "c": {"t"}}, {"t": 7}, {})
    assert r == {"a": {"t": {0, 1, 2}}, "b": {"t": {3, 4}}, "c": {"t": {5, 6}}}
