"""Helpers of the list call: the `Total-Count` header and `id` filters cut to fit a URL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final
from urllib.parse import quote

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
