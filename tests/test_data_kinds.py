"""The rule-based query-kind tagger on real query texts from the sources, across languages."""

from __future__ import annotations

import pytest

from mimo.data.kinds import INDEX_TERM, KINDS, QUESTION, TASK, group_kind, parse_kinds, query_kind

HEADING = "heading"


@pytest.mark.parametrize(("text", "lang", "kind"), [
    # GNOME help page titles (gnome-user-docs 43.0) in several languages
    ("Where do I get color profiles?", "en", QUESTION),
    ("Où puis-je obtenir des profils de couleur ?", "fr", QUESTION),  # French space before "?"
    ("色プロファイルはどこで入手できますか？", "ja", QUESTION),  # fullwidth question mark
    ("在哪里获取颜色配置文件？", "zh", QUESTION),
    ("من أين أحصل على ملفات تعريف الألوان؟", "ar", QUESTION),  # Arabic question mark
    ("¿Dónde obtengo perfiles de color", "es", QUESTION),  # opening mark only
    ("What to back up", "en", QUESTION),
    ("I cannot hear any sounds on the computer", "en", QUESTION),  # a problem report
    ("Mouse pointer is not moving", "en", QUESTION),
    ("I’ve entered the correct password, but I still can’t connect", "en", QUESTION),
    ("The internet seems slow", "en", QUESTION),
    ("Change the screen brightness", "en", TASK),
    ("Set up a local printer", "en", TASK),
    ("Back up your important files", "en", TASK),
    ("Manually set network settings", "en", TASK),
    ("Purge trash & temporary files", "en", TASK),
    # LibreOffice help how-to titles and headings
    ("Printing in Black and White", "en", TASK),
    ("Moving Objects to a Different Layer", "en", TASK),
    ("Using Captions", "en", TASK),
    ("To Set a Predefined Border Style", "en", TASK),
    ("How to write formulas over two lines", "en", TASK),
    # topic names
    ("Keyboard", "en", HEADING),
    ("Color management", "en", HEADING),
    ("Display & screen", "en", HEADING),
    ("Sharing Settings", "en", HEADING),
    ("Print preview", "en", HEADING),
    ("Pmt function", "en", HEADING),
    ("Printing", "en", HEADING),
    ("Mark", "en", HEADING),
    ("Bildschirmhelligkeit ändern", "de", HEADING),  # imperatives are read in English only
    # statements, labels and names that look like the rules above (mlir-test queries)
    ("There are few Linux viruses, so you probably don’t need anti-virus software.", "en", HEADING),
    ("Calibrating your scanner is important to capture accurate colors.", "en", HEADING),
    ("Check if a filesystem is damaged and bring it back into a usable state.", "en", TASK),
    ("Not at end of line:", "en", HEADING),
    ("Low (not recommended)", "en", HEADING),
    ("NOT function", "en", HEADING),
    ("When rotating", "en", HEADING),
    ("My Macros", "en", HEADING),
    ("My computer will not turn on", "en", QUESTION),
    ("Why is my laptop slow when it is on battery?", "en", QUESTION),
])
def test_query_kind_known_examples(text, lang, kind):
    assert query_kind(text, lang) == kind


def test_index_terms_come_from_the_unit_kind():
    assert query_kind("anchors, changing", unit_kind="keyword") == INDEX_TERM
    assert query_kind("Anker, ändern", "de", unit_kind="keyword") == INDEX_TERM
    assert query_kind("anchors, changing") == HEADING  # the comma alone does not make an index term


def test_group_kind_follows_english():
    group = {"en": "Change the screen brightness", "de": "Bildschirmhelligkeit ändern", "ja": "画面の明るさを変更する"}
    assert group_kind(group) == TASK
    assert group_kind({"de": "Wo bekomme ich Farbprofile?", "ja": "色プロファイル"}) == QUESTION
    assert group_kind({"de": "Tastatur"}) == HEADING
    assert group_kind({"en": "anchors, changing", "de": "Anker, ändern"}, "keyword") == INDEX_TERM


def test_parse_kinds():
    assert parse_kinds("question,task") == (QUESTION, TASK)
    assert parse_kinds(["question", "index-term"]) == (QUESTION, INDEX_TERM)
    assert parse_kinds(None) is None and parse_kinds("") is None
    assert set(KINDS) == {QUESTION, TASK, HEADING, INDEX_TERM}
    with pytest.raises(ValueError, match="unknown query kind 'questions'"):
        parse_kinds("questions")
