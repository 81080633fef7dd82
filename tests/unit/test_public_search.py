"""Which searches are answered before FastAPI's routing, and when ``LIKE`` may replace ``ILIKE`` (issue 19)."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qsl, quote

from services.publish.api import SearchQuery, plain_search_query, query_pairs
from services.publish.store.public import _like


def test_a_plain_query_string_is_read_as_fastapi_reads_it_and_anything_else_goes_to_the_route() -> None:
    assert plain_search_query(b"") == SearchQuery("")
    assert plain_search_query(b"q=%E9%87%8D%E5%BA%86+&limit=5&other=x") == SearchQuery("重庆", 5)
    assert plain_search_query(b"q=&record_type=&cursor=") == SearchQuery("", 20, "", "")
    assert plain_search_query(b"q=a&cursor=2026-11-02~AMR.X") == SearchQuery(
        "a", 20, "2026-11-02~AMR.X", None, (date(2026, 11, 2), "AMR.X")
    )
    for routed in (b"limit=0", b"limit=101", b"limit=020", b"limit=+5", b"limit=", b"q=a&q=b", b"q=%00", b"cursor=x"):
        assert plain_search_query(routed) is None, routed
    assert plain_search_query(("q=" + quote("名" * 100)).encode()) is not None  # characters, as pydantic counts
    assert plain_search_query(("q=" + quote("名" * 101)).encode()) is None


def test_like_replaces_ilike_only_for_patterns_no_case_mapping_touches() -> None:
    for caseless in ("%重庆骉鑫%", "%９１５００１%", "%（重庆）·有限公司%", "%张*%", "%\\%\\_%", "%2026-11%"):
        assert _like(caseless) == "LIKE", caseless
    for cased in ("%abc%", "%ABC有限公司%", "%ＡＢ%", "%ß%", "%Ω%", "%重庆k%"):
        assert _like(cased) == "ILIKE", cased


def test_query_strings_are_split_and_unquoted_exactly_as_starlette_does() -> None:
    samples = [
        b"",
        b"q=%E9%87%8D%E5%BA%86&limit=20",
        b"q=%e9%87%8d%e5%ba%86",
        b"q=%E9%87%8D+%E5%BA%86&&limit",
        b"q=a+b%20c&q=%ZZ&x=%E9%87",
        b"q=%E9%87%8D%",
        b"q=%FF%FE&cursor=2026-11-02~AMR.A%2FB",
        b"=v&q==&q=%3D%26",
        "q=重庆&limit=5".encode(),
        b"q=\xe9\x87\x8d%E5%BA%86",
        b"q=%00&limit=%31",
    ]
    for raw in samples:
        assert query_pairs(raw) == parse_qsl(raw.decode("latin-1"), keep_blank_values=True), raw
