"""Feasibility counts: determinism, rounding up to a multiple of 10, suppression below 11, the noise's law and
bound, and one answer for every equivalent writing of a criteria (shuffled lists and keys, duplicates)."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from guichet.access import criteria as cr
from guichet.access import feasibility as fz

KEY = fz.noise_key(b"k" * 32)
seeds = st.binary(min_size=32, max_size=32)
counts = st.integers(min_value=0, max_value=10_000_000)
scales = st.sampled_from([0.0, 1.0, 3.0, 5.0, 8.0, 20.0])


@given(counts, seeds, scales)
def test_same_question_same_answer(n: int, seed: bytes, scale: float) -> None:
    assert fz.perturb(n, seed, scale) == fz.perturb(n, seed, scale)


@given(counts, seeds, scales)
def test_shown_counts_are_multiples_of_ten_at_or_above_the_noisy_count(n: int, seed: bytes, scale: float) -> None:
    shown = fz.perturb(n, seed, scale)
    noisy = n + fz.discrete_laplace(seed, scale)
    if shown.persons is None:
        assert shown.shown == "fewer than 11"
        assert n < fz.THRESHOLD or noisy < fz.THRESHOLD
    else:
        assert shown.persons % 10 == 0
        assert noisy <= shown.persons < noisy + 10
        assert shown.persons >= fz.THRESHOLD
        assert abs(shown.persons - n) <= 10 + fz.CLAMP * scale  # "true-ish": within the noise's bound and a step
        assert f"{shown.persons:,}" in shown.shown


@given(st.integers(min_value=0, max_value=10), seeds, scales)
def test_below_eleven_nothing_is_shown(n: int, seed: bytes, scale: float) -> None:
    assert fz.perturb(n, seed, scale) == fz.Feasibility(None, "fewer than 11")


@given(st.integers(min_value=11, max_value=10_000), seeds)
def test_without_noise_the_count_is_only_rounded_up(n: int, seed: bytes) -> None:
    assert fz.perturb(n, seed, 0.0).persons == math.ceil(n / 10) * 10


def test_the_noise_follows_the_discrete_laplace_law() -> None:
    rng = random.Random(7)
    scale, draws = 5.0, 40_000
    found = Counter(fz.discrete_laplace(rng.randbytes(32), scale) for _ in range(draws))
    a = math.exp(-1 / scale)
    for k in (-3, 0, 1, 5):
        expected = (1 - a) / (1 + a) * a ** abs(k)
        assert abs(found[k] / draws - expected) < 0.01, k
    mean = sum(k * c for k, c in found.items()) / draws
    var = sum(k * k * c for k, c in found.items()) / draws - mean ** 2
    assert abs(mean) < 0.15
    assert abs(var - 2 * a / (1 - a) ** 2) / (2 * a / (1 - a) ** 2) < 0.05


def test_the_seed_depends_on_the_criteria_and_the_hub_key() -> None:
    one, other = cr.canonical({"sex": "male"}), cr.canonical({"sex": "female"})
    assert fz.noise_seed(KEY, one) == fz.noise_seed(KEY, one)
    assert fz.noise_seed(KEY, one) != fz.noise_seed(KEY, other)
    assert fz.noise_seed(fz.noise_key(b"x" * 32), one) != fz.noise_seed(KEY, one)
    assert fz.noise_key(b"k" * 32) != b"k" * 32


ATC = st.sampled_from(["A10", "A10BA02", "A10BB", "C10AA05", "J01CA04", "N02BE01"])
ICD = st.sampled_from(["E11", "E119", "I21", "I219", "J189", "E10"])
leaves = st.one_of(
    st.builds(lambda c: {"codes": c, "system": "ATC"}, st.lists(ATC, min_size=1, max_size=4)),
    st.builds(lambda c: {"codes": c, "system": "ICD10"}, st.lists(ICD, min_size=1, max_size=4)),
    st.builds(lambda s: {"sex": s}, st.sampled_from(["male", "female"])),
    st.builds(lambda a: {"age": {"min": a}, "at": "2023-01-01"}, st.integers(0, 100)),
    st.builds(lambda d: {"territory": {"departements": d}}, st.lists(st.sampled_from(["75", "075", "13", "69", "2A"]),
                                                                      min_size=1, max_size=3)),
)
trees = st.recursive(leaves, lambda inner: st.one_of(
    st.builds(lambda c: {"all": c}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda c: {"any": c}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda c: {"not": c}, inner)), max_leaves=8)


def _rewrite(node: Any, rng: random.Random) -> Any:
    """An equivalent writing: lists shuffled, some codes repeated or lower-cased, keys in another order,
    double negations and one-child groups added."""
    if isinstance(node, dict):
        items = list(node.items())
        rng.shuffle(items)
        out = {k: _rewrite(v, rng) for k, v in items}
        if "all" in out or "any" in out:
            key = "all" if "all" in out else "any"
            children = list(out[key])
            if rng.random() < 0.5:
                children.append(children[0])
            rng.shuffle(children)
            out[key] = children
        if "codes" in out:
            codes = list(out["codes"]) + [c.lower() for c in out["codes"] if rng.random() < 0.3]
            rng.shuffle(codes)
            out["codes"] = codes
        wrap = rng.random() if any(k in out for k in cr.KINDS) else 1.0
        if wrap < 0.15:
            return {"not": {"not": out}}
        if wrap < 0.3:
            return {"all": [out]}
        return out
    if isinstance(node, list):
        items = [_rewrite(v, rng) for v in node]
        rng.shuffle(items)
        return items
    return node


@settings(max_examples=150, deadline=None)
@given(trees, st.integers(0, 2**32), counts)
def test_equivalent_writings_get_the_same_answer(tree: dict[str, Any], shuffle: int, n: int) -> None:
    other = _rewrite(json.loads(json.dumps(tree)), random.Random(shuffle))
    text = cr.canonical(tree)
    assert cr.canonical(other) == text
    assert fz.perturb(n, fz.noise_seed(KEY, cr.canonical(other))) == fz.perturb(n, fz.noise_seed(KEY, text))
    assert cr.canonical(json.loads(text)) == text  # the canonical form is its own canonical form
