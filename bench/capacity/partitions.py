"""The orders table's partitions: how much of their write capacity the keys can use.

An order's partition key is `<sender>#<shard>` (`ORDER_SHARDS` values per sender). A table able
to serve C write units a second has at least ceil(C / 1,000) partitions, and each key value
lands on one of them by a hash DynamoDB does not publish: a seeded Monte Carlo places the keys
on equal hash ranges at random, and the hottest partition saturates first.
"""

from __future__ import annotations

import math
import random
from functools import lru_cache

from bench.capacity.limits import PARTITION_WCU


def partitions_for(capacity_wcu: float, partition_wcu: float = PARTITION_WCU) -> int:
    """The fewest partitions a table serving `capacity_wcu` can have."""
    return max(1, math.ceil(capacity_wcu / partition_wcu))


@lru_cache(maxsize=256)
def usable_fraction(keys: int, partitions: int, trials: int = 200, seed: int = 7) -> float:
    """The share of the partitions' write capacity that `keys` equally busy partition key
    values can use, when each key lands on one of `partitions` equal hash ranges at random:
    keys / (partitions * most keys on one partition), the hottest partition saturating first.
    A seeded Monte Carlo (the mean over `trials` placements): DynamoDB's hash is not published,
    and splits for heat are not counted on (no time for them is published)."""
    if keys <= 0 or partitions <= 0:
        return 0.0
    if partitions == 1:
        return 1.0
    rng = random.Random(seed * 1_000_003 + keys * 31 + partitions)
    total = 0.0
    for _ in range(trials):
        load = [0] * partitions
        for _ in range(keys):
            load[rng.randrange(partitions)] += 1
        total += keys / (partitions * max(load))
    return total / trials


def usable_write_rate(
    capacity_wcu: float, keys: int, partition_wcu: float | None = PARTITION_WCU
) -> float:
    """The write units a second the table takes from writers spread evenly over `keys` key
    values: the table's capacity, or less when the hottest partition saturates first."""
    if partition_wcu is None:
        return capacity_wcu
    partitions = partitions_for(capacity_wcu, partition_wcu)
    by_partitions = partitions * partition_wcu * usable_fraction(keys, partitions)
    return min(capacity_wcu, by_partitions)
