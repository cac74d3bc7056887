"""Matching a batch's patients together (one pass at the end of the transaction) links
exactly as matching them one message after the other, and a failure of that pass
loses no message: the batch is applied again matching per message."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.interop.hl7v2.apply import apply_all
from backend.interop.hl7v2.cli import import_messages
from backend.interop.hl7v2.models import Hl7Message, MessageState
from backend.interop.hl7v2.store import matching_together, receive, store
from backend.mpi.hooks import patients_changed
from backend.patients.models import Patient
from tests.interop.hl7v2.conftest import SECRET
from tests.mpi_db.factory import links, surname

Outcome = tuple[list[tuple[str, str]], list[tuple[str, str, str, str, str]]]


def _outcome(session: Session, family: str, tag: str) -> Outcome:
    """Each patient's (MRN without the run's tag, status), and each link between them
    as (MRN a, MRN b, kind, status, method)."""
    session.expire_all()
    rows = session.execute(
        select(Patient.id, Patient.source_id, Patient.status).where(Patient.family_name == family)
    ).all()
    mrn = {pid: source_id.removeprefix(tag) for pid, source_id, _ in rows}
    patients = sorted((mrn[pid], str(status)) for pid, _, status in rows)
    found = [
        (
            *sorted((mrn[link.patient_a_id], mrn[link.patient_b_id])),
            str(link.kind),
            str(link.status),
            str(link.method),
        )
        for link in links(session, *mrn)
    ]
    return patients, sorted(found)


SCENARIOS: dict[str, list[tuple[str, str, str]]] = {
    # (event, MRN, given name): one message each, in order.
    "the same person registered twice": [("A04", "-1", "ANNA"), ("A04", "-2", "ANNA")],
    "twins (a suggestion)": [("A04", "-1", "ANNA"), ("A04", "-2", "MARIA")],
    "registered, then corrected into one person": [
        ("A04", "-1", "ANNA"),
        ("A04", "-2", "MARIA"),
        ("A08", "-2", "ANNA"),
    ],
}


def _adt(event: str, mrn: str, control: str, family: str, given: str, seed: int) -> str:
    """A registration whose birth date, street and phone come from ``seed``: each run
    its own people, who cannot be each other's (or an earlier run's) candidates."""
    born = f"19{40 + seed % 60:02d}{1 + seed % 12:02d}{1 + seed % 28:02d}"
    return "\r".join(
        [
            f"MSH|^~\\&|REG|FAC|P360|CLINIC|20260105101500||ADT^{event}|{control}|P|2.5.1",
            f"EVN|{event}|20260105101500",
            f"PID|1||{mrn}^^^FAC^MR||{family}^{given}||{born}|F|||"
            f"{seed % 900 + 1} ELM ST^^SPRINGFIELD^IL^62701^USA||(217)5{seed % 1000000:06d}",
        ]
    )


def _messages(family: str, tag: str, scenario: str) -> list[str]:
    seed = int(tag, 16)
    return [
        _adt(event, f"{tag}{mrn}", f"{tag}{n}", family, given, seed)
        for n, (event, mrn, given) in enumerate(SCENARIOS[scenario])
    ]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_batch_links_as_one_message_after_the_other(session: Session, scenario: str) -> None:
    outcomes = []
    for together in (False, True):
        family, tag = surname().upper(), uuid.uuid4().hex[:8]
        with matching_together(session) if together else _nothing():
            for text in _messages(family, tag, scenario):
                receipt = receive(session=session, text=text, secret_key=SECRET)
                assert receipt.ack_code == "AA", receipt.error_detail
        outcomes.append(_outcome(session, family, tag))
    one_by_one, together_ = outcomes
    assert together_ == one_by_one
    assert one_by_one[1], "each scenario links its patients somehow"


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def _fail_together(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Make the batch's matching pass fail (a bug, say); count both kinds of call."""
    real: Callable[..., Any] = patients_changed
    calls = {"together": 0, "one": 0}

    def failing_together(*args: Any, together: bool = False, **kwargs: Any) -> Any:
        if together:
            calls["together"] += 1
            raise RuntimeError("matcher bug")
        calls["one"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr("backend.interop.hl7v2.store.patients_changed", failing_together)
    return calls


@pytest.mark.parametrize("failing", [False, True], ids=["together", "matcher fails"])
def test_import_matches_a_file_together_and_loses_nothing_if_that_fails(
    feed_engine: Engine, monkeypatch: pytest.MonkeyPatch, failing: bool
) -> None:
    """``import hl7``: a file's messages in one transaction, matched in one pass; when
    the pass fails the batch is rolled back whole (savepoints included, on SQLite too)
    and received again matching per message, so the pair is still merged."""
    calls = _fail_together(monkeypatch) if failing else None
    family, tag = surname().upper(), uuid.uuid4().hex[:8]
    texts = _messages(family, tag, "the same person registered twice")
    receipts = import_messages(feed_engine, texts, SECRET)
    assert [(r.ack_code, r.duplicate) for r in receipts] == [("AA", False)] * 2
    if calls is not None:
        assert calls == {"together": 1, "one": 2}
    with Session(feed_engine) as session:
        patients, found = _outcome(session, family, tag)
    assert sorted(status for _, status in patients) == ["active", "merged"]
    assert len(found) == 1


def test_a_failed_batch_match_applies_the_batch_one_message_at_a_time(
    feed_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pass over the batch fails (a bug, say): nothing is lost, each message is
    applied again with its own matcher round, and the link is still made."""
    calls = _fail_together(monkeypatch)
    family, tag = surname().upper(), uuid.uuid4().hex[:8]
    texts = _messages(family, tag, "the same person registered twice")
    with Session(feed_engine) as session, session.begin():
        for text in texts:
            assert store(session=session, text=text).ack_code == "AA"
    assert apply_all(feed_engine, secret_key=SECRET) == len(texts)
    assert calls == {"together": 1, "one": 2}
    with Session(feed_engine) as session:
        states = session.scalars(
            select(Hl7Message.state).where(Hl7Message.control_id.like(f"{tag}%"))
        ).all()
        assert states == [MessageState.PROCESSED] * len(texts)
        patients, found = _outcome(session, family, tag)
    assert sorted(status for _, status in patients) == ["active", "merged"]
    assert len(found) == 1
