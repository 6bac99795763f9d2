"""The checked tree kept between commands (:mod:`kpitree.definition.kept`):
read back equal to a fresh load, and loaded afresh after any change of what it
came from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import kpitree
from kpitree.definition.kept import KEPT_FILE, _encode, kept_tree
from kpitree.definition.resolve import load_tree
from kpitree.errors import DefinitionError
from kpitree.project import Project
from kpitree.sealed import seal, unseal

ROOT = Path(__file__).parents[2]

MAIN = """\
kpitree: 1
name: Kept plan
period: month
include: ["more/*.yaml"]
nodes:
  revenue: {kind: kgi, unit: currency, formula: deals * price, target: 1000}
  deals: {unit: count, owner: field_sales, formula: leads * win_rate, indicator: lagging}
  win_rate: {unit: ratio, owner: field_sales, assume: 0.2}
  price: {unit: currency, owner: field_sales, assume: 10}
"""
LEADS = "nodes:\n  leads: {unit: count, owner: marketing, indicator: leading, target: 50}\n"


def _project(folder: Path, main: str = MAIN) -> Path:
    (folder / "more").mkdir(parents=True)
    (folder / "kpitree.yaml").write_text(main, encoding="utf-8")
    (folder / "more" / "leads.yaml").write_text(LEADS, encoding="utf-8")
    (folder / ".kpitree" / "cache").mkdir(parents=True)
    return folder / "kpitree.yaml"


def _cache(file: Path) -> Path:
    return file.parent / ".kpitree" / "cache"


def _kept_read(file: Path) -> bool:
    """Whether the next load reads the kept tree: it is kept, and it is what
    the load gives (the kept file marked so that a fresh load would differ)."""
    kept = _cache(file) / KEPT_FILE
    if not kept.is_file():
        return False
    stored = json.loads(_opened(kept))
    name = stored["tree"]["f"]["name"]
    stored["tree"]["f"]["name"] = "marked"
    _sealed(kept, json.dumps(stored, ensure_ascii=False))
    read = kept_tree(file, _cache(file)).name == "marked"
    stored["tree"]["f"]["name"] = name
    _sealed(kept, json.dumps(stored, ensure_ascii=False))
    return read


def _opened(kept: Path) -> str:
    """The kept file's JSON (it is sealed with the user's key: kpitree.sealed)."""
    body = unseal(kept.read_bytes())
    assert body is not None
    return bytes(body).decode("utf-8")


def _sealed(kept: Path, text: str) -> None:
    """Write ``text`` as kpitree would, sealed: what the checks below the seal see."""
    kept.write_bytes(seal(text.encode("utf-8")))


def _definitions(tmp_path: Path) -> list[Path]:
    Project.init(tmp_path / "the-model")
    files = [tmp_path / "the-model" / "kpitree.yaml"]
    for example in ("maven", "olist"):
        shutil.copytree(ROOT / "examples" / example, tmp_path / example)
        files.append(tmp_path / example / "kpitree.yaml")
    return files


def test_kept_tree_equals_a_fresh_load(tmp_path: Path) -> None:
    for file in [*_definitions(tmp_path), _project(tmp_path / "kept")]:
        _cache(file).mkdir(parents=True, exist_ok=True)
        fresh = load_tree(str(file))
        assert kept_tree(file, _cache(file)) == fresh  # a miss: loaded and kept
        assert _kept_read(file), file
        kept = kept_tree(file, _cache(file))
        assert kept == fresh
        # Every field and the fields each model was given, the same.
        assert _encode(kept) == _encode(fresh)
        assert kept.nodes[kept.kgi].children == fresh.nodes[fresh.kgi].children


def test_a_project_without_its_folder_keeps_nothing(tmp_path: Path) -> None:
    file = _project(tmp_path / "p")
    shutil.rmtree(file.parent / ".kpitree")
    Project.load(file.parent)
    assert not (file.parent / ".kpitree").exists()


def test_the_definition_changed(tmp_path: Path) -> None:
    file = _project(tmp_path / "p")
    assert Project.load(file.parent).tree.nodes["revenue"].target.horizon == 1000  # type: ignore[union-attr]
    assert _kept_read(file)
    file.write_text(MAIN.replace("target: 1000", "target: 2000"), encoding="utf-8")
    assert Project.load(file.parent).tree.nodes["revenue"].target.horizon == 2000  # type: ignore[union-attr]
    assert _kept_read(file)


def test_an_included_file_changed_added_or_removed(tmp_path: Path) -> None:
    file = _project(tmp_path / "p")
    assert Project.load(file.parent).tree.nodes["leads"].target.horizon == 50  # type: ignore[union-attr]
    leads = file.parent / "more" / "leads.yaml"
    leads.write_text(LEADS.replace("target: 50", "target: 60"), encoding="utf-8")
    assert Project.load(file.parent).tree.nodes["leads"].target.horizon == 60  # type: ignore[union-attr]
    assert _kept_read(file)
    # A new file the pattern matches.
    extra = "nodes:\n  calls: {unit: count, owner: marketing, assume: 5}\n"
    (file.parent / "more" / "calls.yaml").write_text(extra, encoding="utf-8")
    assert "calls" in Project.load(file.parent).tree.nodes
    assert _kept_read(file)
    (file.parent / "more" / "calls.yaml").unlink()
    assert "calls" not in Project.load(file.parent).tree.nodes


def test_an_error_is_reported_not_hidden_by_the_kept_tree(tmp_path: Path) -> None:
    file = _project(tmp_path / "p")
    Project.load(file.parent)
    assert _kept_read(file)
    file.write_text(MAIN.replace("deals * price", "deals * pricee"), encoding="utf-8")
    with pytest.raises(DefinitionError):
        Project.load(file.parent)
    file.write_text(MAIN, encoding="utf-8")
    assert Project.load(file.parent).tree.nodes["revenue"].formula_text == "deals * price"


def test_another_kpitree_version_or_path_loads_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = _project(tmp_path / "p")
    Project.load(file.parent)
    assert _kept_read(file)
    monkeypatch.setattr(kpitree, "__version__", "0.0.0-other")
    assert not _kept_read(file)  # kept by the other version: not read
    Project.load(file.parent)  # kept again by this one
    assert _kept_read(file)
    monkeypatch.undo()
    assert not _kept_read(file)
    # The same definition by another path: its spans name that path.
    Project.load(file.parent)
    other = kept_tree(Path(str(file).replace("/p/", "/p/./")), _cache(file))
    assert other.nodes["revenue"].span.file == str(Path(str(file).replace("/p/", "/p/./")))  # type: ignore[union-attr]


def test_a_damaged_kept_file_is_loaded_afresh(tmp_path: Path) -> None:
    file = _project(tmp_path / "p")
    fresh = Project.load(file.parent).tree
    kept = _cache(file) / KEPT_FILE
    good = _opened(kept)
    for damage in ("{", '{"file": 1}', json.dumps({**json.loads(good), "tree": 5})):
        _sealed(kept, damage)
        assert Project.load(file.parent).tree == fresh
    # A class outside the definition's is never built from the file.
    stored = json.loads(good)
    stored["tree"]["f"]["plan"]["c"] = "subprocess:Popen"
    _sealed(kept, json.dumps(stored))
    assert Project.load(file.parent).tree == fresh
    # Nor is a file without the user's seal read at all.
    kept.write_text(good.replace(fresh.name, "planted"), encoding="utf-8")
    assert Project.load(file.parent).tree == fresh
