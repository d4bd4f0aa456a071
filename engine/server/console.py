"""The agent console: a web page at `/console` where people take over conversations, and its JSON
API under `/console/api` (see docs/handoff.md for the whole of it).

Agents and the SHA-256 of their tokens come from config.yml (`handoff.agents`). The page logs in
with `POST /console/api/login` and then sends `Authorization: Bearer <token>` with every call
(kept in the tab's sessionStorage; no cookie, so no cross-site request can act as an agent).

The analytics routes `/api/tickets` (the conversation API's token) list tickets with their
measures: time to claim, time to first agent reply, how and when they ended, and why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from engine.handoff.agents import Agent
from engine.handoff.desk import MAX_TEXT_CHARS, HandoffDesk
from engine.handoff.store import TicketQuery
from engine.handoff.tickets import OPEN_STATUSES, Ticket, TicketStatus
from engine.server.api import require_token
from engine.server.errors import ApiError
from engine.server.turns import turn_runner

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
ENDED_STATUSES = (TicketStatus.HANDED_BACK, TicketStatus.CLOSED, TicketStatus.EXPIRED)

_bearer = HTTPBearer(auto_error=False, description="An agent's token (handoff.agents in config.yml).")


def _desk(request: Request) -> HandoffDesk:
    desk: HandoffDesk = request.app.state.desk
    return desk


def current_agent(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Agent:
    desk = _desk(request)
    agent = desk.agents.by_token(credentials.credentials) if credentials is not None else None
    if agent is None:
        raise ApiError(
            401,
            "unauthorized",
            "log in again: send Authorization: Bearer <token> with an agent's token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return agent


CurrentAgent = Annotated[Agent, Depends(current_agent)]


# -- bodies ------------------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Login(_Body):
    agent: str = Field(min_length=1, max_length=200, description="The agent's id (login name).")
    token: str = Field(min_length=1, max_length=500, description="The agent's token.")


class Text(_Body):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class Transfer(_Body):
    queue: str = Field(min_length=1, max_length=200, description="A queue of the ticket's pack.")
    note: str | None = Field(None, max_length=MAX_TEXT_CHARS, description="Why, for the next agent.")


class HandBack(_Body):
    resume: bool = Field(description="true: the bot resumes the interrupted flow; false: it ends it.")
    note: str | None = Field(None, max_length=MAX_TEXT_CHARS)


class Close(_Body):
    resolution: str = Field(min_length=1, max_length=200, description="A resolution code.")
    note: str | None = Field(None, max_length=MAX_TEXT_CHARS)


# -- the page ----------------------------------------------------------------------------------
page_router = APIRouter(tags=["agent console"])


@page_router.get("/console", summary="The agent console", response_class=Response)
def console_page() -> Response:
    body = (STATIC / "console.html").read_bytes()
    return Response(body, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})


@page_router.get("/console/console.js", include_in_schema=False)
def console_js() -> Response:
    return _static("console.js", "text/javascript; charset=utf-8")


@page_router.get("/console/console.css", include_in_schema=False)
def console_css() -> Response:
    return _static("console.css", "text/css; charset=utf-8")


def _static(name: str, media_type: str) -> Response:
    return Response(
        (STATIC / name).read_bytes(),
        media_type=media_type,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


# -- the console's API -------------------------------------------------------------------------
router = APIRouter(prefix="/console/api", tags=["agent console"])


@router.post("/login", summary="Check an agent's id and token")
async def login(body: Login, request: Request) -> dict[str, Any]:
    agent = _desk(request).agents.login(body.agent, body.token)
    if agent is None:
        log.warning("console login refused for agent id %r", body.agent[:50])
        raise ApiError(401, "invalid_login", "unknown agent or wrong token")
    log.info("agent %s logged in to the console", agent.id)
    return {"agent": agent.to_json()}


@router.get("/me", summary="The agent the token belongs to")
async def me(agent: CurrentAgent) -> dict[str, Any]:
    return {"agent": agent.to_json()}


@router.get("/queues", summary="The queues the agent works, with their open tickets")
async def queues(request: Request, agent: CurrentAgent) -> dict[str, Any]:
    desk = _desk(request)
    return {"queues": await turn_runner(request).run(desk.queues, agent)}


View = Literal["waiting", "mine", "open", "ended"]


@router.get("/tickets", summary="Tickets of the agent's queues")
async def tickets(
    request: Request,
    agent: CurrentAgent,
    view: View = "waiting",
    queue: Annotated[str | None, Query(max_length=200)] = None,
    pack: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """`waiting`: queued, most urgent then oldest first; `mine`: claimed by the agent; `open`:
    queued or claimed; `ended`: handed back, closed or expired, newest first."""
    desk = _desk(request)
    statuses: tuple[TicketStatus, ...] = {
        "waiting": (TicketStatus.QUEUED,),
        "mine": (TicketStatus.CLAIMED,),
        "open": OPEN_STATUSES,
        "ended": ENDED_STATUSES,
    }[view]
    query = TicketQuery(
        statuses=statuses,
        pack=pack,
        queue=queue,
        agent=agent.id if view == "mine" else None,
        covered_by=agent.queues,
        waiting_order=view != "ended",
        limit=limit,
    )
    found = await turn_runner(request).run(desk.store.find, query)
    now = desk.clock()
    return {"tickets": [t.to_json(now=now) for t in found]}


@router.get("/tickets/{ticket_id}", summary="A ticket with its context packet and timeline")
async def ticket(ticket_id: int, request: Request, agent: CurrentAgent) -> dict[str, Any]:
    desk = _desk(request)

    def work() -> dict[str, Any]:
        return desk.view(desk.ticket(ticket_id, agent))

    return await turn_runner(request).run(work)


@router.post("/tickets/{ticket_id}/claim", summary="Take the ticket (one agent only)")
async def claim(ticket_id: int, request: Request, agent: CurrentAgent) -> dict[str, Any]:
    desk = _desk(request)
    return await _act(request, lambda: desk.claim(ticket_id, agent))


@router.post("/tickets/{ticket_id}/reply", summary="Write to the customer, on their channel")
async def reply(ticket_id: int, body: Text, request: Request, agent: CurrentAgent) -> dict[str, Any]:
    desk = _desk(request)
    return await _act(request, lambda: desk.reply(ticket_id, agent, body.text))


@router.post("/tickets/{ticket_id}/notes", summary="An internal note (never shown to the customer)")
async def note(ticket_id: int, body: Text, request: Request, agent: CurrentAgent) -> dict[str, Any]:
    desk = _desk(request)
    return await _act(request, lambda: desk.note(ticket_id, agent, body.text))


@router.post("/tickets/{ticket_id}/transfer", summary="Move the ticket to another queue, unclaimed")
async def transfer(ticket_id: int, body: Transfer, request: Request, agent: CurrentAgent) -> dict[str, Any]:
    desk = _desk(request)
    return await _act(request, lambda: desk.transfer(ticket_id, agent, body.queue, body.note))


@router.post("/tickets/{ticket_id}/handback", summary="Hand the conversation back to the bot")
async def hand_back(ticket_id: int, body: HandBack, request: Request, agent: CurrentAgent) -> dict[str, Any]:
    desk = _desk(request)
    return await _act(request, lambda: desk.hand_back(ticket_id, agent, resume=body.resume, note=body.note))


@router.post("/tickets/{ticket_id}/close", summary="Close the ticket with a resolution code")
async def close(ticket_id: int, body: Close, request: Request, agent: CurrentAgent) -> dict[str, Any]:
    desk = _desk(request)
    return await _act(request, lambda: desk.close(ticket_id, agent, body.resolution, body.note))


async def _act(request: Request, operation: Callable[[], Ticket]) -> dict[str, Any]:
    """Run the desk's `operation` off the event loop; answer the changed ticket's view."""
    desk = _desk(request)

    def work() -> dict[str, Any]:
        return desk.view(operation())

    return await turn_runner(request).run(work)


# -- analytics (the conversation API's token) --------------------------------------------------
analytics_router = APIRouter(prefix="/api", tags=["tickets"], dependencies=[Depends(require_token)])


@analytics_router.get("/tickets", summary="Tickets with their measures, newest first")
async def ticket_measures(
    request: Request,
    pack: Annotated[str | None, Query(max_length=200)] = None,
    queue: Annotated[str | None, Query(max_length=200)] = None,
    status: TicketStatus | None = None,
    since: Annotated[float | None, Query(description="Created at or after (unix seconds).")] = None,
    until: Annotated[float | None, Query(description="Created before (unix seconds).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Per ticket: `time_to_claim_s` and `time_to_first_reply_s` (from the request),
    `duration_s` (to its end), `outcome` (handed_back, closed, expired; null while open),
    `handback` (resume or end), `resolution` and `reason`."""
    desk = _desk(request)
    query = TicketQuery(
        statuses=(status,) if status else (),
        pack=pack,
        queue=queue,
        created_since=since,
        created_until=until,
        limit=limit,
        offset=offset,
    )
    found = await turn_runner(request).run(desk.store.find, query)
    return {"tickets": [t.measures() for t in found]}


@analytics_router.get("/tickets/{ticket_id}", summary="A ticket, its context packet and timeline")
async def ticket_detail(ticket_id: int, request: Request) -> dict[str, Any]:
    desk = _desk(request)

    def work() -> dict[str, Any]:
        found = desk.store.get(ticket_id)
        view = desk.view(found)
        view["measures"] = found.measures()
        return view

    return await turn_runner(request).run(work)
