"""Mask contact data for agents who have not unmasked it."""

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
