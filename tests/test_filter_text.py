"""Filter values survive a URL: written by :func:`filter_text` (and
:meth:`PageQuery.params`), percent-encoded, decoded and read back by
:func:`filter_values` (and :meth:`PageQuery.from_params`) they are the same
values, commas, quotes, Japanese and the characters URLs reserve included."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlencode

from hypothesis import given
from hypothesis import strategies as st

from kpitree.filter_text import filter_params, filter_text, filter_values
from kpitree.web.views.common import PageQuery

# Values as a filter holds them: no empty value, no space around it.
VALUE = (
    st.text(
        alphabet=st.sampled_from([*"ab東日本営業部,、\"' /?#%&=+;ー", "\u3000"]),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)


@given(st.lists(VALUE, min_size=1, max_size=4))
def test_values_round_trip_through_one_parameter(values: list[str]) -> None:
    assert filter_values(filter_text(values)) == values


@given(st.lists(VALUE, min_size=1, max_size=3, unique=True), VALUE)
def test_a_page_query_round_trips_through_a_url(teams: list[str], channel: str) -> None:
    query = PageQuery("2026-10", (("team", tuple(teams)), ("channel", (channel,))), lang="en")
    url = urlencode(query.params(), quote_via=quote)
    back = PageQuery.from_params(parse_qs(url), "en")
    assert back == query
    assert back.to_json()["filters"] == {"channel": [channel], "team": teams}


def test_the_written_form_is_readable_and_hand_typed_lists_still_split() -> None:
    assert filter_text(["East, West", "North"]) == '"East, West",North'
    assert filter_text(['株式会社"A", Inc.']) == '"株式会社""A"", Inc."'
    assert filter_text(["東日本/営業 ?#%&"]) == "東日本/営業 ?#%&"
    assert filter_values("east, west ,,") == ["east", "west"]
    assert filter_values('"East, West" , North') == ["East, West", "North"]
    assert filter_values('"unclosed, value') == ["unclosed, value"]
    assert filter_params({"team": "East, West"}) == {"team": '"East, West"'}
