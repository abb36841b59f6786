"""One typed model per message that crosses a boundary: what its producer builds and its
consumer parses, so that no payload is a raw dict written three times.

- `execution`: `Source` (the ingest execution's input), `Prepared` (PrepareFile's output,
  `$.prepared`), `Caught` (a Catch's `$.error`), `Recorded` (RecordBatch's output, `$.batch`)
  and `BatchState` (the execution's state, as RecordBatch is handed it);
- `chunks`: `ChunkRef` (a manifest item), `ChunkTask` (a Distributed Map item, ValidateOrder's
  input) and `ChunkOutcome` (a chunk's outcome in S3, RecordBatch's to count);
- `deadletter`: `DeadLetterMessage` and `Rejection` (a chunk's rejection group on the DLQ);
- `review`: `ReviewRecord` (what the DLQ reviewer keeps of each order);
- `completion`: `Completion` (the completion event's detail).

Reasons, statuses and decisions are `StrEnum`s: the wire carries their plain values. Every
selector of the state machine (`pipeline/ingest.asl.json`) is checked against these models
(`tests/unit/test_contracts.py`).
"""

from chalicelib.contracts.chunks import ChunkOutcome, ChunkRef, ChunkStatus, ChunkTask
from chalicelib.contracts.completion import Completion, Counts
from chalicelib.contracts.deadletter import (
    DeadLetterMessage,
    Reason,
    Rejection,
    SourceFile,
    group_id,
    group_message_id,
)
from chalicelib.contracts.execution import (
    BatchState,
    BatchStatus,
    Caught,
    Prepared,
    PrepareStatus,
    Problem,
    Recorded,
    Source,
)
from chalicelib.contracts.review import Change, Decision, Ended, ReviewRecord

__all__ = [
    "BatchState",
    "BatchStatus",
    "Caught",
    "Change",
    "ChunkOutcome",
    "ChunkRef",
    "ChunkStatus",
    "ChunkTask",
    "Completion",
    "Counts",
    "DeadLetterMessage",
    "Decision",
    "Ended",
    "PrepareStatus",
    "Prepared",
    "Problem",
    "Reason",
    "Recorded",
    "Rejection",
    "ReviewRecord",
    "Source",
    "SourceFile",
    "group_id",
    "group_message_id",
]
