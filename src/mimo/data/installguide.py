"""Debian Installation Guide (``installation-guide-amd64``): DocBook HTML aligned by structure.

Each language directory (``usr/share/doc/installation-guide-amd64/<lang>/*.html``) is the same
DocBook source rendered after translation with po4a, so every page has the same element tree.
Blocks (section titles ``h1``-``h5`` and non-empty paragraphs ``p``) are keyed by their structural
path in the page; a translated page whose block paths differ from the English page is skipped whole
(blocks appended after the last English block, i.e. translator credits, are tolerated).
The generated anchors (``idm186``) differ between languages, so they are never used as keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from mimo.data.types import AlignedUnit, aligned_by_key
from mimo.langs import TARGET_LANGS, normalize_lang

PACKAGE = "installation-guide-amd64"
SOURCE = "installation-guide"
SOURCE_INFO: dict = {
    "packages": [PACKAGE],
    "licence": "GPL-2.0-or-later",
    "kind": "debian",
    "url": "https://salsa.debian.org/installer-team/installation-guide",
    "description": "Debian GNU/Linux Installation Guide (amd64), DocBook HTML per language",
}

_VOID = {"meta", "link", "img", "br", "hr", "col", "input", "area", "base", "wbr"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5"}
_SKIP_TAGS = {"head", "pre", "script", "style", "sup"}
_SKIP_CLASSES = {"navheader", "navfooter", "toc", "list-of-tables", "list-of-figures", "screen"}
_WS = re.compile(r"\s+")
_SPACE_STOP = re.compile(r"\s+([.,])(?=\s|$)")
_NUMBER = re.compile(r"^(?:[A-Z]|\d+)(?:\.\d+)*\.\s+")  # "2.1.3. " / "B.4. " section labels


@dataclass
class _El:
    tag: str
    attrs: dict[str, str]
    children: list[_El | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else ("" if c.tag in _SKIP_TAGS else c.text())
                       for c in self.children)


class _TreeBuilder(HTMLParser):
    """A tolerant HTML tree: void tags never open, a stray end tag closes up to its opener."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _El("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = _El(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(el)
        if tag not in _VOID:
            self.stack.append(el)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def clean(text: str) -> str:
    """Collapse whitespace; drop the space DocBook leaves before "." / "," after inline markup."""
    return _SPACE_STOP.sub(r"\1", _WS.sub(" ", text).strip())


def page_blocks(path: Path) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """Parse one page: (ordered block paths, {path: (kind, text)} for non-empty blocks)."""
    builder = _TreeBuilder()
    builder.feed(path.read_text(encoding="utf-8", errors="replace"))
    builder.close()
    order: list[str] = []
    units: dict[str, tuple[str, str]] = {}
    seen_heading = False

    def walk(el: _El, prefix: str) -> None:
        nonlocal seen_heading
        counts: dict[str, int] = {}
        for child in el.children:
            if isinstance(child, str) or child.tag in _SKIP_TAGS:
                continue
            if _SKIP_CLASSES & set(child.attrs.get("class", "").split()):
                continue
            text = clean(child.text()) if child.tag in _HEADINGS or child.tag == "p" else ""
            if child.tag == "p" and not text:
                continue  # po4a keeps or drops empty paragraphs freely: they are not structure
            idx = counts.get(child.tag, 0)
            counts[child.tag] = idx + 1
            here = f"{prefix}{child.tag}[{idx}]"
            if child.tag in _HEADINGS or child.tag == "p":
                order.append(here)
                kind = "paragraph"
                if child.tag != "p":
                    text = _NUMBER.sub("", text)
                    kind = "heading" if seen_heading else "title"
                    seen_heading = seen_heading or bool(text)
                if text:
                    units[here] = (kind, text)
            else:
                walk(child, here + "/")

    body = _find(builder.root, "body") or builder.root
    walk(body, "")
    return order, units


def _find(el: _El, tag: str) -> _El | None:
    for child in el.children:
        if isinstance(child, _El):
            if child.tag == tag:
                return child
            if (got := _find(child, tag)) is not None:
                return got
    return None


def lang_dirs(doc_root: Path, langs: Sequence[str]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for d in sorted(doc_root.iterdir()):
        if d.is_dir() and d.name != "en":
            iso = normalize_lang(d.name, strict=False)
            if iso in langs and iso not in out:
                out[iso] = d
    return out


def iter_units_from(
    doc_root: Path, langs: Sequence[str] = TARGET_LANGS, version: str = ""
) -> Iterator[AlignedUnit]:
    """Aligned units from an extracted ``usr/share/doc/installation-guide-amd64`` dir."""
    dirs = lang_dirs(doc_root, langs)
    for en_page in sorted((doc_root / "en").glob("*.html")):
        order, en_units = page_blocks(en_page)
        per_lang = {}
        for iso, ldir in dirs.items():
            tr_page = ldir / en_page.name
            if tr_page.exists():
                tr_order, tr_units = page_blocks(tr_page)
                # same block paths (translator credits appended at the end are tolerated)
                if tr_order[: len(order)] == order:
                    per_lang[iso] = tr_units
        page_id = en_page.stem
        yield from aligned_by_key(SOURCE, page_id, order, en_units, per_lang, {PACKAGE: version})


def iter_units(langs: Sequence[str] = TARGET_LANGS) -> Iterator[AlignedUnit]:
    """Fetch ``installation-guide-amd64`` (cached) and yield its aligned units."""
    from mimo.fetch import fetch_and_extract_deb

    fetched, root = fetch_and_extract_deb(PACKAGE)
    yield from iter_units_from(root / "usr" / "share" / "doc" / PACKAGE, langs, fetched.version)
