"""A time budget for the masters' training loops, for reference runs on a slow machine.

``benchmarks/reference.py --budget MINUTES`` sets ``KIT_TRAIN_MINUTES`` for one master. Each of the
master's training loops takes its share of those minutes with :func:`budget_share`, counted from
that call, and asks :meth:`Deadline.spent` after each step; a loop whose share is spent stops
there, keeping the model it has. Without the variable no deadline is ever spent, so a student's
notebook trains as it always has.
"""
from __future__ import annotations

import os
import time
from typing import Callable

VARIABLE = "KIT_TRAIN_MINUTES"

_SHARES: dict[str, "Deadline"] = {}  # the deadlines handed out in this process, by loop name


def budget_minutes() -> float | None:
    """The whole training budget in minutes, from ``$KIT_TRAIN_MINUTES``; None when it is unset."""
    value = os.environ.get(VARIABLE, "").strip()
    if not value:
        return None
    try:
        minutes = float(value)
    except ValueError:
        raise ValueError(f"{VARIABLE}={value!r} is not a number of minutes: set it to e.g. 25, or unset it") from None
    if minutes <= 0:
        raise ValueError(f"{VARIABLE}={value!r}: the budget must be a positive number of minutes, or unset")
    return minutes


class Deadline:
    """The end of one training loop's share of the budget, or no end at all (``seconds`` is None)."""

    def __init__(self, name: str, share: float, minutes: float | None,
                 clock: Callable[[], float] = time.monotonic):
        self.name, self.share, self.minutes = name, share, minutes
        self.seconds = None if minutes is None else 60.0 * minutes * share
        self.clock = clock
        self.started = clock()
        self.stopped_at = ""  # where the budget stopped the loop, e.g. "in epoch 3 of 10"; "" while it has not

    def spent(self, where: str) -> bool:
        """True once this loop's share is spent; the first time, remembers and prints ``where``
        the loop stops. Always False without a budget."""
        if self.seconds is None or self.clock() - self.started < self.seconds:
            return False
        if not self.stopped_at:
            self.stopped_at = where
            print(f"time budget: {self.name} stops {where} ({self.seconds / 60:.1f} of {self.minutes:g} min)")
        return True

    def ran(self, done: int, planned: int, unit: str) -> None:
        """For a loop that stops itself after ``seconds`` (``max_seconds=deadline.seconds``): it was
        cut short when it ran fewer ``unit``s than ``planned``."""
        if self.seconds is not None and done < planned:
            self.stopped_at = f"after {unit} {done} of {planned}"
            print(f"time budget: {self.name} stopped {self.stopped_at} ({self.seconds / 60:.1f} of {self.minutes:g} min)")


def budget_share(name: str, share: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
    """The deadline of the training loop ``name``: ``share`` (0 to 1) of ``$KIT_TRAIN_MINUTES``
    from now, or none when the variable is unset."""
    if not 0 < share <= 1:
        raise ValueError(f"{name}: a share of the budget is between 0 and 1, not {share}")
    deadline = Deadline(name, share, budget_minutes(), clock)
    _SHARES[name] = deadline
    return deadline


def budget_report() -> dict:
    """What the budget did in this process: its minutes and, per loop, its share and where it was cut."""
    return {"minutes": budget_minutes(),
            "loops": {name: {"share": d.share, "stopped_at": d.stopped_at} for name, d in _SHARES.items()}}
