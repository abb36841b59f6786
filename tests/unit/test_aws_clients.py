"""`chalicelib.aws` makes one client of each kind per process, even when the emulator's threads
ask for the first one at once."""

from __future__ import annotations

import threading

from chalicelib import aws
from orderflow_cli.emulator.runtime import EmbeddedAWS


def test_threads_asking_at_once_share_one_client(local: EmbeddedAWS) -> None:
    aws.reset()
    racers = 8
    start = threading.Barrier(racers)
    got: list[object] = []

    def ask() -> None:
        start.wait()
        got.append(aws.sfn())

    threads = [threading.Thread(target=ask) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(got) == racers
    assert len({id(client) for client in got}) == 1
    assert aws.sfn() is got[0]  # and it is the one kept
    aws.reset()
    assert aws.sfn() is not got[0]  # reset still forgets it
