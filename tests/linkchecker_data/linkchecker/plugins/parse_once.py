"""LinkChecker plugins for tests/test_links.py: each page is parsed once, not once per anchor.

With anchors checked, LinkChecker checks `page/#anchor` as a URL of its own: it downloads the page
and parses it with Beautiful Soup (html.parser), then collects the page's anchors, once for each
of the page's hundreds of anchor links: minutes on the chapters. Loaded from this plugin folder
(it defines no plugin of its own), this module makes LinkChecker's own `AnchorCheck` collect the
anchors of a given page's bytes once, with LinkChecker's own functions, and LinkChecker's soup
maker return the tree it already made for the same bytes (read only: LinkChecker and its plugins
only look links and anchors up in it). What is checked, and what is found, stay the same.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from linkcheck.htmlutil import htmlsoup, linkparse
from linkcheck.plugins.anchorcheck import AnchorCheck, UrlAnchorCheck

_lock = threading.Lock()
_parse = htmlsoup.make_soup
_trees: dict[tuple[str, str | None], Any] = {}
_anchors: dict[str, list[tuple[Any, ...]]] = {}


def _digest(markup: bytes | str) -> str:
    return hashlib.sha256(markup if isinstance(markup, bytes) else markup.encode("utf-8", "surrogatepass")).hexdigest()


def _parsed_once(markup: bytes | str, from_encoding: str | None = None) -> Any:
    key = (_digest(markup), from_encoding)
    with _lock:
        if key not in _trees:
            _trees[key] = _parse(markup, from_encoding)
        return _trees[key]


htmlsoup.make_soup = _parsed_once  # the plugin folder is this test's only: nothing else loads it


def _check_once(self: AnchorCheck, url_data: Any) -> None:
    """AnchorCheck.check, the anchors of each distinct page's bytes collected once."""
    key = _digest(url_data.get_raw_content())
    with _lock:
        found = _anchors.get(key)
    if found is None:
        collect = UrlAnchorCheck()
        linkparse.find_links(url_data.get_soup(), collect.add_anchor, linkparse.AnchorTags)
        found = collect.anchors
        with _lock:
            _anchors[key] = found
    check = UrlAnchorCheck()
    check.anchors = list(found)
    check.check_anchor(url_data)


AnchorCheck.check = _check_once  # type: ignore[method-assign]
