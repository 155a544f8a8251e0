"""Query kinds: what form a query takes — a question, a task, a heading or an index term.

A rule-based tagger (no model): the kinds are defined by surface form, so the rules are the definition.

* ``question`` — asks something: ends in a question mark (``?``, fullwidth ``？``, Arabic ``؟``;
  Spanish also opens with ``¿``), opens with an interrogative (English "What to back up", "Where to
  store your backup"), or reports a problem the reader wants solved ("I cannot hear any sounds on
  the computer", "Mouse pointer is not moving", "My computer gets really hot").
* ``task`` — names something to do: an imperative ("Change the screen brightness", "Set up a local
  printer"), a gerund title with an object ("Printing in Black and White", "Moving Objects to a
  Different Layer"), or "To …" / "How to …" ("To Set a Predefined Border Style").
* ``index term`` — a LibreOffice index keyword ("anchors, changing"): the source unit's kind is
  ``keyword``.
* ``heading`` — anything else: a topic name ("Keyboard", "Color management", "Pmt function").

Imperatives and problem reports are recognised in English only; the language versions of one query
are translations of each other, so :func:`group_kind` tags a query group by its English text
(question marks are read in every language).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

QUESTION, TASK, HEADING, INDEX_TERM = "question", "task", "heading", "index term"
KINDS: tuple[str, ...] = (QUESTION, TASK, HEADING, INDEX_TERM)

_QMARKS = ("?", "？", "؟", "⸮")
_INTERROGATIVE = {"what", "where", "when", "why", "which", "who", "whom", "whose", "how", "can", "could",
                  "do", "does", "did", "is", "are", "should", "will", "would", "may", "am"}
#: Verbs that open English task titles in help texts (imperative mood).
_IMPERATIVE = set("""
access activate add adjust align allow apply arrange assign attach back block browse calibrate calculate
cancel change check choose clean clear click close collect combine compare configure connect control
convert copy create crop customize customise cut deactivate debug define delete deselect determine dim
disable disallow disconnect display do download drag draw edit eject empty enable encrypt enter erase
export extract fill filter find fix flash format gather get give group have help hide highlight import
improve increase insert install join keep label launch let limit link list load lock log look magnify make
manage map mark maximize merge minimize modify mount move navigate number open override pair paste
pause perform pin place play prevent preview print protect purge read record recover reduce refresh rehearse
remove rename reorder repair repeat replace reset resize restore restrict resume rotate run safely save
scan scroll search see select send set share show shrink shut simulate sort specify split start stop
store switch sync synchronize take test tile track turn type undo uninstall unlock unmount update
upgrade use verify view wipe write zoom
""".split())
_NOT_GERUND = {"anything", "everything", "nothing", "something", "string", "during", "morning", "evening",
               "heading", "ceiling", "building", "wedding", "thing", "king", "ring", "wing", "spring", "bring",
               "sing", "sling", "swing", "sibling", "pudding", "padding", "spacing", "pairing",
               "networking", "housekeeping", "clipping", "mapping", "rounding", "hyphenation"}
_PROBLEM = re.compile(
    r"^(i|i[’']ve|i[’']m|my)\s|\b(is|are|does|do|did|will|can|could|was) not\b|\b(cannot|can[’']t|won[’']t|"
    r"doesn[’']t|don[’']t|isn[’']t|aren[’']t|didn[’']t|wouldn[’']t|couldn[’']t)\b|"
    r"\b(is|are|seems|gets|locks|reacts|keeps) (wrong|slow|always|too|really|with|itself|broken|missing|stuck)\b",
    re.IGNORECASE)
#: what may follow an interrogative opener in a question without "?" ("What to back up", "Why is …")
_AFTER_WH = {"to", "is", "are", "was", "do", "does", "did", "can", "could", "should", "will", "would", "happens",
             "i", "my", "if"}
_WORD = re.compile(r"[\w’'-]+")


def is_question_mark(text: str) -> bool:
    """Ends in a question mark of any script (or opens with Spanish ``¿``)."""
    t = text.strip().rstrip(" .)\"'»”")
    return t.endswith(_QMARKS) or text.lstrip().startswith("¿")


def _english_kind(text: str) -> str | None:
    words = [w.casefold() for w in _WORD.findall(text)]
    if not words:
        return None
    first = words[0]
    if "&" in text and len(words) <= 3:
        return None  # "Display & screen", "Files, folders & search": topic names
    if first == "how" and len(words) > 1 and words[1] == "to":
        return TASK
    if first in _INTERROGATIVE - {"do", "is", "are", "am", "may", "will"} and len(words) > 2 and words[1] in _AFTER_WH:
        return QUESTION
    if first in {"to"} and len(words) > 1 and words[1] in _IMPERATIVE:
        return TASK
    if first in _IMPERATIVE and len(words) > 1 and not _looks_nominal(words):
        return TASK
    if first.endswith("ly") and len(words) > 2 and words[1] in _IMPERATIVE:  # "Manually set network settings"
        return TASK
    if text.rstrip().endswith((".", ":", ";")):
        return None  # a statement ("There are few Linux viruses, so …") or a label ("Not at end of line:")
    if len(words) >= 3 and _PROBLEM.search(text):
        return QUESTION
    gerund = words[1] if first.endswith("ly") and len(words) > 2 else first  # "Automatically Calculating Series"
    if (gerund.endswith("ing") and len(gerund) > 4 and gerund not in _NOT_GERUND
            and len(words) > (2 if gerund is not first else 1) and not _looks_nominal(words)
            and not re.search(r"\b(is|are|was|were)\b", text)):  # "Calibrating your scanner is important …"
        return TASK
    return None


def _looks_nominal(words: list[str]) -> bool:
    """'Control' / 'Print' / 'Display' also open noun phrases ('Display settings', 'Print preview')."""
    return len(words) == 2 and words[1] in {"settings", "preferences", "preview", "options", "dialog", "menu", "bar", "mode",
                                            "range", "area", "layout", "properties", "field", "list", "view"}


def query_kind(text: str, lang: str = "en", unit_kind: str | None = None) -> str:
    """The kind of one query text in ``lang`` (``unit_kind``: the source unit's kind, if known).

    >>> query_kind("Where do I get color profiles?"), query_kind("Change the screen brightness")
    ('question', 'task')
    >>> query_kind("anchors, changing", unit_kind="keyword"), query_kind("Keyboard")
    ('index term', 'heading')
    """
    if unit_kind == "keyword":
        return INDEX_TERM
    if is_question_mark(text):
        return QUESTION
    if lang == "en":
        return _english_kind(text) or HEADING
    return HEADING


def group_kind(texts: Mapping[str, str], unit_kind: str | None = None) -> str:
    """The kind of a query group (its language versions): the English version's kind when there is
    one; else a question when any version ends in a question mark."""
    if "en" in texts:
        return query_kind(texts["en"], "en", unit_kind)
    kinds = [query_kind(t, lg, unit_kind) for lg, t in texts.items()]
    for k in (INDEX_TERM, QUESTION):
        if k in kinds:
            return k
    return HEADING


def parse_kinds(spec: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    """``"question,task"`` (or a list) -> validated kinds; ``None`` / empty -> ``None`` (all kinds).
    ``index-term`` and ``index_term`` are accepted for ``index term``."""
    if spec is None:
        return None
    items = spec.split(",") if isinstance(spec, str) else [x for s in spec for x in str(s).split(",")]
    out = []
    for raw in items:
        k = raw.strip().replace("-", " ").replace("_", " ")
        if not k:
            continue
        if k not in KINDS:
            raise ValueError(f"unknown query kind {raw.strip()!r}; choose among {', '.join(KINDS)}")
        if k not in out:
            out.append(k)
    return tuple(out) or None
