"""Content hashes: what a reviewer approved, checked again before approval and send."""

import hashlib
import json
import time

from django.db.models import Prefetch, prefetch_related_objects
from django.utils.translation import gettext as _

from templates_app.models import (
    CHANNEL_FIELDS,
    ContentBlockVersion,
    TemplateVersion,
    VersionBlockPin,
)
from templates_app.version_settings import settings_hashed


def _digest(payload) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def block_version_hash(block_version: ContentBlockVersion) -> str:
    """Return the hash of a block version's content in every language."""
    return _digest(
        {
            "block": block_version.block.code,
            "contents": [
                {"language": c.language, "html": c.html, "text": c.text}
                # Language codes sort alike in Python and the database; a
                # prefetch (version_verification_load) is used as it stands.
                for c in sorted(block_version.contents.all(), key=lambda c: c.language)
            ],
        }
    )


def version_hash(version: TemplateVersion) -> str:
    """Return the hash of a version's content, pinned blocks and settings.

    Versions of hash scheme 1 (submitted before settings were frozen on
    versions) keep the hash their reviewers approved: content and blocks only.
    """
    settings = settings_hashed(version)
    return _digest(
        {
            **({"settings": settings} if settings is not None else {}),
            "template": version.template.code,
            "contents": [
                {
                    "channel": c.channel,
                    "language": c.language,
                    **{name: getattr(c, name) for name in CHANNEL_FIELDS[c.channel]},
                }
                for c in sorted(
                    version.contents.all(), key=lambda c: (c.channel, c.language)
                )
            ],
            "blocks": [
                {
                    "code": pin.block_version.block.code,
                    "number": pin.block_version.number,
                    "hash": pin.block_version.content_hash,
                }
                for pin in _pins(version)
            ],
        }
    )


PINS_LOADED = "pins_loaded"


def _pins_query():
    return VersionBlockPin.objects.select_related("block_version__block").order_by(
        "block_version__block__code"
    )


def _pins(version: TemplateVersion) -> list[VersionBlockPin]:
    """The version's pins in block code order (as loaded, if they were)."""
    loaded = getattr(version, PINS_LOADED, None)
    return list(_pins_query().filter(version=version)) if loaded is None else loaded


# Rows loaded for a version, by (id, updated, content hash): (when, rows).
_LOADED: dict[tuple, tuple[float, TemplateVersion]] = {}
_LOADED_MAX = 256


def version_verification_load(
    version: TemplateVersion, *, reuse_seconds: float = 0
) -> None:
    """Load what checking a version's hash and rendering it read, in three queries.

    Its contents, its pins (as `pins_loaded`, in block code order) with their
    block versions, and those block versions' contents. `version_hash_ok` and
    `selectors.block_sources_for_version` then read these rows, not the
    database again: what is rendered is what was checked.

    With `reuse_seconds`, the rows this process loaded for the same version
    row (same id, `updated` and hash) less than that long ago are attached
    instead of read again. A version's contents and pinned blocks never change
    through the app once submitted, and the hash is still checked on every
    use against the version row as read now; rows edited behind the app are
    found (and the version refused) once the reused rows expire, and until
    then the rows that matched the approved hash are the ones rendered.
    """
    key = (version.pk, version.updated, version.content_hash)
    if reuse_seconds > 0:
        loaded = _LOADED.get(key)
        if loaded is not None and time.monotonic() - loaded[0] < reuse_seconds:
            rows = loaded[1]
            # The prefetch caches Django fills, shared read-only.
            version._prefetched_objects_cache = dict(rows._prefetched_objects_cache)
            setattr(version, PINS_LOADED, getattr(rows, PINS_LOADED))
            return
    prefetch_related_objects(
        [version],
        "contents",
        Prefetch("pins", queryset=_pins_query(), to_attr=PINS_LOADED),
        f"{PINS_LOADED}__block_version__contents",
    )
    if reuse_seconds > 0 and version_hash_ok(version):
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.clear()
        _LOADED[key] = (time.monotonic(), version)


def block_hash_mismatches(block_version: ContentBlockVersion) -> list[str]:
    """Return why a block version no longer matches its stored hash, if it does not."""
    computed = block_version_hash(block_version)
    if computed == block_version.content_hash:
        return []
    return [
        _(
            "%(version)s: stored content hash %(stored)s does not match the "
            "content (%(computed)s)"
        )
        % {
            "version": block_version,
            "stored": block_version.content_hash[:12] or "-",
            "computed": computed[:12],
        }
    ]


def version_hash_mismatches(version: TemplateVersion) -> list[str]:
    """Return why a version or a block it pins no longer matches its stored hash."""
    problems = []
    computed = version_hash(version)
    if computed != version.content_hash:
        problems.append(
            _(
                "%(version)s: stored content hash %(stored)s does not match the "
                "content (%(computed)s)"
            )
            % {
                "version": version,
                "stored": version.content_hash[:12] or "-",
                "computed": computed[:12],
            }
        )
    for pin in _pins(version):
        problems.extend(
            _("pinned block %(problem)s") % {"problem": problem}
            for problem in block_hash_mismatches(pin.block_version)
        )
    return problems


def version_hash_ok(version: TemplateVersion) -> bool:
    """Return whether the version and its pinned blocks still match their hashes."""
    return not version_hash_mismatches(version)
