"""Django's database sessions, read by a statement compiled once per process.

Every signed-in page reads its session first; Django's store builds and
compiles the same ORM query for it on each request. This store reads the
row by its key with a statement made once (`ccm.statements`) and checks the
expiry itself, as Django's query does in SQL. Everything else is Django's
(`SESSION_ENGINE = "ccm.sessions"`).
"""

from django.contrib.sessions.backends import db
from django.utils import timezone

from ccm.statements import Marker, statement


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        model = self.model
        found = statement(
            ("ccm.sessions", model._meta.label),
            lambda session_key: model.objects.filter(session_key=session_key),
            Marker("session_key", str),
            prepare=True,
        ).instance(session_key=self.session_key or "")
        if found is not None and found.expire_date > timezone.now():
            return found
        self._session_key = None
        return None
