"""What the simulation predicts for one scenario."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Outcome:
    """What the simulation predicts for one scenario."""

    seconds: float  # upload to the last batch recorded
    per_order_seconds: float
    prepare_seconds: float
    record_seconds: float
    map_seconds: float  # the first file's Map, its start to its last child's end
    usable_wcu: float
    demand_peak_wcu: float
    refused_fraction: float  # of the puts' attempts, while the table was the limit
    exhausted_fraction: float  # of the puts: refused on every attempt (to the DLQ)
    throttled_invokes: int
    failed_chunks: int
    chunks: int
    chunk_seconds_max: float
    timeouts: int  # functions run beyond their timeout: the prediction does not hold
    validate_gb_seconds: float
    express_gb_seconds: float
    prepare_gb_seconds: float
    record_gb_seconds: float
    batches_key_wcu: float  # peak write units a second on one sender's batches-table key
    reviews_key_wcu: float  # ... on one sender's reviews-table key
    reviewer_end: float
    s3_put_prefix_peak: float
    s3_get_prefix_peak: float
    notes: list[str] = field(default_factory=list)
