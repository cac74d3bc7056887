"""Care plan use cases for every transport (reads through the shared access path).

Goals and tasks are listed per patient, like plans, so a transport nests them under
their plan in memory: three queries for any number of plans. The listings are declared
in :mod:`backend.record.categories`.
"""

from __future__ import annotations

from backend.record.categories import CARE_PLANS, GOALS, TASKS

list_care_plans = CARE_PLANS.list  # newest first; None when care plans are withheld
list_goals = GOALS.list  # in plan order
list_tasks = TASKS.list  # soonest due first
