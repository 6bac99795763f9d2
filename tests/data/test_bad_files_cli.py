"""A refused import leaves the warehouse readable: ``kpitree query`` still works."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from kpitree.cli import main

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "maven" / "kpitree.yaml"
MAPPING = """\
mapping: 1
tables:
  deals:
    deal_id: ID
    created_at: Created
    amount: Amount
    stage: Stage
    status: {column: Stage, map: {won: won, lost: lost}, else: open}
"""
GOOD = "ID,Created,Amount,Stage\nD1,2026/01/07,100,open\n"
BAD = (
    "ID,Created,Amount,Stage\nD2,0000/01/01,1,open\nD3,-2026-01-01,1,open\n"
    "D4,99999/01/01,1,open\nD5,26/01/07,1,open\nD6,2026-01-07T09:00:00+25:00,1,open\n"
    "D7,2026/01/07,1e400,open\nD8,2026/01/08,5,won\n"
)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_query_works_after_refused_and_partial_imports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPITREE_LANG", "en")
    shutil.copy(EXAMPLE, tmp_path / "kpitree.yaml")
    (tmp_path / "m.yaml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "good.csv").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.csv").write_text(BAD, encoding="utf-8")
    p = str(tmp_path)
    assert _run(capsys, "import", f"{p}/good.csv", "-m", f"{p}/m.yaml", "-p", p)[0] == 0
    code, _, err = _run(capsys, "import", f"{p}/bad.csv", "-m", f"{p}/m.yaml", "-p", p)
    assert code == 1 and "Traceback" not in err and err.count("error:") == 7
    code, _, err = _run(
        capsys, "import", f"{p}/bad.csv", "-m", f"{p}/m.yaml", "-p", p, "--skip-invalid"
    )
    assert code == 0, err
    code, out, err = _run(capsys, "query", "-p", p, "select * from deals order by 1", "--json")
    assert code == 0, err
    rows: list[dict[str, Any]] = json.loads(out)
    assert [r["deal_id"] for r in rows] == ["D1", "D8"]
