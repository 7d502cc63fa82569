"""Random durations: a :class:`~ccroute.simulation.scenario.Distribution` as a sampler.

A sampler takes the ``random.Random`` to draw from, so that each part of the simulation
keeps its own stream of numbers and a change in one (say, more agents) does not shift
the draws of another (the customers' arrivals).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from ccroute.simulation.scenario import Distribution

Sampler = Callable[[random.Random], float]
"""Draws a duration in seconds."""


def sampler(d: Distribution) -> Sampler:
    """A function drawing from ``d``, clamped to ``[min_seconds, max_seconds]``."""
    lo = d.min_seconds
    hi = d.max_seconds if d.max_seconds is not None else math.inf
    mean = d.mean
    if d.distribution == "never":
        raise ValueError("'never' is not a duration to draw")

    def clamp(x: float) -> float:
        return lo if x < lo else hi if x > hi else x

    if d.distribution == "fixed" or mean == 0.0:
        # A mean of 0 (an agent who answers at once) is always 0, whatever the shape.
        value = clamp(mean)
        return lambda rng: value
    if d.distribution == "uniform":
        top = d.max_seconds if d.max_seconds is not None else lo
        return lambda rng: rng.uniform(lo, top)
    if d.distribution == "exponential":
        rate = 1.0 / mean
        return lambda rng: clamp(rng.expovariate(rate))
    if d.distribution == "gamma":
        shape = 1.0 / (d.cv * d.cv)
        scale = mean / shape
        return lambda rng: clamp(rng.gammavariate(shape, scale))
    # lognormal with the given mean and coefficient of variation
    sigma = math.sqrt(math.log1p(d.cv * d.cv))
    mu = math.log(mean) - sigma * sigma / 2.0
    return lambda rng: clamp(rng.lognormvariate(mu, sigma))


def weighted_choice(weights: dict[str, float]) -> Callable[[random.Random], str | None]:
    """A function picking a key with probability proportional to its weight."""
    keys = [k for k, w in weights.items() if w > 0]
    if not keys:
        return lambda rng: None
    if len(keys) == 1:
        only = keys[0]
        return lambda rng: only
    cum: list[float] = []
    total = 0.0
    for k in keys:
        total += weights[k]
        cum.append(total)

    def pick(rng: random.Random) -> str | None:
        x = rng.random() * total
        for k, c in zip(keys, cum, strict=True):
            if x < c:
                return k
        return keys[-1]

    return pick


def index_choice(weights: list[float]) -> Callable[[random.Random], int]:
    """A function picking an index with probability proportional to its weight."""
    cum: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        cum.append(total)

    def pick(rng: random.Random) -> int:
        x = rng.random() * total
        for i, c in enumerate(cum):
            if x < c:
                return i
        return len(cum) - 1

    return pick
