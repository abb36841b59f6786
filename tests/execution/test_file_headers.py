"""Through the real state machine: a table quarantined for the columns it lacks still tells,
on its batch record, in GET /batches/{id} and in its quarantine report, the headers it has and
the closest of them for each field it lacks; a file read in full tells its headers too."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib import wiring
from chalicelib.api import service
from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import run

GERMAN = ["Bestellnummer", "Artikel", "Beschreibung", "Menge", "Kunde", "E-Mail-Adresse"]


def test_a_quarantined_german_csv_says_its_headers_and_suggestions(
    local: EmbeddedAWS, tmp_path: Path
) -> None:
    path = tmp_path / "bestellungen.csv"
    path.write_text(";".join(GERMAN) + "\r\n1;101;Lampe;2;Ann Lee;ann@example.com\r\n", newline="")
    # and one whose header matches, after a title row
    plain = tmp_path / "orders.csv"
    plain.write_text(
        "ACME orders\r\nOrder ID,Item ID,Description,Quantity,Name,Email\r\n"
        "1,101,Lamp,1,Ann Lee,ann@example.com\r\n",
        newline="",
    )

    [quarantined, read] = run(local, path, plain)

    assert quarantined["status"] == "quarantined"
    assert quarantined["error"]["code"] == "file.missing_columns"
    file = quarantined["file"]
    assert file["headers"] == GERMAN
    assert file["suggestions"]["item-id"] == ["Artikel", "Bestellnummer"]
    assert file["suggestions"]["email"] == ["E-Mail-Adresse"]
    assert set(file["suggestions"]) == {"OrderId", "item-id", "item-desc", "qty", "name", "email"}
    shown = service.batch_status(
        quarantined["batch_id"], sender="demo", deps=wiring.api_deps(local.settings)
    )
    assert shown["file"] == file
    key = f"{local.settings.quarantine_prefix}demo/{quarantined['batch_id']}/error.json"
    report = json.loads(local.s3.get_object(Bucket=local.settings.bucket, Key=key)["Body"].read())
    assert (report["file"]["headers"], report["file"]["suggestions"]) == (
        GERMAN,
        file["suggestions"],
    )
    assert read["status"] == "succeeded"
    assert read["file"]["headers"] == ["Order ID", "Item ID", "Description", "Quantity", "Name",
                                       "Email"]  # fmt: skip
    assert read["file"]["suggestions"] == {}
