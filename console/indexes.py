"""The PostgreSQL indexes behind the console's customer search.

Substring search on name, email and external id goes through trigram GIN
indexes on the same expressions Django's `icontains` emits
(`UPPER(col::text) LIKE UPPER(...)`); digits (partial phone numbers, numeric
ids) go through B-tree prefix indexes, on the value or on its reverse for a
suffix. SQLite keeps working without them (a scan).
"""

SEARCH_INDEXES = {
    # Substrings of names, emails and external ids (icontains).
    "console_customer_name_trgm": (
        "channels_app_customer USING gin (UPPER(name::text) gin_trgm_ops)"
    ),
    "console_customer_email_trgm": (
        "channels_app_customer USING gin (UPPER(email::text) gin_trgm_ops)"
    ),
    "console_customer_extid_trgm": (
        "channels_app_customer USING gin (UPPER(external_id::text) gin_trgm_ops)"
    ),
    # A full name typed from its start (istartswith): a common one matches
    # thousands of customers, which the trigram index must all gather first.
    "console_customer_name_prefix": (
        "channels_app_customer (UPPER(name::text) text_pattern_ops)"
    ),
    # An email typed from its start, or whole (istartswith, iexact).
    "console_customer_email_prefix": (
        "channels_app_customer (UPPER(email::text) text_pattern_ops)"
    ),
    # Digits: trigrams of digit strings are too common to index well, so a
    # partial phone number or numeric id matches as a prefix of the national
    # number or a suffix of the whole (reverse() turns it into a prefix).
    "console_customer_phone_prefix": (
        "channels_app_customer (phone varchar_pattern_ops)"
    ),
    "console_customer_phone_suffix": (
        "channels_app_customer (REVERSE(phone::text) text_pattern_ops)"
    ),
    "console_customer_extid_suffix": (
        "channels_app_customer (REVERSE(external_id::text) text_pattern_ops)"
    ),
}


def search_indexes_create(connection) -> None:
    """Create the trigram extension and the search indexes (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, definition in SEARCH_INDEXES.items():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def search_indexes_drop(connection) -> None:
    """Drop the search indexes (PostgreSQL only); the extension stays."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in SEARCH_INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
