"""Seal the personal parts of audit events under their data subject's key.

Each data subject (a customer) has a 256-bit AES-GCM key of their own, kept
in `DataSubjectKey` outside the chain and wrapped (Fernet) under the master
key from settings (`AUDIT_MASTER_KEY`). The parts of an event that
`audit.privacy.personal_fields_register` declares personal are replaced,
before the event is hashed, by a sealed string

    sealed:v1:<key id>:<url-safe base64 of nonce + ciphertext + tag>

so the chain hashes the sealed form. Destroying the key (crypto-shredding)
leaves every event and hash as it was and the sealed values unreadable:
`audit_verify` still passes and they read "erased on <date>".

Keys are looked up, and created when missing, once per append for all the
events it carries: a few queries per batch, never one per event.
"""

import base64
import functools
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from audit.models import AuditEvent, DataSubjectKey
from audit.privacy import personal_fields_for
from ccm.statements import Marker, statement

PREFIX = "sealed:v1:"
SEALED = re.compile(r"^sealed:v1:(\d+):([A-Za-z0-9_-]+=*)$")
NONCE_BYTES = 12
# subject_label is 255 characters: a label sealed whole must fit.
LABEL_MAX_BYTES = 140


@dataclass(frozen=True)
class Erased:
    """A sealed value whose key was destroyed: what readers see instead of it."""

    on: datetime | None

    def __str__(self) -> str:
        if self.on is None:
            return _("erased")
        return _("erased on %(date)s") % {
            "date": formats.date_format(timezone.localtime(self.on), "DATE_FORMAT")
        }


@functools.cache
def _master_for(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise ImproperlyConfigured(
            "AUDIT_MASTER_KEY (and each AUDIT_MASTER_KEY_FALLBACKS entry) must be a "
            "Fernet key: 32 url-safe base64-encoded bytes"
        ) from None


def master() -> MultiFernet:
    """Return the master key (and its fallbacks) that wrap data subject keys."""
    return _master_for(
        (settings.AUDIT_MASTER_KEY, *settings.AUDIT_MASTER_KEY_FALLBACKS)
    )


def _cipher(wrapped: str) -> AESGCM | None:
    """Return the AES-GCM cipher of a wrapped key; None for a destroyed key."""
    if not wrapped:
        return None
    try:
        return AESGCM(master().decrypt(wrapped.encode()))
    except InvalidToken:
        raise ImproperlyConfigured(
            "an audit data subject key does not unwrap under AUDIT_MASTER_KEY or "
            "its fallbacks: the master key was changed without keeping the old one"
        ) from None


def keys_for_sealing(owners: set[str]) -> dict[str, tuple[int, AESGCM | None]]:
    """Return each owner's key id and cipher, creating the missing keys.

    One query when every key exists; missing ones are inserted in one
    statement that a concurrent creator's row wins (ON CONFLICT DO NOTHING),
    and read back.
    """
    if len(owners) == 1:  # a page view's event: the statement compiled once
        rows = statement(
            ("audit.subject_key",),
            lambda owner: DataSubjectKey.objects.filter(owner=owner).values(
                "pk", "owner", "wrapped"
            ),
            Marker("owner", str),
        ).rows(owner=next(iter(owners)))
    else:
        rows = DataSubjectKey.objects.filter(owner__in=owners).values(
            "pk", "owner", "wrapped"
        )
    found = {row["owner"]: (row["pk"], _cipher(row["wrapped"])) for row in rows}
    missing = sorted(owners - set(found))
    if not missing:
        return found
    fresh = {owner: AESGCM.generate_key(bit_length=256) for owner in missing}
    table = connection.ops.quote_name(DataSubjectKey._meta.db_table)
    now = timezone.now()
    params: list[Any] = []
    for owner in missing:
        params += [owner, master().encrypt(fresh[owner]).decode(), now]
    rows = ", ".join(["(%s, %s, %s)"] * len(missing))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (owner, wrapped, created) VALUES {rows} "  # noqa: S608
            "ON CONFLICT (owner) DO NOTHING RETURNING id, owner",
            params,
        )
        for pk, owner in cursor.fetchall():
            found[owner] = (pk, AESGCM(fresh[owner]))
    lost = set(missing) - set(found)
    if lost:
        found.update(keys_for_sealing(lost))
    return found


def _seal(value: Any, key_id: int, cipher: AESGCM | None) -> str:
    """Return `value` (any JSON value) sealed under the key `key_id`.

    Under a destroyed key the value is sealed under a throwaway key that is
    never stored: what arrives about an erased data subject is erased at once.
    """
    cipher = cipher or AESGCM(AESGCM.generate_key(bit_length=256))
    nonce = os.urandom(NONCE_BYTES)
    plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    sealed = cipher.encrypt(nonce, plain, f"{PREFIX}{key_id}".encode())
    return f"{PREFIX}{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def _label_bounded(label: str) -> str:
    """Return `label` cut to at most LABEL_MAX_BYTES of UTF-8."""
    return label.encode()[:LABEL_MAX_BYTES].decode(errors="ignore")


def events_seal(drafts: list[AuditEvent]) -> None:
    """Seal, in place, the personal parts of drafts that have an owner."""
    pending = [
        (draft, draft._personal)
        for draft in drafts
        if getattr(draft, "_personal", None) is not None
    ]
    if not pending:
        return
    keys = keys_for_sealing({owner for _draft, (owner, _rule) in pending})
    for draft, (owner, rule) in pending:
        key_id, cipher = keys[owner]
        for side in ("before", "after"):
            values = getattr(draft, side)
            if isinstance(values, dict) and rule.fields & values.keys():
                setattr(
                    draft,
                    side,
                    {
                        name: _seal(value, key_id, cipher)
                        if name in rule.fields and value not in (None, "")
                        else value
                        for name, value in values.items()
                    },
                )
        if rule.label and draft.subject_label:
            draft.subject_label = _seal(
                _label_bounded(draft.subject_label), key_id, cipher
            )
        if rule.reason and draft.reason:
            draft.reason = _seal(draft.reason, key_id, cipher)
        draft._personal = None


def draft_owner(draft: AuditEvent, subject) -> None:
    """Mark `draft` for sealing when its subject's events carry personal data."""
    rule = personal_fields_for(subject)
    owner = rule.owner(subject) if rule is not None else None
    draft._personal = (owner, rule) if owner else None


def key_destroy(*, owner: str) -> DataSubjectKey:
    """Destroy a data subject's key: what was sealed under it becomes unreadable.

    A subject with no key yet gets a destroyed one, so anything recorded about
    them later is erased as it arrives. Idempotent.
    """
    key, _created = DataSubjectKey.objects.select_for_update().get_or_create(
        owner=owner, defaults={"wrapped": "", "destroyed": timezone.now()}
    )
    if key.destroyed is None:
        key.wrapped = ""
        key.destroyed = timezone.now()
        key.save(update_fields=["wrapped", "destroyed"])
    return key


class Unsealer:
    """Read sealed values back for display, loading their keys once."""

    def __init__(self, key_ids: set[int]) -> None:
        self._keys = {
            pk: (_cipher(wrapped), destroyed)
            for pk, wrapped, destroyed in DataSubjectKey.objects.filter(
                pk__in=key_ids
            ).values_list("pk", "wrapped", "destroyed")
        }

    @classmethod
    def for_events(cls, events) -> "Unsealer":
        """Return an unsealer holding the keys the events' sealed values name."""
        key_ids = set()
        for event in events:
            for value in (event.subject_label, event.reason):
                key_ids.update(_key_ids(value))
            for side in (event.before, event.after):
                if isinstance(side, dict):
                    for value in side.values():
                        key_ids.update(_key_ids(value))
        return cls(key_ids)

    def value(self, value: Any) -> Any:
        """Return a stored value readable: unsealed, Erased, or as it was."""
        if not isinstance(value, str):
            return value
        match = SEALED.match(value)
        if match is None:
            return value
        cipher, destroyed = self._keys.get(int(match[1]), (None, None))
        if cipher is None:
            return Erased(destroyed)
        raw = base64.urlsafe_b64decode(match[2])
        try:
            plain = cipher.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], f"{PREFIX}{match[1]}".encode()
            )
        except InvalidTag:
            return Erased(destroyed)
        return json.loads(plain)

    def side(self, values: Any) -> Any:
        """Return a before/after value with its sealed entries read back."""
        if not isinstance(values, dict):
            return values
        return {name: self.value(value) for name, value in values.items()}

    def event(self, event: AuditEvent) -> dict[str, Any]:
        """Return the readable subject label, before, after and reason of an event."""
        return {
            "subject_label": self.value(event.subject_label),
            "before": self.side(event.before),
            "after": self.side(event.after),
            "reason": self.value(event.reason),
        }


def _key_ids(value: Any) -> list[int]:
    if isinstance(value, str) and value.startswith(PREFIX):
        match = SEALED.match(value)
        if match is not None:
            return [int(match[1])]
    return []


def readable(value: Any) -> Any:
    """Return a readable value as JSON-ready data (an Erased as its text)."""
    if isinstance(value, Erased):
        return str(value)
    if isinstance(value, dict):
        return {name: readable(item) for name, item in value.items()}
    return value


def address_owners(address: str) -> list[str]:
    """Return the data subject names of an address under each master key.

    An address (a suppression's) belongs to whoever holds it; its name is a
    keyed hash, not the address, so the key table names nobody. The first
    name (the current master key's) seals; erasure destroys them all.
    """
    normalised = address.strip().lower().encode()
    return [
        "address:" + hmac.new(key.encode(), normalised, hashlib.sha256).hexdigest()
        for key in (settings.AUDIT_MASTER_KEY, *settings.AUDIT_MASTER_KEY_FALLBACKS)
    ]


def address_owner(address: str) -> str | None:
    """Return the data subject name that seals events about an address."""
    return address_owners(address)[0] if address else None


def event_readable(event: AuditEvent) -> dict[str, Any]:
    """Return one event's subject label, before, after and reason read back."""
    return Unsealer.for_events([event]).event(event)
