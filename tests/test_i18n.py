"""Message catalogs and the current language."""

from __future__ import annotations

import json
import string
from importlib import resources

import pytest

from kpitree.i18n import LANGUAGES, Msg, catalog, detect_lang, t


def _domain_files(lang: str) -> dict[str, dict[str, str]]:
    folder = resources.files("kpitree.i18n") / "catalogs" / lang
    return {
        entry.name: json.loads(entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_both_languages_have_the_same_domain_files() -> None:
    assert set(_domain_files("ja")) == set(_domain_files("en"))


def test_both_languages_have_the_same_keys() -> None:
    assert set(catalog("ja")) == set(catalog("en"))


def test_same_fields_per_key() -> None:
    ja, en = catalog("ja"), catalog("en")
    different = {key: (_fields(ja[key]), _fields(en[key])) for key in en if key in ja}
    assert {k: v for k, v in different.items() if v[0] != v[1]} == {}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_key_in_two_domain_files(lang: str) -> None:
    seen: dict[str, str] = {}
    clashes = []
    for name, messages in sorted(_domain_files(lang).items()):
        for key in messages:
            if key in seen:
                clashes.append((key, seen[key], name))
            seen[key] = name
    assert clashes == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_template_formats(lang: str) -> None:
    for key, template in catalog(lang).items():
        template.format(**dict.fromkeys(_fields(template), "x"))  # no stray braces
        assert template.strip(), key


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({}, "en"),
        ({"KPITREE_LANG": "ja"}, "ja"),
        ({"KPITREE_LANG": "EN", "LANG": "ja_JP.UTF-8"}, "en"),
        ({"KPITREE_LANG": "fr", "LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LC_ALL": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, "ja"),
        ({"LC_ALL": "C", "LANG": "ja_JP.UTF-8"}, "en"),
        ({"LC_MESSAGES": "ja_JP", "LANG": "C"}, "ja"),
        ({"LANGUAGE": "ja"}, "ja"),
    ],
)
def test_detect_lang(environ: dict[str, str], lang: str) -> None:
    assert detect_lang(environ) == lang


def test_nested_message_follows_the_outer_language() -> None:
    hint = Msg("hint.did_you_mean", {"name": "target"})
    params = {"key": "targt", "where": "nodes.sqls", "hint": hint}
    assert t("def.unknown_key", lang="en", **params) == (
        "unknown key 'targt' in nodes.sqls (did you mean 'target'?)"
    )
    assert t("def.unknown_key", lang="ja", **params) == (
        "nodes.sqls に未知のキー 'targt' があります（もしかして 'target'？）"
    )


def test_missing_key_falls_back_to_the_key() -> None:
    assert t("no.such.message", lang="ja") == "no.such.message"
