"""The one result line every benchmark prints, and the interleaved A/B timing they share.

`make bench` greps the lines that start with "BENCH" into its summary, so every script reports
the same way: its name, the project's figure, the floor's figure (the library underneath,
measured in the same run), the ratio, the target and PASS/MISS.

    BENCH seal-3-pages            project=456.0 ms  floor=247.0 ms  ratio=1.85  target<=1.20  MISS
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Pairs:
    """Seconds per run of the project (A) and of its floor (B), measured A B A B …"""

    project: list[float]
    floor: list[float]

    @property
    def ratio(self) -> float:
        """Median of the per-pair ratios: robust to a noisy neighbour slowing one pair."""
        return statistics.median(a / b for a, b in zip(self.project, self.floor, strict=True))

    def summary(self, unit: float = 1000.0) -> str:
        """Medians and minimums, in milliseconds by default."""
        return (
            f"project median {statistics.median(self.project) * unit:.1f} "
            f"min {min(self.project) * unit:.1f}; "
            f"floor median {statistics.median(self.floor) * unit:.1f} "
            f"min {min(self.floor) * unit:.1f}"
        )


def interleave(
    project: Callable[[], object],
    floor: Callable[[], object],
    *,
    pairs: int = 5,
    warmup: int = 1,
) -> Pairs:
    """Time `project` and `floor` alternately (ABAB…), after `warmup` untimed runs of each."""
    for _ in range(warmup):
        project()
        floor()
    a: list[float] = []
    b: list[float] = []
    for _ in range(pairs):
        for run, into in ((project, a), (floor, b)):
            gc.collect()
            started = time.perf_counter()
            run()
            into.append(time.perf_counter() - started)
    return Pairs(project=a, floor=b)


def line(
    name: str,
    *,
    project: float,
    floor: float,
    ratio: float,
    target: float,
    unit: str = "ms",
    higher_is_better: bool = False,
) -> str:
    """The result line. `ratio` is project / floor (or a throughput share when higher is better)."""
    ok = ratio >= target if higher_is_better else ratio <= target
    sign = ">=" if higher_is_better else "<="
    return (
        f"BENCH {name:<30} project={project:.1f} {unit:<5} floor={floor:.1f} {unit:<5} "
        f"ratio={ratio:.2f}  target{sign}{target:.2f}  {'PASS' if ok else 'MISS'}"
    )


def report(
    name: str,
    *,
    project: float,
    floor: float,
    ratio: float,
    target: float,
    unit: str = "ms",
    higher_is_better: bool = False,
) -> None:
    """Print the result line (flushed, so `make bench` shows it as soon as it is known)."""
    text = line(
        name,
        project=project,
        floor=floor,
        ratio=ratio,
        target=target,
        unit=unit,
        higher_is_better=higher_is_better,
    )
    print(text, flush=True)
