"""A complete, valid intake as the form posts of each step (shared by HTTP and browser
tests), and helpers to walk it."""

from __future__ import annotations

import re
from typing import Any

import httpx2
from starlette.testclient import TestClient

from tests.portal.conftest import csrf_of

STEP_IDS = (
    "demographics",
    "contact",
    "emergency_contact",
    "insurance",
    "reason_for_care",
    "referral_source",
    "medical_history",
    "current_medications",
    "allergies",
    "social_factors",
    "phq9",
    "gad7",
)
PHQ9 = {f"phq9_{n}": "1" for n in range(1, 9)} | {"phq9_9": "2", "phq9_difficulty": "1"}
GAD7 = {f"gad7_{n}": "2" for n in range(1, 8)} | {"gad7_difficulty": "2"}
STEPS: dict[str, dict[str, Any]] = {
    "demographics": {
        "given_name": "Ana",
        "preferred_name": "Annie",
        "sex": "female",
        "language": "en",
        "interpreter_needed": "no",
    },
    "contact": {
        "phone": "(617) 555-0134",
        "phone_type": "mobile",
        "ok_to_text": "yes",
        "email": "Ana.New@Example.org",
        "address_line1": "12 Elm St",
        "city": "Somerville",
        "state": "MA",
        "postal_code": "02143",
    },
    "emergency_contact": {
        "ec_name": "Maria Tester",
        "ec_relationship": "sibling",
        "ec_phone": "617-555-0199",
        "ec_may_share": "yes",
    },
    "insurance": {"has_insurance": "no"},
    "reason_for_care": {
        "concerns": ["depression", "anxiety"],
        "reason_text": "Low mood <b>and</b> worry",
        "prior_treatment": "no",
    },
    "referral_source": {"referral_source": "pcp", "referrer_name": "Dr. Rachel Kim"},
    "medical_history": {"medical_conditions": ["asthma"], "prior_psych_hospitalization": "no"},
    "current_medications": {"takes_medications": "no"},
    "allergies": {"has_allergies": "yes", "allergies": "Penicillin: hives"},
    "social_factors": {
        "housing": "worried",
        "food_worry": "sometimes",
        "food_last": "never",
        "transportation": "no",
        "safety": "yes",
    },
    "phq9": PHQ9,
    "gad7": GAD7,
}


def start(client: TestClient) -> str:
    """Start (or resume) the intake; the response id from the redirect."""
    token = csrf_of(client.get("/portal/intake").text)
    response = client.post("/portal/intake", data={"csrf_token": token})
    assert response.status_code == 303, response.text
    match = re.match(r"^/portal/intake/([0-9a-f-]{36})/[a-z0-9_]+$", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def post_step(
    client: TestClient, response_id: str, step: str, data: dict[str, Any]
) -> httpx2.Response:
    url = f"/portal/intake/{response_id}/{step}"
    token = csrf_of(client.get(url).text)
    return client.post(url, data={**data, "csrf_token": token})


def prefilled(html: str, name: str) -> str:
    """The value a text input of the page was prefilled with."""
    match = re.search(rf'name="{name}" type="[a-z]+" value="([^"]*)"', html)
    assert match, name
    return match.group(1)


def complete(client: TestClient, response_id: str) -> None:
    """Post every step; demographics keeps the prefilled last name and birth date."""
    page = client.get(f"/portal/intake/{response_id}/demographics").text
    known = {n: prefilled(page, n) for n in ("family_name", "birth_date")}
    for step in STEP_IDS:
        data = STEPS[step] | (known if step == "demographics" else {})
        response = post_step(client, response_id, step, data)
        assert response.status_code == 303, (step, response.text[:3000])


def submit(client: TestClient, response_id: str) -> httpx2.Response:
    token = csrf_of(client.get(f"/portal/intake/{response_id}/review").text)
    return client.post(f"/portal/intake/{response_id}/submit", data={"csrf_token": token})
