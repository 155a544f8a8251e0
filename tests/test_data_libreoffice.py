"""LibreOffice parsers on real (trimmed) files from the bookworm packages."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from mimo.data.libreoffice import (
    clean_ui_text,
    iter_help_units_from,
    iter_l10n_units_from,
    keyword_text,
    parse_help_page,
    read_bookmarks,
)
from mimo.data.mo import read_mo
from mimo.errors import InputError

FIX = Path(__file__).parent / "fixtures" / "data"
HELP = FIX / "lo-help"
L10N = FIX / "lo-l10n"
PAGE = "libreoffice-help:text/swriter/01/01160300.xhp"


@pytest.fixture(scope="module")
def help_units():
    units = list(iter_help_units_from({"en": HELP / "en-US", "de": HELP / "de", "ja": HELP / "ja"}))
    return {u.unit_id: u for u in units}, units


def test_paragraph_id_maps_to_its_translation(help_units):
    by_id, _ = help_units
    u = by_id[f"{PAGE}#par_id3149286"]
    assert u.kind == "paragraph" and u.page_id == PAGE and u.source == "libreoffice-help"
    assert u.texts["en"].startswith("Copies the headings and a number of subsequent paragraphs")
    assert u.texts["de"].startswith("Kopiert die Überschriften und eine Anzahl der folgenden Absätze")
    assert u.texts["de"].endswith("Alle Ebenen und Absätze unter der jeweiligen Einstellungen sind versteckt.")
    assert by_id[f"{PAGE}#hd_id3147516"].texts == {
        "en": "Included Outline Levels", "de": "Einbezogene Kapitelebenen", "ja": "抽出する章レベル数"}
    assert by_id[f"{PAGE}#title"].texts == {"en": "Create AutoAbstract", "de": "AutoBericht erzeugen",
                                            "ja": "自動要約の作成"}


def test_parallel_parsing_gives_the_same_units(help_units):
    _, units = help_units
    dirs = {"en": HELP / "en-US", "de": HELP / "de", "ja": HELP / "ja"}
    assert list(iter_help_units_from(dirs, workers=1)) == units
    assert [u.texts for u in iter_help_units_from(dirs, workers=2)] == [u.texts for u in units]


def test_units_follow_english_document_order(help_units):
    _, units = help_units
    page = [u.unit_id.split("#")[1] for u in units if u.page_id == PAGE]
    assert page == ["title", "par_id3149286", "hd_id3147516", "par_id3149804", "hd_id3151316", "par_id3155892"]


def test_hidden_platform_variants_are_skipped_default_kept():
    title, events = parse_help_page(HELP / "en-US/text/shared/optionen/macrosecurity.html")
    assert title == "Macro Security"
    text = dict((eid, t) for ev, eid, _k, t in events if ev == "unit")["par_idN1056A"]
    assert "LibreOffice - Preferences" not in text  # the macOS variant (hidden="true", class MAC)
    assert "from the Tools - Options - LibreOffice - Security page." in text  # the default variant


def test_single_keyword_bookmarks_align(help_units):
    by_id, _ = help_units
    u = by_id["libreoffice-help:text/swriter/01/04040000.xhp#bm_id4974211"]
    assert u.kind == "keyword"
    assert u.texts == {"en": "bookmarks, inserting", "de": "Lesezeichen, einfügen", "ja": "ブックマーク, 挿入する"}
    # a bookmark with several keywords (sorted differently per language) is not aligned
    assert "libreoffice-help:text/swriter/01/04090007.xhp#bm_id3154106" not in by_id
    assert len(read_bookmarks(HELP / "en-US" / "bookmarks.js")) == 2


def test_keyword_text():
    assert keyword_text('fields -- HTML import and export') == "fields, HTML import and export"
    assert keyword_text('say \\"hi\\" &amp; go') == 'say "hi" & go'


def test_mo_reader_separates_msgctxt():
    header, entries = read_mo(L10N / "ar" / "acc.mo")
    assert header["Language"] == "ar"
    got = {(e.msgctxt, e.msgid): e.msgstr for e in entries}
    assert got[("RID_STR_ACC_ACTION_CHECK", "Check")] == "أشّر"
    assert got[("stock", "_Add")] == "أ_ضف"
    assert len(entries) == 23


def test_mo_reader_rejects_truncated_and_garbage(tmp_path):
    bad = tmp_path / "x.mo"
    bad.write_bytes(b"not a catalog at all")
    with pytest.raises(InputError, match="x.mo"):
        read_mo(bad)
    data = (L10N / "de" / "acc.mo").read_bytes()
    n = struct.unpack("<I", data[8:12])[0]
    bad.write_bytes(data[: 28 + 8 * n])  # tables present, strings cut off
    with pytest.raises(InputError, match="truncated|past the end"):
        read_mo(bad)


def test_l10n_units_align_by_context_and_clean_mnemonics():
    units = {u.texts["en"]: u for u in iter_l10n_units_from({"ar": L10N / "ar", "de": L10N / "de"})}
    assert units["Check"].texts == {"en": "Check", "ar": "أشّر", "de": "Aktivieren"}
    assert units["Add"].texts == {"en": "Add", "ar": "أضف", "de": "Hinzufügen"}  # "_Add" / "أ_ضف"
    assert units["Add"].kind == "message" and units["Add"].page_id == "libreoffice-l10n:acc"
    assert units["OK"].texts == {"en": "OK", "ar": "حسنا"}  # de leaves OK untranslated: no de text


def test_clean_ui_text():
    assert clean_ui_text("~Save %PRODUCTNAME document as $(ARG1)") == "Save LibreOffice document as"
    assert clean_ui_text("Column %COLUMNNUMBER") == "Column"
    assert clean_ui_text("snake__case stays") == "snake__case stays"


def test_real_fetch_of_a_small_catalog_package():
    """libreoffice-l10n-hi (0.4 MB) through the real fetch path (cached under MIMO_HOME)."""
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is not available on this machine")
    from mimo.data.libreoffice import iter_l10n_units

    units = list(iter_l10n_units(["hi"]))
    assert len(units) > 1000
    assert all(set(u.texts) == {"en", "hi"} for u in units)
    assert any(u.texts == {"en": "Check", "hi": "जाँचें"} for u in units)
