"""Sampling helpers for the generator: pure Python and deterministic given the ``random.Random`` passed in."""

from __future__ import annotations

import math
import random
from bisect import bisect
from itertools import accumulate


def poisson(rng: random.Random, mean: float) -> int:
    """Poisson sample; normal approximation above 60 (fast for the heavy tail)."""
    if mean <= 0:
        return 0
    if mean > 60:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def neg_binomial(rng: random.Random, mean: float, shape: float = 2.0) -> int:
    """Over-dispersed count (gamma–Poisson): year-to-year volumes jump more than Poisson."""
    if mean <= 0:
        return 0
    return poisson(rng, rng.gammavariate(shape, mean / shape))


def binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    if n < 40:
        return sum(1 for _ in range(n) if rng.random() < p)
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    return min(n, max(0, round(rng.gauss(mean, sd))))


def multinomial(rng: random.Random, n: int, weights: list[float]) -> list[int]:
    """Split ``n`` into len(weights) counts."""
    out = [0] * len(weights)
    if n <= 0:
        return out
    total = sum(weights)
    if n < 60:
        cum = list(accumulate(weights))
        for _ in range(n):
            out[min(bisect(cum, rng.random() * total), len(weights) - 1)] += 1
        return out
    remaining, rest = n, total
    for i, w in enumerate(weights[:-1]):
        k = binomial(rng, remaining, w / rest if rest > 0 else 0)
        out[i] = k
        remaining -= k
        rest -= w
        if remaining <= 0:
            break
    out[-1] += max(remaining, 0)
    return out
