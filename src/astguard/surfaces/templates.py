"""The HTML templates of the dashboard and the printable inspection report (issue 13 item 7).

Every value is escaped by Jinja2 (autoescape for .html, StrictUndefined so that a misspelt
name fails instead of printing nothing); no surface builds HTML from strings. Two environments
on the same files: the async one renders pages and streams the report (`generate_async`), the
sync one renders the rows of one batch of a streamed table in a single call.
"""

from __future__ import annotations

import jinja2

from astguard import labels

_LOADER = jinja2.PackageLoader("astguard.surfaces", "templates")


def _environment(*, enable_async: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=_LOADER, autoescape=jinja2.select_autoescape(["html"]),
                             undefined=jinja2.StrictUndefined, enable_async=enable_async,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals["labels"] = labels
    env.globals["label"] = labels.label
    return env


pages = _environment(enable_async=True)
fragments = _environment(enable_async=False)
