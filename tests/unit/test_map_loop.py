"""The emulator runs a Distributed Map of more items than Python's recursion limit with one
worker (moto's worker recursed once per item: RecursionError, a failed Map), and every item's
result comes back in order."""

from __future__ import annotations

import json
import sys
import time

from orderflow_cli.emulator.runtime import EmbeddedAWS

ROLE = "arn:aws:iam::123456789012:role/map-loop"


def test_a_map_of_more_items_than_the_recursion_limit_runs_with_one_worker(
    local: EmbeddedAWS,
) -> None:
    items = sys.getrecursionlimit() + 200
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 1,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Double",
                    "States": {
                        "Double": {
                            "Type": "Pass",
                            "Parameters": {"n.$": "$.n", "twice.$": "States.MathAdd($.n, $.n)"},
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }
    machine = local.sfn.create_state_machine(
        name="map-loop", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    arn = local.sfn.start_execution(
        stateMachineArn=machine, input=json.dumps({"items": [{"n": n} for n in range(items)]})
    )["executionArn"]
    deadline = time.monotonic() + 60
    while (described := local.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the Map did not finish in 60 s"
        time.sleep(0.1)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    assert output == [{"n": n, "twice": 2 * n} for n in range(items)]
