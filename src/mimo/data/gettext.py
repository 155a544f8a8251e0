"""Gettext ``.po`` catalogs from PyPI wheels (``weblate``, ``django``), read as zips, never installed.

``msgid`` is the English source. Fuzzy and obsolete (``#~``) entries are skipped; plural entries
give two units, the singular paired with the form the catalog's ``Plural-Forms`` picks for n=1 and
the plural paired with the form for n=5. Placeholders (``%s``, ``%(name)s``, ``{0}``, ``{name}``),
HTML tags and entities are stripped. One page per catalog file (``django/contrib/admin``,
``django/contrib/admin/djangojs``, ``weblate``); a unit id hashes (msgctxt, msgid).
"""

from __future__ import annotations

import gettext as _stdgettext
import hashlib
import html
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from mimo.data.types import AlignedUnit
from mimo.errors import InputError
from mimo.langs import TARGET_LANGS, normalize_lang

#: (PyPI name, version, unit source name, licence)
PACKAGES: tuple[tuple[str, str, str, str], ...] = (
    ("weblate", "5.14.3", "gettext-weblate", "GPL-3.0-or-later"),
    ("django", "5.2.19", "gettext-django", "BSD-3-Clause"),
)
SOURCE_INFO: dict = {
    "packages": [f"{n}=={v}" for n, v, _, _ in PACKAGES],
    "licence": "; ".join(f"{n}: {lic}" for n, _, _, lic in PACKAGES),
    "kind": "pypi",
    "url": "https://pypi.org/project/weblate/ https://pypi.org/project/django/",
    "description": "gettext .po UI message catalogs shipped in the weblate and django wheels",
}

#: When several locales map to one ISO code, the first listed wins; others fall back to the exact code.
_PREFERRED: dict[str, tuple[str, ...]] = {"pt": ("pt_BR", "pt"), "zh": ("zh_Hans", "zh_CN", "zh")}

# ----------------------------------------------------------------------------- .po parsing


@dataclass
class PoEntry:
    msgid: str
    msgstr: list[str] = field(default_factory=list)
    msgctxt: str | None = None
    msgid_plural: str | None = None
    flags: frozenset[str] = frozenset()
    obsolete: bool = False
    line: int = 0

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f",
            "v": "\v", "'": "'", "?": "?"}
_ESC_RE = re.compile(r"\\(.)")
_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')


def _unquote(s: str, where: str) -> str:
    s = s.strip()
    if len(s) < 2 or s[0] != '"' or s[-1] != '"':
        raise InputError(f"{where}: expected a quoted string, got {s[:60]!r}")
    return _ESC_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), s[1:-1])


def parse_po(text: str, name: str = "<po>") -> list[PoEntry]:
    """Parse a .po file (multi-line strings, escapes, msgctxt, plurals, flags, obsolete ``#~``)."""
    entries: list[PoEntry] = []
    cur: dict | None = None
    flags: set[str] = set()
    field_name: tuple[str, int] | None = None

    def finish() -> None:
        nonlocal cur, flags, field_name
        if cur is not None and "msgid" in cur:
            n = max(cur["msgstr"], default=-1) + 1
            entries.append(PoEntry(cur["msgid"], [cur["msgstr"].get(i, "") for i in range(n)],
                                   cur.get("msgctxt"), cur.get("msgid_plural"), frozenset(flags),
                                   cur["obsolete"], cur["line"]))
        cur, flags, field_name = None, set(), None

    for lineno, raw in enumerate(text.splitlines(), 1):
        where = f"{name}:{lineno}"
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
            if line.startswith("|"):  # previous msgid of an obsolete entry
                continue
        if not line:
            if cur is not None and "msgid" in cur and cur.get("_got_msgstr"):
                finish()
            continue
        if line.startswith("#"):
            if cur is not None and cur.get("_got_msgstr"):
                finish()
            if line.startswith("#,"):
                flags.update(f.strip() for f in line[2:].split(","))
            continue
        if line.startswith('"'):
            if cur is None or field_name is None:
                raise InputError(f"{where}: string continuation outside an entry")
            key, idx = field_name
            if key == "msgstr":
                cur["msgstr"][idx] += _unquote(line, where)
            else:
                cur[key] += _unquote(line, where)
            continue
        m = _KEYWORD.match(line)
        if not m:
            raise InputError(f"{where}: cannot parse line {raw[:80]!r}")
        key, idx_s, value = m.group(1), m.group(2), _unquote(m.group(3), where)
        if key in ("msgctxt", "msgid") and cur is not None and cur.get("_got_msgstr"):
            finish()
        if cur is None:
            cur = {"msgstr": {}, "obsolete": obsolete, "line": lineno}
        if key.startswith("msgstr"):
            idx = int(idx_s) if idx_s is not None else 0
            cur["msgstr"][idx] = value
            cur["_got_msgstr"] = True
            field_name = ("msgstr", idx)
        else:
            cur[key] = value
            field_name = (key, 0)
    finish()
    return entries


def header(entries: Sequence[PoEntry]) -> dict[str, str]:
    """The header entry (msgid "") as a dict."""
    for e in entries:
        if e.msgid == "" and e.msgctxt is None and not e.obsolete and e.msgstr:
            return {k.strip(): v.strip() for k, _, v in
                    (ln.partition(":") for ln in e.msgstr[0].splitlines() if ":" in ln)}
    return {}


def plural_index(hdr: dict[str, str], where: str = "") -> Callable[[int], int]:
    """The catalog's plural function (``Plural-Forms``); ``n != 1`` when it has none."""
    m = re.search(r"plural\s*=\s*([^;]+)", hdr.get("Plural-Forms", ""))
    if not m:
        return lambda n: int(n != 1)
    try:
        return _stdgettext.c2py(m.group(1).strip())
    except (ValueError, RecursionError) as e:
        raise InputError(f"{where}: bad Plural-Forms {m.group(1)!r}: {e}") from None


# ----------------------------------------------------------------------------- cleaning

_PRINTF = re.compile(r"%(?:\(\w+\))?(?:\d+\$)?[-+#0]*(?:\d+|\*)?(?:\.\d+)?[sdifuxXeEgGrcbo]")
_BRACE = re.compile(r"\{\{.*?\}\}|\{[\w.\[\]]*(?:![rsa])?(?::[^{}]*)?\}")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_EMPTY_PAIR = re.compile(
    r"(?:“\s*”|‘\s*’|\"\s*\"|'\s*'|«\s*»|„\s*“|「\s*」|『\s*』|\(\s*\)|\[\s*\]|（\s*）|《\s*》)"
)
_SPACE_PUNCT = re.compile(r"\s+([.,;:!?。、，：；！？])")
_WS = re.compile(r"\s+")


def strip_placeholders(text: str, flags: frozenset[str] | set[str] = frozenset()) -> str:
    """Remove format placeholders, HTML tags and entities; normalise whitespace.

    printf placeholders (``%s``, ``%(name)s``, ``%1$d``; never with a space flag, so "50% done"
    survives) and brace placeholders (``{0}``, ``{name}``, ``{{ x }}``) are removed; ``%%`` becomes
    ``%`` when the entry is flagged as a printf format (``python-format``, ``c-format``...).
    """
    text = _PRINTF.sub(" ", text)
    if any(f.endswith("-format") and f != "python-brace-format" and not f.startswith("no-") for f in flags):
        text = text.replace("%%", "%")
    text = _BRACE.sub(" ", text)
    text = html.unescape(_TAG.sub(" ", text))
    text = _EMPTY_PAIR.sub(" ", text)
    text = _WS.sub(" ", text).strip()
    return _SPACE_PUNCT.sub(r"\1", text)


def unit_key(msgctxt: str | None, msgid: str) -> str:
    raw = (msgctxt + "\x04" if msgctxt is not None else "") + msgid
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:16]


def catalog_pairs(entries: Sequence[PoEntry], where: str = "") -> dict[str, tuple[str, str]]:
    """{unit key: (english, translation)} for usable entries of one catalog, both sides cleaned."""
    plural = plural_index(header(entries), where)
    out: dict[str, tuple[str, str]] = {}
    for e in entries:
        if e.obsolete or e.fuzzy or not e.msgid or not any(e.msgstr):
            continue
        forms = [(e.msgid, 1, "")]
        if e.msgid_plural is not None:
            forms.append((e.msgid_plural, 5, ":plural"))
        for en_raw, n, suffix in forms:
            idx = plural(n) if e.msgid_plural is not None else 0
            if idx >= len(e.msgstr) or not e.msgstr[idx]:
                continue
            en = strip_placeholders(en_raw, e.flags)
            tr = strip_placeholders(e.msgstr[idx], e.flags)
            if en and tr and tr != en:
                out[unit_key(e.msgctxt, e.msgid) + suffix] = (en, tr)
    return out


# ----------------------------------------------------------------------------- wheels


def _catalog_name(member: str) -> tuple[str, str, str] | None:
    """``django/contrib/admin/locale/de/LC_MESSAGES/djangojs.po`` -> (page id, locale, domain)."""
    if not member.endswith(".po") or "/locale/" not in member or "/LC_MESSAGES/" not in member:
        return None
    base, rest = member.split("/locale/", 1)
    locale, _, fname = rest.partition("/LC_MESSAGES/")
    domain = fname[:-3]
    page = base if domain == "django" else f"{base}/{domain}"
    return page, locale, domain


def choose_locales(locales: Sequence[str], langs: Sequence[str]) -> dict[str, str]:
    """ISO code -> the one locale used for it (exact code or a preferred alias; regional
    variants such as ``es_AR`` or scripts such as ``hi_Latn`` are not merged in)."""
    out: dict[str, str] = {}
    for iso in langs:
        for cand in (*_PREFERRED.get(iso, ()), iso):
            if cand in locales and normalize_lang(cand, strict=False) == iso:
                out[iso] = cand
                break
    return out


def iter_units_from_wheel(path: str, source: str, version: str, pkg: str,
                          langs: Sequence[str] = TARGET_LANGS) -> Iterator[AlignedUnit]:
    """Aligned message units from one wheel file."""
    by_page: dict[str, dict[str, str]] = {}  # page -> locale -> member
    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            if (got := _catalog_name(member)) is not None:
                by_page.setdefault(got[0], {})[got[1]] = member
        for page in sorted(by_page):
            chosen = choose_locales(list(by_page[page]), langs)
            english: dict[str, str] = {}
            texts: dict[str, dict[str, str]] = {}
            for iso, locale in chosen.items():
                member = by_page[page][locale]
                text = zf.read(member).decode("utf-8-sig", errors="replace")
                for key, (en, tr) in catalog_pairs(parse_po(text, member), member).items():
                    english.setdefault(key, en)
                    texts.setdefault(key, {})[iso] = tr
            for key in sorted(texts):
                yield AlignedUnit(source, page, f"{source}:{page}#{key}", "message",
                                  {"en": english[key], **texts[key]}, {pkg: version})


def iter_units(langs: Sequence[str] = TARGET_LANGS) -> Iterator[AlignedUnit]:
    """Fetch the weblate and django wheels (cached) and yield their aligned message units."""
    from mimo.fetch import fetch_wheel

    for name, version, source, _ in PACKAGES:
        fetched = fetch_wheel(name, version)
        yield from iter_units_from_wheel(str(fetched.path), source, fetched.version, name, langs)
