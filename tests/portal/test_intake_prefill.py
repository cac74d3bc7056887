"""What the intake prefills from the record (portal.intake.prefill): the patient as the
PortalIntake operation answers it, already masked by the API."""

from __future__ import annotations

from typing import Any

from portal.intake import prefill

WITHHELD = [{"field": "name", "rule": "field_group:contact"}]


def _contact(name: str | None, *, primary: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "relationshipToPatient": extra.get("relationship", "spouse"),
        "phone": extra.get("phone", "+16175550100"),
        "isPrimary": primary,
        "withheld": extra.get("withheld", []),
    }


def test_the_primary_emergency_contact_fills_the_emergency_step() -> None:
    patient = {
        "givenName": "Ana",
        "emergencyContacts": [
            _contact("Old Friend", primary=False, relationship="friend"),
            _contact("Luis Tester", relationship="spouse", phone="+16175550111"),
        ],
    }
    found = prefill(patient)
    assert found["ec_name"] == "Luis Tester"
    assert found["ec_relationship"] == "spouse"
    assert found["ec_phone"] == "+16175550111"
    # Whether the contact may be told is asked every time: it is not on the record.
    assert "ec_may_share" not in found


def test_no_primary_or_a_masked_contact_prefills_nothing_of_the_step() -> None:
    only_former = {"emergencyContacts": [_contact("Old Friend", primary=False)]}
    masked = {"emergencyContacts": [_contact(None, withheld=WITHHELD)]}
    withheld_category = {"emergencyContacts": None}
    for patient in (only_former, masked, withheld_category, {}):
        assert not {"ec_name", "ec_relationship", "ec_phone"} & set(prefill(patient))


def test_a_contact_without_a_phone_prefills_name_and_relationship_only() -> None:
    found = prefill({"emergencyContacts": [_contact("Luis Tester", phone=None)]})
    assert (found["ec_name"], found["ec_relationship"]) == ("Luis Tester", "spouse")
    assert "ec_phone" not in found
