"""The in-process session store: for one worker and for tests. Sessions end with the process,
and other workers do not see them (use ``sql`` or ``redis`` with ``workers`` above 1)."""

from __future__ import annotations

import time

from dex_py.proxy.store_base import StoredSession


class MemoryStore:
    def __init__(self) -> None:
        self._sessions: dict[str, StoredSession] = {}

    async def put(self, session: StoredSession) -> None:
        self._sessions[session.id] = session

    async def get(self, session_id: str) -> StoredSession | None:
        session = self._sessions.get(session_id)
        if session is None or session.expires_at <= time.time():
            return None
        return session

    async def delete(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    async def delete_for(self, *, subject: str = "", issuer_sid: str = "") -> int:
        if issuer_sid:
            gone = [k for k, s in self._sessions.items() if s.issuer_sid == issuer_sid]
        elif subject:
            gone = [k for k, s in self._sessions.items() if s.subject == subject]
        else:
            gone = []
        for key in gone:
            del self._sessions[key]
        return len(gone)

    async def purge_expired(self) -> int:
        now = time.time()
        gone = [k for k, s in self._sessions.items() if s.expires_at <= now]
        for key in gone:
            del self._sessions[key]
        return len(gone)

    async def close(self) -> None:
        self._sessions.clear()
