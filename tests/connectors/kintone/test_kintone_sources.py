"""``kpitree sources test`` and ``verify`` on kintone, and the errors a user
meets: each says what to grant or rename, and none shows the token."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.kintone.conftest import TOKEN_ENV, KintoneSetup, write_project
from fakes.kintone_company import APP_ID, MAPPING
from kpitree.connectors.sync import sync_project


def test_sources_test_passes_on_a_good_setup(kintone: KintoneSetup, kpitree) -> None:
    run = kpitree("sources", "test", kintone.project, "--json")
    assert run.code == 0, run.out
    [source] = run.json()["sources"]
    assert [c["ok"] for c in source["checks"]] == [True]
    assert source["checks"][0]["check"] == f"deals (app {APP_ID})"


def test_sources_test_names_a_renamed_field_and_a_table_field(
    kintone: KintoneSetup, kpitree, tmp_path: Path
) -> None:
    mapping = MAPPING.replace("column: 商談ステージ", "column: ステージ").replace(
        "product: {column: 製品", "product: {column: 明細"
    )
    project = write_project(tmp_path / "renamed", kintone.url, mapping=mapping)
    run = kpitree("sources", "test", project)
    assert run.code == 1
    assert "no field with the code 'ステージ' (did you mean '商談ステージ'?)" in run.out
    assert "フィールドコード" in run.out
    assert "'明細' of app 12 is a SUBTABLE" in run.out
    [result] = sync_project(project)
    assert result.error is not None and "ステージ" in str(result.error)
    assert result.import_id is None


def test_sources_test_notes_an_optional_field_the_app_lacks(
    kintone: KintoneSetup, kpitree, tmp_path: Path
) -> None:
    mapping = MAPPING.replace("column: 金額", "column: 金額合計")
    project = write_project(tmp_path / "optional", kintone.url, mapping=mapping)
    run = kpitree("sources", "test", project)
    assert run.code == 0
    assert "optional field '金額合計' is not in the app (did you mean '金額'?)" in run.out


@pytest.mark.parametrize(
    ("token", "code", "says"),
    [
        ("other-app", "KT950", "レコード閲覧"),
        ("no-view", "KT951", "アプリを更新"),
        ("unknown-app", "KT952", "/k/404/"),
    ],
)
def test_refusals_say_what_to_do_and_never_show_the_token(
    kintone: KintoneSetup, kpitree, tmp_path: Path, monkeypatch, token: str, code: str, says: str
) -> None:
    app = 404 if token == "unknown-app" else APP_ID
    secret = {
        "other-app": kintone.domain.new_token(7),
        "no-view": kintone.domain.new_token(APP_ID, view=False),
        "unknown-app": kintone.deals.token,
    }[token]
    monkeypatch.setenv(TOKEN_ENV, secret)
    project = write_project(tmp_path / token, kintone.url, app=app)
    run = kpitree("sync", project, "--json")
    assert run.code == 1
    [source] = run.json()["sources"]
    [error] = source["errors"]
    assert error["code"] == code and says in error["message"]
    assert TOKEN_ENV in error["message"] or code == "KT952"
    listed = kpitree("sources", project, "--json")
    for text in (run.out, run.err, listed.out):
        assert secret not in text
    assert code in listed.out


def test_unset_token_is_named(kintone: KintoneSetup, kpitree, monkeypatch) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    run = kpitree("sources", "test", kintone.project)
    assert run.code == 1 and TOKEN_ENV in run.out


def test_verify_matches_kintone_total_count_per_month(kintone: KintoneSetup, kpitree) -> None:
    sync_project(kintone.project)
    run = kpitree("sources", "verify", kintone.project, "--period", "2025-04..2026-03", "--json")
    assert run.code == 0, run.out
    [source] = run.json()["sources"]
    truth = kintone.deals.created_per_month()
    assert {m["month"]: m["source"] for m in source["months"]} == truth
    assert all(m["matches"] and m["column"] == "deals.created_at" for m in source["months"])
    kintone.deals.delete(5)
    again = kpitree("sources", "verify", kintone.project, "--period", "2025-04..2026-03")
    assert again.code == 1


def test_kintone_and_lock_codes_are_documented() -> None:
    import re

    root = Path(__file__).resolve().parents[3]
    source = root / "src" / "kpitree" / "connectors"
    emitted: set[str] = set()
    for path in [*(source / "kintone").rglob("*.py"), source / "lock.py"]:
        emitted |= set(re.findall(r'"(KT95\d|KT97\d)"', path.read_text(encoding="utf-8")))
    doc = (root / "docs" / "sources.md").read_text(encoding="utf-8").split("## Error codes")[1]
    documented = set(re.findall(r"^\| `(KT95\d|KT97\d)` \|", doc, flags=re.MULTILINE))
    assert emitted == documented == {*(f"KT95{i}" for i in (0, 1, 2, 3, 4, 6, 7)), "KT970"}
