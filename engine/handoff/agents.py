"""The people who work the agent console, from config.yml's `handoff.agents`.

An agent logs in with their id and a token. config.yml keeps only the token's SHA-256, so the
file can be committed: `parley agent-token <id>` makes a random token and prints the entry to
paste. Tokens are long random strings, so a plain SHA-256 (no salt, no stretching) is enough to
keep them secret; a token is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from engine.config import AgentConfig
from engine.handoff.tickets import covers


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    #: Queue names, 'pack/queue' names, or '*'.
    queues: tuple[str, ...]

    def works(self, pack: str, queue: str) -> bool:
        return covers(self.queues, pack, queue)

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "queues": list(self.queues)}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh login token: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


class AgentDirectory:
    def __init__(self, agents: Mapping[str, AgentConfig]) -> None:
        self._agents = {
            agent_id: (Agent(agent_id, config.name, tuple(config.queues)), config.token_sha256)
            for agent_id, config in agents.items()
        }

    def login(self, agent_id: str, token: str) -> Agent | None:
        """The agent, when `token` is theirs."""
        found = self._agents.get(agent_id)
        given = token_hash(token)
        if found is None:
            hmac.compare_digest(given, given)  # the same work whether or not the id exists
            return None
        agent, expected = found
        return agent if hmac.compare_digest(given, expected) else None

    def by_token(self, token: str) -> Agent | None:
        """The agent a bearer token belongs to (tokens are unique random strings)."""
        given = token_hash(token)
        for agent, expected in self._agents.values():
            if hmac.compare_digest(given, expected):
                return agent
        return None
