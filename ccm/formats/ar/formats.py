"""Arabic date formats: every time names the reader's zone (T).

The time and its zone sit in a left-to-right isolate (LRI ... PDI), so an
Arabic page shows "14:05 +03" in that order, not with the offset before it.
"""

DATETIME_FORMAT = "j F Y، \u2066H:i T\u2069"
SHORT_DATETIME_FORMAT = "\u2066Y-m-d H:i T\u2069"
