"""Journey use cases for every transport: first contact to alumni life (reads through
the shared access path; the listings are declared in :mod:`backend.record.categories`)."""

from __future__ import annotations

from backend.record.categories import (
    ADMISSIONS,
    ALUMNI_CHECK_INS,
    ALUMNI_EVENT_ATTENDANCES,
    ALUMNI_MEMBERSHIPS,
    DISCHARGES,
    INQUIRIES,
    REFERRALS,
)

list_inquiries = INQUIRIES.list  # newest first; None when intake is withheld
list_admissions = ADMISSIONS.list
list_discharges = DISCHARGES.list
list_referrals = REFERRALS.list
list_alumni_memberships = ALUMNI_MEMBERSHIPS.list
list_alumni_check_ins = ALUMNI_CHECK_INS.list
list_alumni_event_attendances = ALUMNI_EVENT_ATTENDANCES.list
