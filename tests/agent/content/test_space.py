"""Disk space before a sync: the bytes still missing plus a reserve (1 GiB or 10 %, the smaller)."""

from __future__ import annotations

import pytest

from agent.content.plan import shortfall

GIB = 1024**3


@pytest.mark.parametrize(
    ("free", "total", "needed", "short"),
    [
        (50 * GIB, 100 * GIB, 10 * GIB, 0),  # plenty
        (11 * GIB, 100 * GIB, 10 * GIB, 0),  # exactly the 1 GiB reserve left
        (10 * GIB, 100 * GIB, 10 * GIB, GIB),  # the reserve is what is missing
        (GIB, 4 * GIB, GIB, 429_496_729),  # a small disk: 10 % of it is the reserve
        (0, 100 * GIB, 5, 5 + GIB),
    ],
)
def test_the_shortfall_names_the_bytes_missing(
    free: int, total: int, needed: int, short: int
) -> None:
    kwargs = {"reserve_bytes": GIB, "reserve_ratio": 0.10}
    assert shortfall(free=free, total=total, needed=needed, **kwargs) == short
