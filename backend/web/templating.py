"""The Jinja2 environment of the app's own (non-portal) pages: templates ship inside the
package (they are code) and autoescape is on for .html."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(
    env=Environment(loader=PackageLoader("backend.web"), autoescape=select_autoescape())
)
