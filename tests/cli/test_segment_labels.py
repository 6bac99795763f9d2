"""``kpitree status --by channel|department`` heads each segment by the names
people use (チャネル: 有料検索, 部門: インサイドセールス), not the data's keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpitree.cli.render_status import _segment_title
from kpitree.i18n import set_lang
from kpitree.project import Project


@pytest.mark.parametrize(
    ("lang", "channel", "department"),
    [("ja", "チャネル: 有料検索", "部門: インサイドセールス"),
     ("en", "Channel: Paid search", "Department: Inside sales")],
)  # fmt: skip
def test_segments_are_headed_by_their_labels(
    the_model: Path, lang: str, channel: str, department: str
) -> None:
    tree = Project.load(the_model).tree
    set_lang(lang)
    try:
        assert _segment_title((("channel", "paid_search"),), None, tree) == channel
        both = _segment_title((("department", "inside_sales"), ("team", "東日本")), None, tree)
        assert both.startswith(department + " / ")
        assert _segment_title((("channel", "own_key"),), None, tree).endswith(": own_key")
    finally:
        set_lang(None)
