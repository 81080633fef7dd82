"""Which searches are answered before FastAPI's routing, and when ``LIKE`` may replace ``ILIKE`` (issue 19)."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from services.publish.api import SearchQuery, plain_search_query
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
