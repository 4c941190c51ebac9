"""Data → pixel mapping of the HTML report's charts, and nothing else.

Every chart of ``deploylint analyze --format html`` places its marks through
one of these two scales, so the mapping is stated once: a linear scale maps
``[lo, hi]`` onto ``[start, end]`` pixels proportionally; a logarithmic scale
does the same with ``log10`` of the value, its domain widened to whole
decades so every tick is a power of ten. SVG's y axis grows downwards: a
vertical scale simply has ``start`` below ``end``.
"""

from __future__ import annotations

import math

from ...records import record


@record(frozen=True)
class Linear:
    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo
        t = (value - self.lo) / span if span else 0.0
        return self.start + t * (self.end - self.start)

    def ticks(self, count: int = 5) -> list[float]:
        """Evenly spaced round values inside the domain (1, 2 or 5 times a power of ten apart)."""
        span = self.hi - self.lo
        if span <= 0:
            return [self.lo]
        raw = span / max(1, count)
        power = 10 ** math.floor(math.log10(raw))
        step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
        first = math.ceil(self.lo / step) * step
        out, v = [], first
        while v <= self.hi + step * 1e-9:
            out.append(round(v, 12))
            v += step
        return out


@record(frozen=True)
class Log:
    lo: float          # a power of ten
    hi: float          # a power of ten, above lo
    start: float
    end: float

    @classmethod
    def spanning(cls, values, start: float, end: float) -> "Log":
        """The smallest whole-decade domain holding every positive value (at least one decade)."""
        positive = [v for v in values if v and v > 0 and math.isfinite(v)]
        if not positive:
            positive = [1.0]
        lo = math.floor(math.log10(min(positive)))
        hi = math.ceil(math.log10(max(positive)))
        if hi <= lo:
            hi = lo + 1
        return cls(10.0 ** lo, 10.0 ** hi, start, end)

    def __call__(self, value: float) -> float:
        a, b = math.log10(self.lo), math.log10(self.hi)
        t = (math.log10(value) - a) / (b - a)
        return self.start + t * (self.end - self.start)

    def ticks(self) -> list[float]:
        a, b = round(math.log10(self.lo)), round(math.log10(self.hi))
        return [10.0 ** k for k in range(a, b + 1)]


def linear_from_zero(top: float, start: float, end: float) -> Linear:
    """A scale from 0 to a round value at or above ``top`` (the memory axis)."""
    if top <= 0:
        return Linear(0.0, 1.0, start, end)
    power = 10 ** math.floor(math.log10(top))
    nice = next(m * power for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * power >= top)
    return Linear(0.0, nice, start, end)
