"""The capacity model's pure parts (bench/capacity/): no emulator, no AWS, a few seconds."""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from bench.capacity.check import check_aims, emulator_platform, local_prediction
from bench.capacity.design import Design, parse_settings, read_design
from bench.capacity.limits import Platform, Scenario
from bench.capacity.measure import generate_orders, local_file_sizes
from bench.capacity.partitions import partitions_for, usable_fraction, usable_write_rate
from bench.capacity.predict import NO_BINDING, Prediction, binding_limit, scenario_cost
from bench.capacity.simulate import simulate
from bench.capacity.stages import (
    closed_throughput,
    effective_chunk_orders,
    peak_rate,
    plan_chunk,
    record_seconds,
    refused_share,
    vcpu_share,
)
from bench.capacity.stub import _unchunk
from bench.capacity.sweep import with_setting
from bench.capacity.workload import (
    LocalRun,
    Measured,
    Observation,
    RequestRates,
    fit_line,
    fit_requests,
)
from chalicelib.pipeline import inflight
from chalicelib.settings import Settings

# A receipt's shape per order, chunk and file, as a local run fits it (10% invalid orders).
RATES = RequestRates(
    per_order={"dynamodb_write_units": 0.9},
    per_chunk={"s3_get": 3.0, "s3_put": 2.0, "dynamodb_write_units": 1.0, "sqs_requests": 1.0,
               "sfn_express_requests": 1.0, "lambda_invocations": 1.0},
    per_file={"s3_get": 2.0, "s3_put": 3.0, "dynamodb_write_units": 4.0,
              "dynamodb_read_units": 2.0, "eventbridge_events": 1.0,
              "sfn_state_transitions": 6.0, "lambda_invocations": 2.0},
)  # fmt: skip
MEASURED = Measured(rates=RATES)
AWS = Platform()
# Lambda is no limit here: a vCPU per chunk, no reserved concurrency, a wide Map.
AMPLE = Design(
    max_concurrency=50, validate_reserved=None, validate_memory_mb=1_769, store_writers=16
)


def table_bound(orders: int, senders: int = 1, table_wcu: float = 500.0) -> Scenario:
    return Scenario(orders, senders, table_wcu, f"{table_wcu:,.0f} WCU/s")


# -- the partition keys ---------------------------------------------------------------------------


def test_the_usable_fraction_falls_as_partitions_grow_for_the_same_keys() -> None:
    fractions = [usable_fraction(1_024, partitions) for partitions in (1, 4, 40, 400)]

    assert fractions[0] == 1.0
    assert fractions == sorted(fractions, reverse=True)
    assert fractions[3] < 0.5 < fractions[1]


def test_more_keys_use_more_of_the_same_partitions() -> None:
    fractions = [usable_fraction(keys, 40, trials=50) for keys in (64, 1_024, 8_192)]

    assert fractions == sorted(fractions)
    assert fractions[-1] > 0.85


def test_one_key_is_one_partition_whatever_the_table() -> None:
    assert usable_write_rate(40_000, keys=1) == pytest.approx(1_000)
    assert usable_write_rate(4_000, keys=10_240) <= 4_000
    assert usable_write_rate(4_000, keys=1, partition_wcu=None) == 4_000


def test_partitions_are_the_capacity_in_thousands_rounded_up() -> None:
    assert [partitions_for(c) for c in (500, 4_000, 4_001, 40_000)] == [1, 4, 5, 40]


# -- the writers inside one chunk -------------------------------------------------------------


def test_one_writer_waits_for_each_round_trip_and_many_saturate_the_cpu() -> None:
    cpu, rtt = 0.001, 0.005

    rates = [closed_throughput(n, cpu, rtt) for n in (1, 2, 4, 8, 64)]

    assert rates[0] == pytest.approx(1 / (cpu + rtt))
    assert rates == sorted(rates)
    assert rates[-1] <= 1 / cpu
    assert rates[-1] == pytest.approx(1 / cpu, rel=0.01)


def test_the_cpu_share_is_memory_over_1769_mb_and_never_more_than_one_core() -> None:
    assert vcpu_share(256) == pytest.approx(256 / 1_769)
    assert vcpu_share(1_769) == 1.0
    assert vcpu_share(3_008) == 1.0


def test_a_chunk_at_more_memory_writes_faster_until_the_round_trips_bind() -> None:
    small = plan_chunk(1_000, 256, 8, MEASURED, AWS)
    large = plan_chunk(1_000, 1_769, 8, MEASURED, AWS)
    one_writer = plan_chunk(1_000, 1_769, 1, MEASURED, AWS)

    assert small.write_seconds > large.write_seconds
    assert one_writer.write_seconds > large.write_seconds
    assert one_writer.write_seconds >= 900 * AWS.put_rtt


# -- the simulation -----------------------------------------------------------------------------


def test_a_table_bound_scenario_names_the_table_as_binding() -> None:
    scenario = table_bound(100_000)
    outcome = simulate(AMPLE, MEASURED, AWS, scenario)

    binding, gain = binding_limit(AMPLE, MEASURED, AWS, scenario, outcome.seconds)

    assert binding.startswith("table capacity (500 WCU/s)")
    assert gain > 0.5
    assert outcome.demand_peak_wcu > outcome.usable_wcu == 500


def test_doubling_the_orders_doubles_the_time_when_table_bound() -> None:
    one = simulate(AMPLE, MEASURED, AWS, table_bound(100_000)).seconds
    two = simulate(AMPLE, MEASURED, AWS, table_bound(200_000)).seconds

    assert 1.85 < two / one < 2.05
    assert one == pytest.approx(90_000 / 500, rel=0.15)  # 0.9 write units an order at 500/s


def test_one_shard_binds_on_its_partition() -> None:
    design = replace(AMPLE, order_shards=1)
    scenario = Scenario(100_000, 1, 40_000, "warm")
    outcome = simulate(design, MEASURED, AWS, scenario)

    binding, _ = binding_limit(design, MEASURED, AWS, scenario, outcome.seconds)

    assert outcome.usable_wcu == pytest.approx(1_000)
    assert binding.startswith("partition keys")


def test_ten_senders_at_once_are_no_slower_per_order_than_one() -> None:
    for table_wcu in (4_000, 40_000):
        one = simulate(AMPLE, MEASURED, AWS, Scenario(100_000, 1, table_wcu, "t"))
        ten = simulate(AMPLE, MEASURED, AWS, Scenario(100_000, 10, table_wcu, "t"))

        assert ten.per_order_seconds <= one.per_order_seconds
        assert ten.failed_chunks == 0


def test_invocations_beyond_the_reserved_concurrency_are_throttled_and_left_to_record_batch() -> (
    None
):
    tight = replace(AMPLE, max_concurrency=20, validate_reserved=20)
    scenario = Scenario(100_000, 10, 40_000, "warm")

    throttled = simulate(tight, MEASURED, AWS, scenario)
    roomy = simulate(replace(tight, validate_reserved=200), MEASURED, AWS, scenario)

    assert throttled.throttled_invokes > 0
    assert throttled.failed_chunks > 0
    assert roomy.failed_chunks == 0
    assert roomy.seconds < throttled.seconds


def test_the_map_never_runs_more_children_than_max_concurrency() -> None:
    narrow = replace(AMPLE, max_concurrency=1)
    wide = replace(AMPLE, max_concurrency=50)
    scenario = Scenario(50_000, 1, 40_000, "warm")

    one_at_a_time = simulate(narrow, MEASURED, AWS, scenario)
    fifty = simulate(wide, MEASURED, AWS, scenario)

    plan = plan_chunk(1_000, AMPLE.validate_memory_mb, 16, MEASURED, AWS)
    assert one_at_a_time.map_seconds >= 50 * plan.unthrottled
    assert fifty.map_seconds < one_at_a_time.map_seconds / 10


def test_puts_refused_again_and_again_are_estimated_only_when_the_table_is_short() -> None:
    assert refused_share(1_000, 2_000, 64, 0.04) == 0.0
    shares = [refused_share(d, 1_000, 64, 0.04) for d in (2_000, 4_000, 16_000)]
    assert shares == sorted(shares)
    assert 0 < shares[0] < shares[-1] < 1

    warm = Scenario(50_000, 1, 40_000, "warm")
    short = simulate(AMPLE, MEASURED, AWS, table_bound(50_000, table_wcu=1_000))
    ample = simulate(replace(AMPLE, max_concurrency=10), MEASURED, AWS, warm)
    assert short.exhausted_fraction > 0
    assert ample.exhausted_fraction == 0


# -- cost, aims, the local check ----------------------------------------------------------------


def test_the_cost_per_million_is_the_receipts_counts_priced() -> None:
    scenario = Scenario(1_000_000, 1, 40_000, "warm")
    outcome = simulate(AMPLE, MEASURED, AWS, scenario)

    cost = scenario_cost(AMPLE, MEASURED, scenario, outcome)

    writes = (0.9 * 1_000_000 + outcome.chunks + 4) * 0.625 / 1_000_000
    assert cost["dynamodb"] == pytest.approx(writes + 2 * 0.125 / 1_000_000, rel=1e-3)
    assert cost["total"] == pytest.approx(sum(v for k, v in cost.items() if k != "total"))
    assert 0.5 < cost["total"] < 1.0


def _prediction(orders: int, senders: int, table: str, seconds: float) -> Prediction:
    outcome = simulate(AMPLE, MEASURED, AWS, Scenario(1_000, 1, 40_000, "warm"))
    outcome.seconds = seconds
    outcome.per_order_seconds = seconds / (orders * senders)
    return Prediction(Scenario(orders, senders, 0, table), outcome, NO_BINDING, 0, {})


def test_the_aims_pass_and_fail_on_the_issues_figures() -> None:
    predictions = [
        _prediction(1_000_000, 1, "new on-demand", 299),
        _prediction(1_000_000, 1, "warm 40,000", 61),
        _prediction(1_000_000, 10, "warm 40,000", 600),  # 60 us an order against 61
        _prediction(1_000_000, 10, "new on-demand", 3_100),  # 310 us against 299
    ]

    aims = check_aims(predictions)

    assert [aim.passed for aim in aims] == [True, False, False, True]
    assert "new on-demand" in aims[0].text
    assert "5m 00s" in aims[0].text
    assert "warm 40,000" in aims[1].text
    assert aims[1].value == "61.0 s"
    assert "10 senders" in aims[2].text
    assert "(1.04x)" in aims[2].value


def test_the_local_check_uses_the_emulators_parameters() -> None:
    local = LocalRun(
        orders=5_000, chunks=6, files=3, wall_seconds=9.0, busy_seconds={"RecordBatch": 0.1},
        put_seconds=0.0012, s3_put_seconds=0.002, s3_get_seconds=0.001, sqs_seconds=0.001,
        file_overhead_seconds=0.2, execution_seconds=7.0,
    )  # fmt: skip
    measured = replace(MEASURED, local=local, client_cpu_per_put=0.0003)

    parts = local_prediction(Design(), measured)

    platform = emulator_platform(local, measured)
    assert platform.partition_wcu is None
    assert platform.cold_start == 0
    assert platform.put_rtt == pytest.approx(0.0009)
    per_order = measured.validate_cpu_per_order + 0.9 * platform.put_rtt
    chunks = parts["the chunks (ValidateOrder and the Map)"]
    assert chunks == pytest.approx(5_000 * per_order, rel=0.1)
    assert parts["the interpreter's own (a small file's, per file)"] == pytest.approx(0.6)


# -- fitting the receipts, reading the design -----------------------------------------------------


def test_the_fit_recovers_requests_per_order_chunk_and_file() -> None:
    def receipt(orders: int, chunks: int) -> dict[str, float]:
        return {"dynamodb_write_units": 0.9 * orders + chunks + 4, "s3_put": 2 * chunks + 3}

    batches = [Observation(n, c, receipt(n, c)) for n, c in ((2_500, 3), (1_500, 2), (1_000, 1))]

    rates = fit_requests(batches)

    assert rates.per_order["dynamodb_write_units"] == pytest.approx(0.9)
    assert rates.per_chunk["dynamodb_write_units"] == pytest.approx(1.0)
    assert rates.per_file["dynamodb_write_units"] == pytest.approx(4.0)
    assert rates.per_chunk["s3_put"] == pytest.approx(2.0)
    assert rates.per_order["s3_put"] == pytest.approx(0.0, abs=1e-6)


def test_the_fit_folds_terms_the_batches_cannot_tell_apart() -> None:
    one = [Observation(1_000, 1, {"s3_put": 5.0})]

    rates = fit_requests(one)

    assert rates.per_file == {}
    assert rates.per_chunk == {}
    assert rates.per_order["s3_put"] == pytest.approx(0.005)


def test_the_generated_files_hold_exactly_the_invalid_fraction(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv.gz"

    invalid = generate_orders(path, 1_000, 0.10)

    with gzip.open(path, "rt") as lines:
        rows = list(lines)[1:]
    assert invalid == 100 == sum(1 for row in rows if row.split(",")[4] == "0")
    assert len(rows) == 1_000
    assert local_file_sizes(1_000) == [2_500, 1_500, 1_000]


def test_the_design_is_read_from_the_repository_with_defaults(tmp_path: Path) -> None:
    (tmp_path / ".chalice").mkdir()
    (tmp_path / "chalicelib" / "pipeline").mkdir(parents=True)
    config = {
        "environment_variables": {"CHUNK_MAX_ORDERS": "2000", "STORE_MAX_RETRIES": "5"},
        "stages": {"dev": {
            "lambda_memory_size": 256,
            "environment_variables": {"STORE_WRITERS": "12"},
            "lambda_functions": {
                "ValidateOrder": {"lambda_memory_size": 1769, "reserved_concurrency": 40},
                "PrepareFile": {"lambda_memory_size": 1024},
                "ReviewDeadLetters": {"reserved_concurrency": 5},
            },
        }},
    }  # fmt: skip
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
    definition = {"States": {"ProcessChunks": {
        "Type": "Map", "MaxConcurrency": 50,
        "ItemProcessor": {"States": {"ValidateOrder": {"Retry": [{
            "ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 2,
            "MaxAttempts": 4, "BackoffRate": 3.0,
        }]}}},
    }}}  # fmt: skip
    (tmp_path / "chalicelib" / "pipeline" / "ingest.asl.json").write_text(json.dumps(definition))
    (tmp_path / "app.py").write_text(
        '@app.on_sqs_message(queue=Q, batch_size=7, name="ReviewDeadLetters")\n'
    )

    design = read_design(tmp_path)

    assert (design.chunk_max_orders, design.chunk_max_bytes) == (2_000, 1_000_000)
    assert (design.store_writers, design.store_max_retries) == (12, 5)
    assert design.max_concurrency == 50
    assert (design.validate_memory_mb, design.validate_reserved) == (1_769, 40)
    assert (design.prepare_memory_mb, design.record_memory_mb) == (1_024, 256)
    assert (design.reviewer_reserved, design.reviewer_batch_size) == (5, 7)
    assert design.other_reserved == 5
    assert (design.invoke_retry_interval, design.invoke_retry_attempts) == (2.0, 4)
    assert design.order_shards == getattr(
        __import__("chalicelib.pipeline.store", fromlist=["x"]), "ORDER_SHARDS", 1_024
    )
    # absent from config.json: what chalicelib.settings gives the functions
    default = Settings.model_fields["store_max_throttle_retries"].default
    assert design.store_max_throttle_retries == default
    source = f"not in .chalice/config.json: default {default}"
    assert ("STORE_MAX_THROTTLE_RETRIES", source) in design.sources
    # no prepare.py or finish.py running them through in_order: one request at a time
    assert (design.prepare_uploads, design.record_reads) == (1, 1)


def test_a_setting_changed_from_the_command_line_is_typed_and_named() -> None:
    design = parse_settings(Design(), ["max_concurrency=40", "validate_reserved=none"])

    assert design.max_concurrency == 40
    assert design.validate_reserved is None
    assert ("max_concurrency", "--set") in design.sources
    with pytest.raises(SystemExit):
        parse_settings(Design(), ["no_such_setting=1"])


def test_a_larger_chunk_gets_the_bytes_it_needs() -> None:
    changed = with_setting(Design(), MEASURED, "chunk_max_orders", 10_000)

    assert effective_chunk_orders(changed, MEASURED) == 10_000
    assert effective_chunk_orders(Design(chunk_max_orders=10_000), MEASURED) == 5_000


def test_a_measurement_survives_its_json() -> None:
    local = LocalRun(1, 1, 1, 1.0, {"ValidateOrder": 0.5}, 0.001, 0.002, 0.001, 0.001)
    measured = replace(MEASURED, local=local, notes=("a note",))

    again = Measured.from_json(json.loads(json.dumps(measured.to_json())))

    assert again == measured


def test_a_fitted_cost_per_chunk_is_never_negative() -> None:
    assert fit_line([(1_000, 1.2), (500, 0.7), (1_000, 1.2)]) == pytest.approx((0.2, 0.001))
    intercept, slope = fit_line([(1_000, 1.0), (500, 0.45)])
    assert intercept == 0.0
    assert slope == pytest.approx((1_000 * 1.0 + 500 * 0.45) / (1_000**2 + 500**2))


def test_the_peak_rate_is_the_busiest_second() -> None:
    events = [(0.1, 1.0), (0.5, 1.0), (0.9, 1.0), (5.0, 10.0), (5.5, 10.0), (7.0, 1.0)]

    assert peak_rate(events) == 20.0
    assert peak_rate([]) == 0.0
    assert math.isclose(peak_rate(events, window=10.0), 2.4)


def test_the_repositorys_own_design_is_read_with_a_source_for_each_setting() -> None:
    design = read_design()

    assert design.chunk_max_orders >= 1
    assert design.store_writers >= 1
    assert design.validate_memory_mb >= 128
    assert design.order_shards >= 1
    named = {name for name, _ in design.sources}
    assert {"CHUNK_MAX_ORDERS", "STORE_WRITERS", "MaxConcurrency", "ORDER_SHARDS"} <= named
    assert {"STORE_MAX_THROTTLE_RETRIES", "S3 in flight (PrepareFile)"} <= named


def test_the_design_reads_s3_in_flight_and_more_uploads_at_once_shorten_prepare_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inflight, "S3_IN_FLIGHT", 2)
    two = read_design()
    monkeypatch.setattr(inflight, "S3_IN_FLIGHT", 16)
    sixteen = read_design()
    one = replace(sixteen, prepare_uploads=1, record_reads=1)

    assert (two.prepare_uploads, two.record_reads) == (2, 2)
    assert (sixteen.prepare_uploads, sixteen.record_reads) == (16, 16)
    assert "inflight.S3_IN_FLIGHT" in dict(two.sources)["S3 in flight (PrepareFile)"]
    # chunks of 1,000 at a full vCPU: the uploads (1,000 of 34 ms) outweigh the cutting (7 s)
    small = [
        replace(d, chunk_max_orders=1_000, prepare_memory_mb=1_769) for d in (one, two, sixteen)
    ]
    scenario = Scenario(1_000_000, 1, 40_000, "warm")
    prepare = [simulate(d, MEASURED, AWS, scenario).prepare_seconds for d in small]
    assert prepare[0] > prepare[1] > prepare[2]
    cutting = 1_000_000 * MEASURED.prepare_cpu_per_order
    assert prepare[0] > cutting + 1_000 * AWS.s3_request  # one at a time: every upload waits
    assert prepare[2] < cutting + 0.1 * prepare[0]  # 16 at once: hidden behind the cutting
    chunks = 1_000
    records = [record_seconds(chunks, d, MEASURED, AWS) for d in (one, two, sixteen)]
    assert records[0] > records[1] > records[2]


def test_an_aws_chunked_body_is_read_back_as_its_payload() -> None:
    body = b'8\r\n{"a": 1}\r\n3;chunk-signature=x\r\nabc\r\n0\r\nx-amz-checksum-crc32:AA==\r\n\r\n'

    assert _unchunk(body) == b'{"a": 1}abc'
