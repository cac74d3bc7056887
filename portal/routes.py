"""The portal's routes, mounted at ``/portal`` by ``create_app``."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route

from portal import account, alumni, intake, preferences, record, surveys


def portal_routes() -> list[BaseRoute]:
    """``/portal`` itself (the home page, no trailing-slash redirect) and the pages under it."""
    return [
        Route("/portal", record.home, methods=["GET"]),
        Mount("/portal", routes=_pages()),
    ]


def _pages() -> list[BaseRoute]:
    return [
        Route("/sign-in", account.sign_in_page, methods=["GET"]),
        Route("/sign-in", account.sign_in, methods=["POST"]),
        Route("/sign-out", account.sign_out, methods=["POST"]),
        Route("/invite/{token}", account.invite_page, methods=["GET"]),
        Route("/invite/{token}", account.accept_invite, methods=["POST"]),
        Route("/reset", account.reset_request_page, methods=["GET"]),
        Route("/reset", account.request_reset, methods=["POST"]),
        Route("/reset/{token}", account.reset_page, methods=["GET"]),
        Route("/reset/{token}", account.reset, methods=["POST"]),
        Route("/appointments", record.appointments, methods=["GET"]),
        Route("/care-plan", record.care_plan, methods=["GET"]),
        Route("/messages", record.messages, methods=["GET"]),
        Route("/access", record.access, methods=["GET"]),
        Route("/preferences", preferences.preferences_page, methods=["GET"]),
        Route("/preferences", preferences.save_preferences, methods=["POST"]),
        # Intake: review, submit and done before the generic step route.
        Route("/intake", intake.intake_home, methods=["GET"]),
        Route("/intake", intake.start, methods=["POST"]),
        Route("/intake/{response_id}/review", intake.review, methods=["GET"]),
        Route("/intake/{response_id}/submit", intake.submit, methods=["POST"]),
        Route("/intake/{response_id}/done", intake.done, methods=["GET"]),
        Route("/intake/{response_id}/{step}", intake.step_page, methods=["GET"]),
        Route("/intake/{response_id}/{step}", intake.save, methods=["POST"]),
        *_engagement_pages(),
    ]


def _engagement_pages() -> list[BaseRoute]:
    """Satisfaction surveys (one-time links and signed in) and the alumni pages."""
    return [
        Route("/survey/thanks", surveys.thanks_page, methods=["GET"]),
        Route("/survey/{token}", surveys.link_page, methods=["GET"]),
        Route("/survey/{token}", surveys.answer_link, methods=["POST"]),
        Route("/surveys", surveys.surveys_page, methods=["GET"]),
        Route("/surveys/{invitation_id}", surveys.survey_page, methods=["GET"]),
        Route("/surveys/{invitation_id}", surveys.answer_survey, methods=["POST"]),
        *alumni.routes(),
    ]
