"""Every internal link and anchor of the built site resolves, checked by LinkChecker on loopback.

LinkChecker (PyPI `linkchecker`) crawls the real site, built once for this module, from a server
on 127.0.0.1 that maps `dir/` to `dir/index.html` as GitHub Pages does. (Given file:// URLs it reads
`multi-stage/` as a directory listing and never parses the chapter, so its links would go unchecked.)
Its AnchorCheck plugin checks every `#fragment` against the ids of the target page. Nothing leaves
the machine: `--ignore-url` matches every URL that is not this server, so external links are
checked for syntax only, never resolved or fetched.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import RealSite
from .test_browser import serve_site
from .test_chapter import CHAPTER

pytestmark = [pytest.mark.engine, pytest.mark.network]

LINKCHECKER = str(Path(sys.executable).parent / "linkchecker")
# LinkChecker loads plugins from $XDG_DATA_HOME/linkchecker/plugins only, after it has dropped root
# for `nobody` (so not from a private temporary folder): parse_once.py, each page parsed once.
PLUGIN_DATA = Path(__file__).parent / "linkchecker_data"
CONFIG = """\
[checking]
threads=4
maxrequestspersecond=1000
[filtering]
checkextern=0
[AnchorCheck]
"""
# LinkChecker waits 0.1 to 0.6 s between two requests to one host, unless the host answers with a
# `LinkChecker` header; then `maxrequestspersecond` applies (our own loopback server: no need to wait).
UNTHROTTLED = {"LinkChecker": "loopback test server"}


@dataclass(frozen=True)
class Check:
    rows: list[dict[str, str]]  # one per URL checked (CSV logger, verbose)

    def problems(self) -> list[str]:
        return [
            f"{row['url']} (linked from {row['parentname'] or 'nowhere'}, line {row.get('line') or '-'}): "
            f"{row['result']} {row['warningstring']}".strip()
            for row in self.rows
            if row["valid"] != "True" or row["warningstring"]
        ]


def linkcheck(site_dir: Path, work: Path, recursion: int = 1) -> Check:
    """LinkChecker over every page of the site in `site_dir`, served on 127.0.0.1; internal URLs only.

    Every page and every stylesheet is a start URL, so that one linked from nowhere (404.html) is
    checked too, and one level of recursion reaches every link there is: a deeper crawl finds the
    same URLs again (checked on the real site: 1,189 URLs either way), at minutes' more cost.
    """
    config = work / "linkcheckerrc"
    config.write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["XDG_DATA_HOME"] = str(PLUGIN_DATA)
    pages = sorted(_address(page.relative_to(site_dir).as_posix()) for page in site_dir.rglob("*.html"))
    pages += sorted(sheet.relative_to(site_dir).as_posix() for sheet in site_dir.rglob("*.css"))
    with serve_site(site_dir, headers=UNTHROTTLED) as url:
        done = subprocess.run(
            [
                LINKCHECKER,
                f"--config={config}",
                "--no-status",
                "--verbose",
                "--output=csv",
                f"--recursion-level={recursion}",
                f"--ignore-url=^(?!{re.escape(url)})",
                *(url + page for page in pages),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    # 0: all good; 1: broken links or warnings (read from the rows); anything else: LinkChecker failed.
    assert done.returncode in (0, 1), done.stdout + done.stderr
    # The CSV log: `# ` comment lines around a `;`-separated table. A row's first field may start
    # with `#` too (a link to an anchor), so comments are told apart by having a single field.
    table = csv.reader(io.StringIO(done.stdout), delimiter=";")
    records = [record for record in table if not (len(record) == 1 and record[0].startswith("# "))]
    header, body = records[0], records[1:]
    assert header[:4] == ["urlname", "parentname", "base", "result"], header
    # A start page's row lacks its (empty) line and column fields: only its first columns, up to `url`,
    # are where the header says.
    leading = header.index("url") + 1
    rows = [
        dict(zip(header, record if len(record) == len(header) else record[:leading], strict=False))
        for record in body
        if record
    ]
    return Check([{**row, "url": row["url"].replace(url, "/")} for row in rows])


def _address(page: str) -> str:
    """`multi-stage/index.html` -> `multi-stage/`, as the site links to it."""
    return re.sub(r"(^|/)index\.html$", r"\1", page)


@pytest.fixture(scope="module")
def site_dir(real_site: RealSite) -> Path:
    return real_site.root


@pytest.fixture(scope="module")
def check(site_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Check:
    return linkcheck(site_dir, tmp_path_factory.mktemp("linkcheck"))


def test_no_internal_link_or_anchor_is_broken(check: Check) -> None:
    """Every page, stylesheet, script, image and `#anchor` the site links to exists."""
    assert check.rows
    assert check.problems() == []


def test_the_check_reached_every_page_and_every_anchor_of_the_chapters(check: Check, site_dir: Path) -> None:
    """The crawl really read every chapter: each distinct in-page link of each was checked, and nothing outside."""
    checked = {row["url"] for row in check.rows}
    for page in site_dir.rglob("*.html"):
        assert "/" + _address(page.relative_to(site_dir).as_posix()) in checked
    for name, at_least in ((CHAPTER, 20), ("fast-builds", 15), ("multi-platform", 15)):
        chapter = (site_dir / name / "index.html").read_text()
        anchors = set(re.findall(r'href="#([^"]+)"', chapter))
        assert len(anchors) > at_least, name
        assert {f"/{name}/#{anchor}" for anchor in anchors} <= checked, name
    outside = [row for row in check.rows if not row["url"].startswith("/")]
    assert outside, "the theme links to other sites: they are listed, not fetched"
    for row in outside:
        assert row["result"] in ("filtered", "ignored"), row
        assert row["size"] == "-1", f"{row['url']} was fetched"


def test_a_broken_link_and_a_broken_anchor_are_caught(site_dir: Path, tmp_path: Path) -> None:
    """The checker is not blind: a missing page and a missing anchor planted in a copy are both reported."""
    copy = tmp_path / "site"
    shutil.copytree(site_dir, copy)
    home = copy / "index.html"
    planted = '<a href="no-such-page/">a</a> <a href="multi-stage/#no-such-anchor">b</a> <a href="#nowhere">c</a>'
    home.write_text(home.read_text().replace("</article>", planted + "</article>", 1))
    found = linkcheck(copy, tmp_path, recursion=1)
    problems = "\n".join(found.problems())
    assert "/no-such-page/" in problems and "404" in problems
    assert "/multi-stage/#no-such-anchor" in problems and "Anchor `no-such-anchor' (decoded" in problems
    assert "/#nowhere" in problems
