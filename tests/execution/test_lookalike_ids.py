"""OrderIds a person cannot tell apart, through the whole path: each look-alike ends as the one
order it looks like, or as one rejection with its code."""

from __future__ import annotations

from pathlib import Path

from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import dlq_orders, run, stored_items

HEADER = "OrderId,item-id,item-desc,qty,name,email\n"


def test_look_alike_ids_are_one_order_and_hidden_characters_one_rejection(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    rows = [
        "7001,101,Mug,1,Ana,ana@example.com",
        "\u200b7001,101,Mug,1,Ana,ana@example.com",  # a zero-width space before it
        "\uff17001,101,Mug,1,Ana,ana@example.com",  # a full-width seven
        "\ufeff7001,101,Mug,1,Ana,ana@example.com",  # a byte-order mark starting a later line
        "70\u200b02,101,Mug,1,Ana,ana@example.com",  # a zero-width space inside
        "7003,101,Mug,1,Ana,ana@example.com",
    ]
    path = tmp_path / "lookalike.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")

    (batch,) = run(local, path)

    # the four spellings of 7001 are one order (stored once, then unchanged three times)
    assert set(stored_items(local)) == {"7001", "7003"}
    assert (batch["stored"], batch["unchanged"], batch["rejected"]) == (5, 3, 1)
    (rejected,) = dlq_orders(local)
    assert rejected["row"] == 6
    assert rejected["errors"][0]["code"] == "OrderId.invisible_character"
