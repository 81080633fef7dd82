"""The portal's commitment pages (信用承诺专栏, 003 L21; 001 L311, L610): the public 信用承诺 of each kind,
and the subjects' 信用修复承诺 under that title of their own (a repair applicant's commitment, DOMAIN §9).

Kept apart from ``portal.py`` (its own router and templates, the same base page and styles): the
commitments are those the list rules publish (``rules/lists.py``: a 作出 until its 履行 / 违诺, which are
then published themselves), read through ``PublicReads.commitments``. I/O only; no JavaScript.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.publish import store
from services.publish.api import make_cursor, parse_cursor
from services.publish.portal import PAGE_SIZE, _ctx, _page, _unavailable

router = APIRouter(include_in_schema=False)

# URL slug → (commitment_kind of the catalogue, page title). 信用修复承诺 first: its own page (issue 22).
KINDS: dict[str, tuple[str, str]] = {
    "repair": ("信用修复型", "信用修复承诺"),
    "notification": ("证明事项告知承诺型", "证明事项告知承诺"),
    "tolerance": ("容缺受理型", "容缺受理承诺"),
    "approval": ("审批替代型", "审批替代型承诺"),
    "voluntary": ("主动型", "主动型信用承诺"),
    "industry": ("行业自律型", "行业自律型信用承诺"),
}


@router.get("/commitments", response_class=HTMLResponse)
async def commitments_index() -> HTMLResponse:
    """The commitment column: one page per kind."""
    kinds = [{"slug": slug, "title": title} for slug, (_, title) in KINDS.items()]
    return _page("commitments_index.html", kinds=kinds)


@router.get("/commitments/{slug}", response_class=HTMLResponse)
async def commitments_page(
    request: Request, slug: str, cursor: Annotated[str | None, Query(max_length=300)] = None
) -> Response:
    """The published commitments of one kind, newest decision first, a page at a time."""
    if slug not in KINDS:
        return _page("message.html", 404, title="未找到", message="没有这一类信用承诺。")
    kind, title = KINDS[slug]
    before = parse_cursor(cursor) if cursor else None
    ctx = _ctx(request)

    async def compute() -> Response:
        try:
            rows = await ctx.reads.commitments(kind, before=before, limit=PAGE_SIZE + 1)
        except store.ReadsUnavailable:
            return _unavailable()
        page = rows[:PAGE_SIZE]
        items: list[dict[str, Any]] = [orjson.loads(body) for _, _, body in page]
        following = None
        if len(rows) > PAGE_SIZE:
            following = f"/commitments/{slug}?" + urlencode({"cursor": make_cursor(page[-1][0], page[-1][1])})
        return _page(
            "commitments.html",
            slug=slug,
            title=title,
            kind=kind,
            items=items,
            next_page=following,
            continued=bool(cursor),
        )

    return await ctx.public_cache.serve(request, ctx.reads, "commitments", (slug, cursor), compute)
