"""SMS encoding and segment counting (GSM 03.38 basic and extension tables)."""

from dataclasses import dataclass

from django.conf import settings

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Each extension character costs two septets: the escape and the character.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7 = "GSM-7"
UCS2 = "UCS-2"

SINGLE_LIMIT = {GSM7: 160, UCS2: 70}
# Concatenated messages lose room to the user data header.
MULTI_LIMIT = {GSM7: 153, UCS2: 67}


@dataclass(frozen=True)
class SmsInfo:
    encoding: str
    characters: int
    units: int
    segments: int
    max_segments: int

    @property
    def over_limit(self) -> bool:
        return self.segments > self.max_segments

    def as_dict(self) -> dict:
        return {
            "encoding": self.encoding,
            "characters": self.characters,
            "units": self.units,
            "segments": self.segments,
            "max_segments": self.max_segments,
            "over_limit": self.over_limit,
        }


def sms_encoding(text: str) -> str:
    """Return GSM-7 when every character is in the GSM tables, else UCS-2."""
    for char in text:
        if char not in GSM7_BASIC and char not in GSM7_EXTENSION:
            return UCS2
    return GSM7


def _unit_costs(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if char in GSM7_EXTENSION else 1 for char in text]
    # UCS-2 on the wire is UTF-16: characters outside the BMP take two units.
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def sms_analyse(text: str) -> SmsInfo:
    """Return the encoding, length in units and segment count of an SMS."""
    encoding = sms_encoding(text)
    costs = _unit_costs(text, encoding)
    units = sum(costs)
    max_segments = getattr(settings, "SMS_MAX_SEGMENTS_WARNING", 3)
    if units == 0:
        segments = 0
    elif units <= SINGLE_LIMIT[encoding]:
        segments = 1
    else:
        # An escape pair or a surrogate pair is never split across segments.
        limit = MULTI_LIMIT[encoding]
        segments, used = 1, 0
        for cost in costs:
            if used + cost > limit:
                segments += 1
                used = 0
            used += cost
    return SmsInfo(encoding, len(text), units, segments, max_segments)
