"""An action's and a timeline note's segment read with the pages' filter
quoting: a team named ``East, West`` (or holding a double quote) is one
value, written back the same way and read again unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kpitree.errors import UserError
from kpitree.notes import parse_segment as note_segment
from kpitree.review.actions import parse_segment, segment_text
from kpitree.web.app import create_app

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")

SEGMENTS = [
    (("team", "East, West"),),
    (("team", 'say "hi", East'), ("region", "関東")),
    (("department", "inside_sales"), ("team", " padded ")),
    (("team", "東日本,西日本"), ("channel", "a:b=c")),
]


@pytest.mark.parametrize("segment", SEGMENTS)
def test_an_action_segment_round_trips(segment: tuple[tuple[str, str], ...]) -> None:
    assert parse_segment(segment_text(segment)) == segment


def test_an_action_segment_as_typed() -> None:
    assert parse_segment('team="East, West", region=関東') == (
        ("team", "East, West"),
        ("region", "関東"),
    )
    # Unquoted, the comma still separates segments, as before.
    assert parse_segment("team:IS East,region=関東") == (("team", "IS East"), ("region", "関東"))
    assert segment_text((("team", "IS East"),)) == "team=IS East"
    with pytest.raises(UserError) as bad:
        parse_segment("team=East, West")  # " West" is no dimension=value
    assert bad.value.diagnostics[0].code == "KT213"


def test_a_note_segment_reads_quotes() -> None:
    assert note_segment('team="East, West"') == ("team", "East, West")
    assert note_segment('team="say ""hi"""') == ("team", 'say "hi"')
    assert note_segment("team=East, West") == ("team", "East, West")  # one segment: the rest
    with pytest.raises(UserError) as bad:
        note_segment('team="East",West')
    assert bad.value.diagnostics[0].code == "KT684"


@pytest.fixture
def client(planted: Path) -> Iterator[TestClient]:
    headers = {"Accept-Language": "en"}
    app = create_app(planted)
    with closing(TestClient(app, base_url="http://localhost", headers=headers)) as c:
        yield c


def test_an_action_for_a_team_with_a_comma_is_kept_whole(client: TestClient) -> None:
    token = client.get("/api/session").json()["csrf_token"]
    body = {
        "node": "mql_rate",
        "owner": "IS 田中",
        "description": "call script",
        "expected_effect": "+5pt",
        "start": "2025-10-01",
        "due": "2025-11-30",
        "segment": 'team="East, West",region=関東',
    }
    added = client.post("/api/actions", json=body, headers={"X-CSRF-Token": token})
    assert added.status_code == 201, added.text
    (listed,) = client.get("/api/actions").json()
    assert listed["segment"] == {"team": "East, West", "region": "関東"}
