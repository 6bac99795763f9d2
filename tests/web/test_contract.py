"""The OpenAPI description at ``/openapi.json`` is true: a bounded, seeded
schemathesis run over every documented operation of the demo company (with
its data), once with no users configured (everyone is admin) and once logged
in as an admin, checks that no request gets a 5xx, that every status code,
content type, header and body the app answers is the one documented, that
valid requests are accepted and invalid ones refused, and that a method an
address does not take gets 405 with an ``Allow`` header naming those it does.

A route that starts answering something its description does not say fails
here. Domain rejections of well-formed values (a period text that is no
period, a node or mapping that does not exist, a file the import refuses) are
the documented 400; a schema-valid request answered 422 is not accepted.

The no-user run goes through every phase (examples, the coverage phase's
boundary values and unexpected methods, fuzzing); the admin run, which adds the
session and roles, fuzzes. The event stream is read up to its first event.
Logging out (admin run) would end the session the run uses, and adding a user
(no-user run) would turn logins on for the rest of the run: those two are run
in the other one.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig

from .conftest import PASSWORD, add_users

BASE_URL = "http://127.0.0.1"
CSRF = "contract-run-csrf-token-0123456789abcdef"
CONFIG: dict[str, Any] = {
    "seed": 20261206,
    # The default (10 s) is a wall-clock limit a busy two-core machine can pass
    # on a cold page; a hang still fails, after this.
    "request-timeout": 120,
    "generation": {
        "mode": "all",
        "max-examples": 4,
        "no-shrink": True,
        "database": "none",
        "deterministic": True,
    },
    "phases": {
        "coverage": {
            # 405 and its Allow header are checked with these two methods on every address.
            "unexpected-methods": ["OPTIONS", "PUT"],
            "generate-duplicate-query-parameters": False,
        },
        "stateful": {"enabled": False},
    },
    "max-stream-events": 1,
    "checks": {
        "enabled": True,
        # 400 is this API's documented answer to a well-formed value it cannot
        # use (see the module docstring); 422 for schema-valid data still fails.
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
        },
    },
}


def _app(project: Path) -> Any:
    from kpitree.web.app import create_app

    return create_app(project)


def _session_cookie(app: Any) -> str:
    """Log in as the admin through the app and return its session cookie."""
    from fastapi.testclient import TestClient

    client = TestClient(app, base_url=BASE_URL)
    client.cookies.set("kpitree_csrf", CSRF)
    answer = client.post(
        "/api/login",
        json={"name": "admin", "password": PASSWORD},
        headers={"X-CSRF-Token": CSRF, "Origin": BASE_URL},
    )
    assert answer.status_code == 200, answer.text
    cookie = client.cookies.get("kpitree_session")
    assert cookie
    return str(cookie)


def _schema(app: Any, cookies: str, exclude: str, *, coverage: bool = True) -> Any:
    # The app imports numpy and pandas in its worker threads on first use;
    # schemathesis looks numpy up in sys.modules while generating: import
    # them here first so it never sees a half-imported module.
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    headers = {"Cookie": cookies, "X-CSRF-Token": CSRF, "Origin": BASE_URL}
    settings = copy.deepcopy(CONFIG)
    settings["phases"]["coverage"]["enabled"] = coverage
    config = SchemathesisConfig.from_dict(settings)
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", app, config=config, headers={**headers, "Host": "127.0.0.1"}
    )
    schema.config.update(base_url=BASE_URL, headers=headers)
    return schema.exclude(path_regex=exclude)


@pytest.fixture(scope="module")
def contract_projects(
    demo_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    from schemathesis.python.asgi import shutdown_lifespans

    folder = tmp_path_factory.mktemp("contract")
    found = {}
    for name in ("no_user", "admin"):
        found[name] = folder / name
        shutil.copytree(demo_project, found[name])
    add_users(found["admin"])
    yield found
    shutdown_lifespans()


def _run(schema: Any) -> list[str]:
    """Run every phase the config enables; each failed check or error, described."""
    from schemathesis.engine import Status, events, from_schema

    found: list[str] = []
    requests = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            requests += len(event.recorder.interactions)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        found.append(
                            f"{event.recorder.label}: {failure.code} {failure.title}\n"
                            f"{failure.message}\n{check.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError):
            found.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            found.append(f"fatal: {event.exception!r}")
    assert requests > 60, f"only {requests} requests were made"
    return sorted(set(found))


@pytest.mark.slow
def test_api_keeps_its_description_with_no_users(contract_projects: dict[str, Path]) -> None:
    app = _app(contract_projects["no_user"])
    failures = _run(_schema(app, f"kpitree_csrf={CSRF}", exclude="^/api/users$"))
    assert not failures, "\n\n".join(failures)


@pytest.mark.slow
def test_api_keeps_its_description_for_an_admin(contract_projects: dict[str, Path]) -> None:
    app = _app(contract_projects["admin"])
    cookies = f"kpitree_session={_session_cookie(app)}; kpitree_csrf={CSRF}"
    failures = _run(_schema(app, cookies, exclude="^/api/logout$", coverage=False))
    assert not failures, "\n\n".join(failures)


# -- the rules the run relies on, checked directly ---------------------------------------

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_every_operation_documents_its_errors_in_the_one_shape(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert set(spec["components"]["schemas"]["ErrorBody"]["properties"]) == {"error"}
    for method, path, operation in _operations(spec):
        responses = operation["responses"]
        where = f"{method} {path}"
        for status, response in responses.items():
            if int(status) >= 400:
                assert response["content"] == {"application/json": {"schema": ERROR_BODY}}, where
        assert {"421", "422", "500"} <= set(responses), where
        if method in ("POST", "PATCH", "DELETE"):
            assert "403" in responses, where  # the CSRF token
        if path not in ("/api/login", "/api/logout", "/api/session"):
            assert "401" in responses, where  # a login when users are configured
    tree = spec["paths"]["/api/tree"]["get"]["responses"]
    assert {"400", "401", "404"} <= set(tree)
    assert spec["paths"]["/api/login"]["post"]["responses"].keys() >= {"401", "429"}
    assert "413" in spec["paths"]["/api/imports/preview"]["post"]["responses"]
    assert "404" in spec["paths"]["/api/imports/{import_id}/undo"]["post"]["responses"]


def test_downloads_and_the_event_stream_are_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    downloads = [
        (path, operation)
        for method, path, operation in _operations(spec)
        if method == "GET" and any(p["name"] == "format" for p in operation.get("parameters", []))
    ]
    assert {path for path, _ in downloads} == {
        "/api/tree",
        "/api/nodes/{node_id}",
        "/api/funnel",
        "/api/departments",
        "/api/departments/{dept}",
        "/api/plan",
        "/api/imports",
        "/api/alerts",
        "/api/sla",
        "/api/sla/cases",
        "/api/records/{node_id}",
        "/api/accounts",
        "/api/review/scorecards",
    }
    for path, operation in downloads:
        content = operation["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/csv", xlsx}, path
        formats = next(p for p in operation["parameters"] if p["name"] == "format")
        assert formats["schema"]["enum"] == ["json", "csv", "xlsx"], path
    events = spec["paths"]["/api/events"]["get"]["responses"]["200"]["content"]
    assert list(events) == ["text/event-stream"]


def test_405_names_every_method_the_address_takes(client: TestClient) -> None:
    answer = client.options("/api/imports")
    assert answer.status_code == 405 and answer.headers["allow"] == "GET, POST"
    assert answer.json()["error"]["code"] == "KT603"
    assert client.put("/api/users/someone").headers["allow"] == "DELETE, PATCH"
    assert client.post("/api/tree").headers["allow"] == "GET"


@pytest.mark.parametrize(
    "path",
    ["/api/tree", "/api/nodes/won_deals", "/api/plan", "/api/imports", "/api/alerts", "/api/sla"],
)
def test_an_unknown_download_format_is_400_kt623(client: TestClient, path: str) -> None:
    answer = client.get(path, params={"format": "pdf"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "KT623"
    assert "pdf" in answer.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/", "/funnel", "/alerts", "/sla"])
def test_a_page_answers_an_unknown_download_format_with_400_kt623(
    client: TestClient, path: str
) -> None:
    answer = client.get(path, params={"format": "pdf"})
    assert answer.status_code == 400 and "KT623" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


def test_an_address_naming_nothing_is_404(client: TestClient) -> None:
    token = client.get("/api/session").json()["csrf_token"]
    headers = {"X-CSRF-Token": token}
    undo = client.post("/api/imports/987/undo", headers=headers)
    assert undo.status_code == 404 and undo.json()["error"]["code"] == "KT650"
    assert "987" in undo.json()["error"]["message"]
    for method in ("PATCH", "DELETE"):
        answer = client.request(method, "/api/users/nobody", json={}, headers=headers)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "KT611"
