"""Ids and names holding the characters addresses reserve (``/``, ``?``, ``#``,
``%``, spaces, Japanese) in the demo company (:mod:`web.reserved`): a team, a
rep id, every lead and account id. Every link on the pages resolves, a drill
into the team lands on its reps, and each segment's records list has as many
rows as the segment's number."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pytest
import yaml

from kpitree.filter_text import filter_params

from .conftest import _start
from .reserved import FIELD_TEAM, REP, TEAM, reserved_project

PERIOD = "last-quarter"
NODES = ("leads", "calls", "won_deals")


@pytest.fixture(scope="module")
def client(demo_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """An HTTP client of a real ``kpitree serve`` on the project (a server
    decodes a path once; the in-process client decodes it twice)."""
    import httpx

    folder = reserved_project(demo_project, tmp_path_factory.mktemp("reserved") / "demo")
    definition = folder / "kpitree.yaml"
    doc = yaml.safe_load(definition.read_text("utf-8"))
    doc.setdefault("data", {})["record_links"] = {"leads": "https://crm.example/lead/{id}"}
    definition.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    server = _start(folder)
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            yield http
    finally:
        server.stop()


def _seeds() -> list[str]:
    q = {"period": PERIOD}
    team = urlencode({**q, **filter_params({"department": "inside_sales", "team": TEAM[1]})})
    return [
        f"/?{urlencode(q)}",
        f"/funnel?{urlencode(q)}",
        f"/departments?{urlencode(q)}",
        f"/departments/inside_sales?{urlencode(q)}",
        f"/departments/field_sales?{urlencode(q)}",
        *(f"/nodes/{n}?{urlencode({**q, 'by': 'team'})}" for n in ("leads", "opportunities")),
        f"/nodes/calls?{urlencode({**q, 'drill': 'inside_sales'})}",
        f"/nodes/calls?{team}&by=rep",
        f"/records/leads?{team}",
        f"/records/calls?{urlencode({**q, **filter_params({'rep': REP[1]})})}",
        "/sla?period=last-month",
        "/accounts",
    ]


def _links(page: str) -> set[str]:
    return {
        html.unescape(h)
        for h in re.findall(r'href="(/[^"]*)"', page)
        if "format=" not in h and not h.startswith(("/static", "/logout", "/s/"))
    }


def _shape(link: str) -> tuple[str, tuple[str, ...]]:
    """What a link is, beside its values: its first path part and parameters."""
    parts = urlsplit(link)
    names = tuple(sorted(p.split("=")[0] for p in parts.query.split("&") if p))
    return parts.path.split("/")[1], names


def test_every_link_on_the_pages_resolves(client: object) -> None:
    found: set[str] = set()
    for seed in _seeds():
        answer = client.get(seed)  # type: ignore[attr-defined]
        assert answer.status_code == 200, seed
        found |= _links(answer.text)
    names = [quote(v, safe="") for v in (TEAM[1], FIELD_TEAM[1], REP[1])]
    names += [quote(filter_params({"team": TEAM[1]})["team"], safe="")]
    names += [n.replace("%20", "+") for n in names]
    # Every link that carries the team's or the rep's name, and one of every
    # other shape (a records list, an account: every lead and account id holds
    # the reserved characters).
    chosen: dict[object, str] = {}
    for link in sorted(found):
        key = link if any(n in link for n in names) else _shape(link)
        chosen.setdefault(key, link)
    assert sum(1 for k in chosen if isinstance(k, str)) >= 20
    broken = []
    for link in chosen.values():
        answer = client.get(link)  # type: ignore[attr-defined]
        if answer.status_code != 200:
            broken.append((answer.status_code, link))
    assert not broken


def _count(client: object, node: str, segment: dict[str, str]) -> int:
    params = urlencode({"period": PERIOD, **filter_params(segment)})
    got = client.get(f"/api/records/{node}?{params}").json()  # type: ignore[attr-defined]
    assert got["query"]["filters"] == {k: [v] for k, v in segment.items()}
    return int(got["lists"][0]["count"])


def test_the_pages_records_links_carry_a_team_with_a_comma_intact(client: object) -> None:
    """The department page's team row and the node page's breakdown row of
    the team ``In/bound ?#%, "東"`` open the team's own records."""
    for url in (
        f"/departments/inside_sales?period={PERIOD}",
        f"/nodes/calls?period={PERIOD}&by=team",
    ):
        page = client.get(url).text  # type: ignore[attr-defined]
        links = [
            link for link in _links(page) if link.startswith("/records/calls?") and "team=" in link
        ]
        opened = [
            client.get(link.replace("/records/", "/api/records/", 1)).json()  # type: ignore[attr-defined]
            for link in links
        ]
        teams = [o["query"]["filters"].get("team") for o in opened]
        assert [TEAM[1]] in teams, (url, teams)


@pytest.mark.parametrize("node", NODES)
def test_each_segment_lists_as_many_records_as_its_number(client: object, node: str) -> None:
    def rows(**params: str) -> list[dict[str, object]]:
        query = urlencode({"period": PERIOD, **params})
        view = client.get(f"/api/nodes/{node}?{query}").json()  # type: ignore[attr-defined]
        return list(view["breakdown"]["rows"])

    teams = rows(by="team")
    renamed = [r for r in teams if r["value"] in (TEAM[1], FIELD_TEAM[1])]
    assert renamed, [r["value"] for r in teams]
    for row in teams:
        if row["actual"] is not None:
            assert _count(client, node, row["segment"]) == row["actual"], row["segment"]  # type: ignore[arg-type]
    # The team's drill link opens its reps, the renamed rep among them.
    for row in renamed:
        reps = rows(by="team", drill=str(row["drill"]))
        assert {tuple(r["segment"]) for r in reps} == {("department", "team", "rep")}  # type: ignore[arg-type]
        assert all(r["segment"]["team"] == row["value"] for r in reps)  # type: ignore[index]
        for rep in reps:
            if rep["actual"] is not None:
                assert _count(client, node, rep["segment"]) == rep["actual"]  # type: ignore[arg-type]
    if node == "calls":
        assert any(r["segment"]["rep"] == REP[1] for r in rows(by="rep"))  # type: ignore[index]


def test_record_ids_link_to_the_source_and_to_their_account(client: object) -> None:
    got = client.get(f"/api/records/leads?period={PERIOD}").json()  # type: ignore[attr-defined]
    row = got["rows"][0]
    lead = row["values"]["lead_id"]
    assert "/" in lead and "?#%" in lead
    assert row["source_url"] == "https://crm.example/lead/" + quote(lead, safe="")
    account = row["values"]["account_id"]
    page = client.get(f"/accounts/{quote(account, safe='')}")  # type: ignore[attr-defined]
    assert page.status_code == 200 and html.escape(account) in page.text
    api = client.get(f"/api/accounts/{quote(account, safe='')}")  # type: ignore[attr-defined]
    assert api.status_code == 200
