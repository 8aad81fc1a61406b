"""The Vietnamese catalogues are well formed: every message defined once.

Babel's ``read_po`` accepts a message defined twice and silently keeps the later translation, so a
merge that appends a catalogue's new entries beside an existing one can change what a page says
without any error (it happened: "Vehicles" had two translations). This test reads each ``.po`` file
as text and names every msgid (with its msgctxt) defined more than once.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

LOCALES = Path(__file__).resolve().parents[1] / "ioc" / "locales"
CATALOGUES = sorted(LOCALES.glob("*/LC_MESSAGES/*.po"))
#: one entry's context and id (multi-line strings included), as a .po file writes them
_ENTRY = re.compile(r'^(?:msgctxt ((?:".*"\n)+))?msgid ((?:".*"\n)+)msgstr', re.M)


def message_keys(text: str) -> list[tuple[str, str]]:
    """(context, id) of every entry of a catalogue, the header's empty id left out."""
    keys = [(ctx or "", mid) for ctx, mid in _ENTRY.findall(text)]
    return [key for key in keys if key[1].strip() != '""']


def test_message_keys_reads_contexts_and_multiline_ids() -> None:
    text = 'msgid ""\nmsgstr ""\n\nmsgid "a"\nmsgstr "x"\n\nmsgctxt "k"\nmsgid "a"\nmsgstr "y"\n\n' \
           'msgid ""\n"long "\n"one"\nmsgstr "z"\n'
    assert message_keys(text) == [("", '"a"\n'), ('"k"\n', '"a"\n'), ("", '""\n"long "\n"one"\n')]


def test_there_are_catalogues() -> None:
    assert len(CATALOGUES) >= 5, CATALOGUES


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_each_message_defined_once(path: Path) -> None:
    counts = Counter(message_keys(path.read_text(encoding="utf-8")))
    twice = [mid.strip() for (_ctx, mid), n in counts.items() if n > 1]
    assert twice == [], f"{path.name}: defined more than once: {twice}"
