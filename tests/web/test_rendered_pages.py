"""Pages rendered once and served many times (kpitree.web.rendered), in
process on a copy of the tiny demo company: a user is never shown another's
page, every browser gets its own CSRF token, a kept page is exactly the page
rendered afresh, and an import renders the pages again with the new numbers
(showing the previous ones, marked as updating, until they are computed)."""

from __future__ import annotations

import datetime as dt
import re
from contextlib import closing
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from kpitree.web.app import create_app

from .conftest import PASSWORD, add_users, run_kpitree

EN = {"accept-language": "en"}
PAGES = (
    "/",
    "/?period=this-year",
    "/nodes/won_deals",
    "/nodes/won_deals?drill=field_sales",
    "/funnel",
    "/departments",
    "/departments/field_sales",
    "/plan",
    "/plan?set=win_rate=0.3",
    "/sla",
    "/api/sla",
    # The JSON twins: written by their response model once per view model.
    "/api/tree",
    "/api/tree?period=this-year",
    "/api/nodes/won_deals?drill=field_sales",
    "/api/funnel",
    "/api/departments",
    "/api/departments/field_sales",
    "/api/plan?set=win_rate=0.3",
)


def token(client: TestClient) -> str:
    found: str = client.get("/api/session").json()["csrf_token"]
    return found


def signed_in(app: object, name: str) -> TestClient:
    client = TestClient(app, base_url="http://localhost", headers=EN)  # type: ignore[arg-type]
    answer = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "next": "/", "csrf_token": token(client)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


def meta_token(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]*)">', html)
    assert found
    return found.group(1)


def test_a_page_is_never_served_to_another_user(demo_copy: Path) -> None:
    add_users(demo_copy)
    app = create_app(demo_copy)
    viewer, editor, viewer_again = (signed_in(app, n) for n in ("viewer", "editor", "viewer"))
    with closing(viewer), closing(editor), closing(viewer_again):
        pages = {
            name: client.get("/nodes/won_deals").text
            for name, client in (("viewer", viewer), ("editor", editor), ("again", viewer_again))
        }
        tokens = {
            "viewer": token(viewer),
            "editor": token(editor),
            "again": token(viewer_again),
        }
    kept = app.state.rendered_pages
    # The viewer's and the editor's pages are two renderings; the viewer's
    # second browser is served the viewer's.
    assert (kept.misses, kept.hits) == (2, 1)
    name = re.compile(r'data-testid="user-name">([^<]*)<')
    assert name.findall(pages["viewer"]) == ["viewer (viewer)"]
    assert name.findall(pages["editor"]) == ["editor (editor)"]
    assert name.findall(pages["again"]) == ["viewer (viewer)"]
    # Every browser gets its own token, in the page as in its session.
    assert len(set(tokens.values())) == 3
    for who, html in pages.items():
        assert meta_token(html) == tokens[who]
        assert "kt-csrf-" not in html
    assert pages["again"] == pages["viewer"].replace(tokens["viewer"], tokens["again"])
    assert pages["editor"] != pages["viewer"].replace(tokens["viewer"], tokens["editor"])


def test_a_kept_page_is_the_page_rendered_afresh(demo_copy: Path) -> None:
    app = create_app(demo_copy)
    with closing(TestClient(app, base_url="http://localhost", headers=EN)) as client:
        for path in PAGES:
            minute = dt.datetime.now(dt.UTC).strftime("%H:%M")
            first = client.get(path)
            hits = app.state.rendered_pages.hits
            again = client.get(path)
            assert first.status_code == again.status_code == 200, path
            hit = app.state.rendered_pages.hits == hits + 1
            app.state.rendered_pages.clear()
            afresh = client.get(path)
            # The SLA page is computed again every minute (its open cases follow the clock).
            if path.endswith("/sla") and dt.datetime.now(dt.UTC).strftime("%H:%M") != minute:
                continue
            assert hit, path
            assert again.text == first.text == afresh.text, path


def test_an_import_renders_the_pages_again_with_the_new_numbers(demo_copy: Path) -> None:
    app = create_app(demo_copy)
    leads = re.compile(r'data-node-id="leads".*?data-field="actual" data-value="([\d.]+)"', re.S)
    with closing(TestClient(app, base_url="http://localhost", headers=EN)) as client:
        before = client.get("/").text
        assert client.get("/").text == before  # kept
        counted = float(leads.findall(before)[0])
        assert client.get("/api/tree").json()["nodes"]["leads"]["actual"] == counted
        day = dt.datetime.now(ZoneInfo("Asia/Tokyo")).date().strftime("%m/%d/%Y")
        csv = demo_copy.parent / "leads-today.csv"
        rows = [f"RP-{i},{day},web,Open - Not Contacted" for i in range(3)]
        csv.write_text("Lead ID,Create Date,Lead Source,Lead Status\n" + "\n".join(rows) + "\n")
        run_kpitree("import", csv, "--mapping", "salesforce-leads", "--project", demo_copy)
        # At once: the previous figures, marked as updating, while the new compute.
        meanwhile = client.get("/")
        # A JSON twin waits for the new figures; then the page shows them, unmarked.
        twin = client.get("/api/tree").json()["nodes"]["leads"]["actual"]
        after = client.get("/")
    assert 'data-testid="data-updating"' in meanwhile.text
    assert "x-kpitree-data-updating" in meanwhile.headers
    assert float(leads.findall(meanwhile.text)[0]) == counted
    assert 'data-testid="data-updating"' not in after.text
    assert "x-kpitree-data-updating" not in after.headers
    assert float(leads.findall(after.text)[0]) == twin == counted + 3


def test_a_kept_twin_is_what_its_response_model_writes(demo_copy: Path) -> None:
    from pydantic import TypeAdapter

    from kpitree.web.views import schemas

    app = create_app(demo_copy)
    twins = {
        "/api/tree": schemas.TreePage,
        "/api/nodes/won_deals": schemas.NodePage,
        "/api/funnel": schemas.FunnelPage,
        "/api/departments": schemas.DepartmentsPage,
        "/api/departments/field_sales": schemas.DepartmentPage,
        "/api/plan": schemas.PlanPage,
    }
    with closing(TestClient(app, base_url="http://localhost", headers=EN)) as client:
        for path, model in twins.items():
            client.get(path)
            hits = app.state.rendered_pages.hits
            kept = client.get(path)
            assert app.state.rendered_pages.hits == hits + 1, path
            assert kept.headers["content-type"] == "application/json", path
            # Every field in the model's order and spelling, nothing else.
            adapter = TypeAdapter(model)
            assert adapter.dump_json(adapter.validate_json(kept.content)) == kept.content, path
