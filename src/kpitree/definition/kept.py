"""The checked tree kept between commands, so that a command on an unchanged
definition neither parses its YAML nor validates and resolves it again.

On a miss the definition is loaded as always (:func:`kpitree.definition.resolve.load_tree`:
YAML, the pydantic models, every rule); the resolved :class:`~kpitree.definition.tree.Tree`
is then written as plain JSON data: dataclasses and models by class name and
fields (models with the fields that were set, rebuilt without validating them
again), tuples, mappings and paths tagged. Only classes of ``kpitree.definition``
and :class:`~kpitree.errors.Span` are read back.

The kept tree is used only while everything it came from is the same: the bytes
of the definition file and of every file its ``include:`` patterns matched (the
patterns matching the same files), the path it was loaded by, the kpitree and
pydantic versions and the code of ``kpitree.definition`` (its files' sizes and
times). A definition with errors is never kept: loading it again reports them.
The file is sealed with the user's own key (:mod:`kpitree.sealed`): a tree
someone else wrote into the project is never used in place of its definition.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib
import json
import os
import tempfile
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from kpitree.sealed import seal, unseal

if TYPE_CHECKING:
    from kpitree.definition.tree import Tree

__all__ = ["KEPT_FILE", "from_plain", "kept_tree", "plain"]

KEPT_FILE = "definition.json"
_FORMAT = 1
# Classes read back: the tree's own, the formula's, units and the spec models.
_MODULES = ("kpitree.definition.", "kpitree.errors")


def kept_tree(file: Path, folder: Path | None) -> Tree:
    """The checked tree of the definition ``file`` (as
    :func:`~kpitree.definition.resolve.load_tree` gives it), kept in ``folder``
    (``None``: not kept; nor when neither the folder nor its parent exists: a
    project that never ran a command gets no folder from a load)."""
    kept = None if folder is None else folder / KEPT_FILE
    if kept is not None:
        tree = _read(kept, file)
        if tree is not None:
            return tree
    from kpitree.definition.resolve import load_tree

    tree = load_tree(str(file))
    if kept is not None and folder is not None and folder.parent.is_dir():
        _write(kept, file, tree)
    return tree


# -- what a kept tree depends on ---------------------------------------------------


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _code() -> list[Any]:
    """kpitree's and pydantic's versions and the definition code's files."""
    import pydantic

    from kpitree import __version__

    here = Path(__file__).parent
    files = []
    for path in sorted([*here.glob("*.py"), here.parent / "errors.py", here.parent / "source.py"]):
        st = path.stat()
        files.append([path.name, st.st_size, st.st_mtime_ns])
    return [_FORMAT, __version__, pydantic.VERSION, files]


def _includes(file: Path, patterns: list[str]) -> list[list[Any]]:
    """Each ``include:`` pattern with the files it matches now."""
    root = file.parent
    return [[p, [str(m) for m in sorted(root.glob(p))]] for p in patterns]


def _read(kept: Path, file: Path) -> Tree | None:
    try:
        body = unseal(kept.read_bytes())
        if body is None:  # not sealed by this user: load the definition
            return None
        stored = json.loads(bytes(body).decode("utf-8"))
    except (OSError, ValueError):
        return None
    try:
        if stored["file"] != str(file) or stored["code"] != _code():
            return None
        includes = stored["includes"]
        if _includes(file, [p for p, _ in includes]) != includes:
            return None
        for name, digest in stored["files"]:
            if _digest(Path(name)) != digest:
                return None
        tree = _decode(stored["tree"])
    except (KeyError, TypeError, ValueError, AttributeError, ImportError):
        return None  # written by other code, or damaged: load the definition
    from kpitree.definition.tree import Tree

    return tree if isinstance(tree, Tree) else None


def _write(kept: Path, file: Path, tree: Tree) -> None:
    """Keep ``tree`` (atomically; a failure only means it is loaded again)."""
    from kpitree.source import load_yaml

    data = load_yaml(file).data
    patterns = data.get("include") if isinstance(data, dict) else None
    patterns = [p for p in patterns or [] if isinstance(p, str)]
    includes = _includes(file, patterns)
    read = [str(file), *(m for _, matches in includes for m in matches)]
    try:
        body = json.dumps(
            {
                "file": str(file),
                "code": _code(),
                "includes": includes,
                "files": [[name, _digest(Path(name))] for name in read],
                "tree": _encode(tree),
            },
            ensure_ascii=False,
        )
    except TypeError:  # something this format cannot hold: not kept
        return
    try:
        kept.parent.mkdir(exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".definition-", dir=kept.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(seal(body.encode("utf-8")))
        Path(temp).replace(kept)
    except OSError:
        pass


# -- plain data ------------------------------------------------------------------


def plain(value: Any) -> Any:
    """``value`` (classes and models of :mod:`kpitree.definition`, tuples,
    mappings, paths) as plain JSON data, as a kept tree is written;
    :func:`from_plain` builds it again without validating the models."""
    return _encode(value)


def from_plain(data: Any) -> Any:
    """The value :func:`plain` gave ``data`` for (``ValueError``, ``TypeError``,
    ``AttributeError`` or ``ImportError`` for data it did not write)."""
    return _decode(data)


def _class_name(cls: type) -> str:
    name = f"{cls.__module__}:{cls.__qualname__}"
    if not cls.__module__.startswith(_MODULES):
        raise TypeError(f"not kept: {name}")
    return name


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return {"t": [_encode(v) for v in value]}
    if isinstance(value, dict):
        if type(value) is not dict:
            raise TypeError(f"not kept: {type(value).__name__}")
        return {"d": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, frozenset | set):
        kind = "fs" if isinstance(value, frozenset) else "s"
        return {kind: [_encode(v) for v in value]}
    if isinstance(value, PurePath):
        if type(value) not in (Path, type(Path()), PurePath, type(PurePath())):
            raise TypeError(f"not kept: {type(value).__name__}")
        return {"p": str(value)}
    if isinstance(value, dt.datetime | dt.date):
        raise TypeError("not kept: dates")  # none in a tree today
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init
        }
        return {"c": _class_name(type(value)), "f": fields}
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        if value.model_extra or value.__pydantic_private__:
            raise TypeError("not kept: extra or private model data")
        fields = {name: _encode(getattr(value, name)) for name in type(value).model_fields}
        return {"m": _class_name(type(value)), "f": fields, "s": sorted(value.model_fields_set)}
    if hasattr(value, "__members__") or type(value).__module__ == "enum":
        raise TypeError("not kept: enums")
    raise TypeError(f"not kept: {type(value).__name__}")


def _class(name: str) -> Any:
    module, _, qualname = name.partition(":")
    if not module.startswith(_MODULES):
        raise ValueError(name)
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def _decode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        raise ValueError(value)
    if "t" in value:
        return tuple(_decode(v) for v in value["t"])
    if "d" in value:
        return {_decode(k): _decode(v) for k, v in value["d"]}
    if "fs" in value:
        return frozenset(_decode(v) for v in value["fs"])
    if "s" in value and "m" not in value:
        return {_decode(v) for v in value["s"]}
    if "p" in value:
        return Path(value["p"])
    fields = {k: _decode(v) for k, v in value["f"].items()}
    if "c" in value:
        cls = _class(value["c"])
        if not isinstance(cls, type) or not dataclasses.is_dataclass(cls):
            raise ValueError(value["c"])
        return cls(**fields)
    from pydantic import BaseModel

    model = _class(value["m"])
    if not isinstance(model, type) or not issubclass(model, BaseModel):
        raise ValueError(value["m"])
    return model.model_construct(_fields_set=set(value["s"]), **fields)
