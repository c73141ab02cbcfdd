"""Mask contact data for agents who have not unmasked it."""

import re
from collections.abc import Iterable

import phonenumbers

MASK = "•••"


def email_mask(email: str) -> str:
    """Return "cu•••@d•••.com" for "customer@demo.com"."""
    if "@" not in email:
        return text_mask(email)
    local, domain = email.rsplit("@", 1)
    host, _, tld = domain.rpartition(".")
    return f"{local[:2]}{MASK}@{host[:1]}{MASK}.{tld}" if host else f"{local[:2]}{MASK}"


def phone_mask(phone: str) -> str:
    """Return "+9665•••4567": the country code area and the last four digits."""
    if not phone:
        return ""  # none, or erased: nothing to hide
    if len(phone) <= 6:
        return MASK
    return f"{phone[:5]}{MASK}{phone[-4:]}"


def text_mask(text: str) -> str:
    """Return the first characters of the first line, the rest masked."""
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    return f"{first_line[:3]}{MASK}" if first_line else ""


def address_mask(channel: str, address: str) -> str:
    """Mask an address as used on a channel."""
    if channel == "email":
        return email_mask(address)
    if channel == "sms":
        return phone_mask(address)
    return text_mask(address)


class ContactMask:
    """Mask a customer's contact points wherever a stored text names them.

    Reasons and provider errors are the record and name the address they were
    about ("… is suppressed on email", "recipient refused: {…}"); an agent who
    has not unmasked reads them with the addresses masked.
    """

    # Passed to templates for the `masked` filter, not called by them.
    do_not_call_in_templates = True

    def __init__(self, contacts: Iterable[tuple[str, str]]) -> None:
        masks: dict[str, str] = {}
        for channel, address in contacts:
            for written in _forms(channel, address):
                masks.setdefault(written.casefold(), address_mask(channel, address))
        self._masks = masks
        self._pattern: re.Pattern | None = None

    def _compiled(self) -> re.Pattern:
        """Return the pattern of every form, longest first (an address masked
        whole, not a part of it); compiled at the first text that names one.
        """
        if self._pattern is None:
            found = sorted(self._masks, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, found)), re.IGNORECASE)
        return self._pattern

    @classmethod
    def for_customer(
        cls, customer, used: Iterable[tuple[str, str]] = ()
    ) -> "ContactMask":
        """Return the mask of a customer's contact points and addresses `used`."""
        return cls(
            [
                ("email", customer.email),
                ("sms", customer.phone),
                ("letter", customer.postal_address),
                *used,
            ]
        )

    def __call__(self, text: str) -> str:
        if not text:
            return text
        # Most texts name no address: for ASCII text, where case folding
        # matches as the regex's IGNORECASE does, a substring test says so.
        if text.isascii():
            folded = text.casefold()
            if not any(form in folded for form in self._masks):
                return text
        # Case folding may not give back the key (Turkish dotted İ and ı).
        return self._compiled().sub(
            lambda match: self._masks.get(match.group(0).casefold(), MASK), text
        )


def _forms(channel: str, address: str) -> list[str]:
    """Return the ways a stored text may write an address: whole, bare digits, lines.

    Forms under five characters are left: too short to tell from other words.
    """
    address = address.strip()
    if channel == "sms":
        forms = [address, address.lstrip("+"), *_national_forms(address)]
    elif channel == "letter":
        forms = [address, *(line.strip() for line in address.splitlines())]
    else:
        forms = [address]
    return [form for form in forms if len(form) >= 5]


def _national_forms(phone: str) -> list[str]:
    """Return an E.164 number as a person writes it at home: "050 123 4567"."""
    try:
        number = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return []
    national = phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.NATIONAL
    )
    return [national, "".join(c for c in national if c.isdigit())]
