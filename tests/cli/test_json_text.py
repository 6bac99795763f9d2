"""`--json` output: the same characters as `json.dumps(payload, ensure_ascii=False,
indent=2, default=str)`, written faster (runs of one-line values by the C encoder)."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

import pytest

from kpitree.cli.json_text import Records, dumps

_SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    -3,
    2**70,
    1.5,
    -0.0,
    float("nan"),
    float("inf"),
    -float("inf"),
    1e16,
    1e-7,
    "",
    "x",
    '東京, 営業部: {"a": [1]}\n\t\\',
    dt.date(2026, 1, 2),
    {1, 2},
    (),
    [],
    {},
]


class _Label(str):
    pass


def _stdlib(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=2, default=str)


def _random(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if depth > 3 or r < 0.45:
        return rng.choice(_SCALARS)
    if r < 0.65:
        return [_random(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    if r < 0.7:
        return tuple(_random(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    if r < 0.92:
        keys = ["a", "ключ", "d\n", "", "営業"]
        return {
            rng.choice(keys) + str(i): _random(rng, depth + 1) for i in range(rng.randint(0, 5))
        }
    if r < 0.96:  # keys json turns into text, subclasses of str
        return {rng.choice([1, 2.5, None, True, _Label("k")]): _random(rng, depth + 1)}
    return [_Label("x"), {_Label("y"): [1, [2, {}]]}]


@pytest.mark.parametrize("seed", range(20))
def test_the_text_is_json_dumps_character_for_character(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        payload = _random(rng)
        assert dumps(payload) == _stdlib(payload), payload


def test_a_status_like_payload_is_json_dumps_character_for_character() -> None:
    row = {
        "label": "商談化率",
        "node": "rate",
        "segment": {"department": "東日本", "team": None},
        "actual": 0.1 + 0.2,
        "flags": [],
        "incomplete": False,
        "data_until": "2026-03-31",
    }
    flagged = {**row, "flags": [{"code": "low_volume", "nodes": ["a", "b"], "message": "少"}]}
    payload = {"project": "p", "rows": [row, flagged, {**row, "segment": {}}], "gaps": {}}
    assert dumps(payload) == _stdlib(payload)
    assert dumps([]) == "[]" and dumps("東") == '"東"' and dumps(1.0) == "1.0"


@pytest.mark.parametrize("seed", range(10))
def test_records_are_written_as_the_list_of_their_dicts(seed: int) -> None:
    """Rows given a column at a time (values nested or not, objects shared by
    rows, keys with ``%`` and quotes) give json.dumps of the dicts they stand for,
    wherever they sit in the payload."""
    rng = random.Random(seed)
    for _ in range(30):
        keys = [rng.choice(["a", "ключ", 'd"%s\n', "", "営業%"]) + str(i) for i in range(5)]
        keys = keys[: rng.randint(0, 5)]
        rows = rng.randint(0, 6)
        shared = _random(rng)
        columns = [
            [shared if rng.random() < 0.3 else _random(rng) for _ in range(rows)] for _ in keys
        ]
        records = Records(keys, columns)
        as_dicts = list(records)
        assert len(as_dicts) == len(records) == (rows if keys else 0)
        for payload, plain in [
            (records, as_dicts),
            ({"rows": records, "n": 1}, {"rows": as_dicts, "n": 1}),
            ([[records]], [[as_dicts]]),
        ]:
            assert dumps(payload) == _stdlib(plain), plain


def test_records_refuse_what_they_cannot_stand_for() -> None:
    with pytest.raises(ValueError, match="one column per text key"):
        Records(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="one column per text key"):
        Records([1], [[1]])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="differ in length"):
        Records(["a", "b"], [[1], [1, 2]])
