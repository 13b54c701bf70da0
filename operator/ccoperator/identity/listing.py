"""How lists are read: page by page (`skip`/`count`, the `Total-Count` header), and by `id`
filters cut to fit a URL. `IdentityClient.list_clients` and `list_roles` say what to list."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Final
from urllib.parse import quote

from . import paths
from .calls import Caller, log_fields, parse_body
from .forms import ApiForm
from .models import ClientList, Role
from .transport import Params

log = logging.getLogger("ccoperator.identity")

#: Room for the `id=` parameters of one list call. Proxies and servers commonly refuse
#: request lines past 4-8 KB; the path, the other parameters and the method fit in the rest.
MAX_ID_QUERY_CHARS: Final = 3000


def total_count(value: str | None) -> int | None:
    """The `Total-Count` header as a count; None when absent or not a number."""
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit():
        return None
    return int(text)


def id_chunks(
    ids: Sequence[str], *, max_ids: int, max_chars: int = MAX_ID_QUERY_CHARS
) -> Iterator[list[str]]:
    """`ids` in order, cut into lists whose `id=...&` query stays within `max_chars` and
    that hold at most `max_ids` ids. An id longer than `max_chars` gets a chunk alone."""
    chunk: list[str] = []
    size = 0
    for item in ids:
        cost = len("id=") + len(quote(item, safe="")) + 1
        if chunk and (size + cost > max_chars or len(chunk) >= max_ids):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += cost
    if chunk:
        yield chunk


async def list_all_clients(
    call: Caller, form: ApiForm, route: paths.Route, page_size: int
) -> ClientList:
    """Every client at `route`, page by page; `partial` when a page could not be read whole
    or the pages stopped making progress."""
    result = ClientList()
    skip = 0
    while True:
        params: Params = {"query": "", "skip": skip, "count": page_size}
        page, total = await _list_page(call, form, route, params, skip=skip)
        before = len(result.items)
        result.extend(page)
        fresh = len(result.items) - before
        # A client that could not be read still took a place on the page.
        page_len = len(page.items) + len(page.child_errors)
        if page_len < page_size:
            return result
        if total is not None and skip + page_len >= total:
            # v1 says how many there are: no need for a last, empty page.
            return result
        if not fresh and not page.child_errors:
            # A full page of nothing new: the server ignores `skip`, or the list moves
            # under us. Stop rather than loop, and say the read is incomplete.
            log.warning(
                "GET %s: page at skip=%d repeats earlier clients; stopping, list partial",
                route.path,
                skip,
            )
            result.partial = True
            return result
        skip += page_len


async def list_clients_by_id(
    call: Caller, form: ApiForm, route: paths.Route, wanted: list[str], page_size: int
) -> ClientList:
    """The clients named in `wanted` (de-duplicated, not empty), by the form's `id` filter."""
    result = ClientList()
    for chunk in id_chunks(wanted, max_ids=page_size):
        # The service ignores skip and count when ids are given: one call per chunk.
        page, _ = await _list_page(call, form, route, {"id": chunk}, skip=0)
        result.extend(page)
    return result.only(set(wanted))


async def _list_page(
    call: Caller, form: ApiForm, route: paths.Route, params: Params, *, skip: int
) -> tuple[ClientList, int | None]:
    """One page as a `ClientList`, and the `Total-Count` the service answered (if any)."""
    response = await call(route, params=params)
    status = response.status_code
    page = parse_body(route, response, lambda data: form.read_list_page(status, data))
    if status == 207:
        log.warning(
            "GET %s: 207 partial page at skip=%d: %d read, %d unreadable [operation %s]",
            route.path,
            skip,
            len(page.data),
            len(page.child_errors),
            page.operation_id,
            extra=log_fields(route, 207, page.operation_id),
        )
    listed = ClientList(items=[], child_errors=list(page.child_errors), partial=status == 207)
    listed.extend(ClientList(items=list(page.data)))
    return listed, total_count(response.headers.get("Total-Count"))


async def list_all_roles(
    call: Caller, form: ApiForm, route: paths.Route, page_size: int
) -> list[Role]:
    """Every role at `route`, page by page, each id once."""
    roles: list[Role] = []
    seen: set[str] = set()
    skip = 0
    while True:
        params: Params = {"skip": skip, "count": page_size}
        response = await call(route, params=params)
        page = parse_body(route, response, form.read_roles)
        roles.extend(role for role in page if role.id not in seen)
        seen.update(role.id for role in page)
        total = total_count(response.headers.get("Total-Count"))
        skip += len(page)
        if len(page) < page_size or (total is not None and skip >= total):
            return roles
