"""How current the knowledge is: the day plans judge support windows against, and the knowledge's age.

Each tool's YAML carries `as_of` (the day its facts were last checked against upstream); a refreshed
overlay adds newer releases with its own date. Plans state both and warn when the newer one is more
than STALE_AFTER_DAYS old. UPGRADECTL_TODAY=YYYY-MM-DD pins "today" (reproducible plans and evals).
"""

from __future__ import annotations

import os
from datetime import date

from upgradectl.models import KnowledgeInfo
from upgradectl.tools.knowledge.loader import ToolKnowledge
from upgradectl.tools.knowledge.support import parse_date

STALE_AFTER_DAYS = 60
TODAY_ENV = "UPGRADECTL_TODAY"


class ClockError(ValueError):
    """UPGRADECTL_TODAY that is not a date."""


def today() -> date:
    """The day support windows and knowledge age are judged against: $UPGRADECTL_TODAY, else the local date."""
    pinned = os.environ.get(TODAY_ENV, "").strip()
    if not pinned:
        return date.today()
    try:
        return date.fromisoformat(pinned)
    except ValueError as exc:
        raise ClockError(f"{TODAY_ENV}={pinned!r} is not a date; use YYYY-MM-DD, e.g. 2026-12-05") from exc


def effective_date(knowledge: ToolKnowledge) -> str:
    """The newer of the bundled date and the overlay's refresh date ('' when neither is known)."""
    dates = [knowledge.as_of] if knowledge.as_of else []
    if knowledge.overlay and knowledge.overlay.refreshed_at and not knowledge.overlay.warning:
        dates.append(knowledge.overlay.refreshed_at[:10])
    return max(dates, key=lambda d: parse_date(d)) if dates else ""


def knowledge_info(knowledge: ToolKnowledge, on: date) -> KnowledgeInfo:
    """The plan's statement about its knowledge: dates, age in days on `on`, staleness, warnings."""
    current = effective_date(knowledge)
    age = (on - parse_date(current)).days if current else None
    stale = age is None or age > STALE_AFTER_DAYS
    warnings = []
    if knowledge.overlay and knowledge.overlay.warning:
        warnings.append(knowledge.overlay.warning)
    if age is None:
        warnings.append(
            f"{knowledge.display_name} knowledge carries no date (as_of): treat its releases and support windows as "
            "stale"
        )
    elif stale:
        warnings.append(
            f"{knowledge.display_name} knowledge is {age} days old (as of {current}; more than {STALE_AFTER_DAYS}): "
            "newer releases, fixes and support-window changes since then are unknown to this plan; run `upgradectl "
            "knowledge refresh` or update upgradectl"
        )
    overlay_ok = knowledge.overlay is not None and not knowledge.overlay.warning
    return KnowledgeInfo(
        as_of=knowledge.as_of,
        overlay_refreshed_at=knowledge.overlay.refreshed_at if overlay_ok and knowledge.overlay else "",
        overlay_path=knowledge.overlay.path if knowledge.overlay else "",
        effective_date=current,
        age_days=age,
        stale=stale,
        max_age_days=STALE_AFTER_DAYS,
        warnings=warnings,
    )
