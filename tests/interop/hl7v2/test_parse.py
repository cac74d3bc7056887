"""Field access (:func:`backend.interop.hl7v2.parse.get`): its own walk of python-hl7's
parse tree answers exactly what python-hl7's ``extract_field`` answers (and its blank
test what ``str`` of a field says), for every position of every fixture message and of
a message with escapes, repetitions, subcomponents and bare separators, including
positions past the end."""

from __future__ import annotations

import itertools

import pytest

from backend.interop.hl7v2.parse import _blank, _extract, get, normalize, parse, value_at
from tests.interop.hl7v2.conftest import fixture_messages

_TRICKY = "\r".join(
    [
        "MSH|^~\\&|APP^1.2.3^ISO|FAC|P360|CLINIC|20240105101500||ADT^A04^ADT_A01|C1|P|2.5.1",
        "EVN|A04|20240105101500",
        "PID|1||M1^^^FAC^MR~S2^^^SSA^SS&X&Y||O\\T\\BRIEN^ANNE\\S\\MARIE^Q||19800102|F|||"
        '1 MAIN ST\\F\\2^APT&3^CITY^IL^62701~""^^^^^USA||^NET^Internet^a\\E\\b@x.org~(217)555|'
        '""|||',
        "NK1|1|DOE^JOHN|SPO|||~~(217)555-0303|~|^|&",
    ]
)


def _messages() -> list[str]:
    return [text for _, _, text in fixture_messages()] + [_TRICKY]


@pytest.mark.parametrize("text", _messages())
def test_get_walks_the_tree_as_python_hl7_does(text: str) -> None:
    message = parse(normalize(text)).message
    checked = 0
    for segment in message:
        for field, rep, comp, sub in itertools.product(
            range(1, len(segment) + 2), range(1, 4), range(1, 7), range(1, 4)
        ):
            assert value_at(segment, field, rep, comp, sub) == _extract(
                segment, field, rep, comp, sub
            )
            checked += 1
        for field in range(1, len(segment)):
            assert _blank(segment(field)) == (str(segment(field)) == "")
    assert checked > 0


def test_get_unescapes_and_keeps_hd_fields_whole() -> None:
    message = parse(_TRICKY).message
    msh, pid = message.segment("MSH"), message.segment("PID")
    assert get(msh, 3) == "APP^1.2.3^ISO"
    assert get(pid, 5, comp=1) == "O&BRIEN"
    assert get(pid, 5, comp=2) == "ANNE^MARIE"
    assert get(pid, 3, rep=2, comp=1) == "S2"
    assert get(pid, 3, rep=2, comp=5, sub=2) == "X"
    assert get(pid, 11, rep=1, comp=1) == "1 MAIN ST|2"
    assert get(pid, 11, rep=2, comp=1) == ""  # the explicit null reads as nothing
    assert get(pid, 13, rep=1, comp=4) == "a\\b@x.org"
    assert get(pid, 40) == ""
