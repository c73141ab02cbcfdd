"""SMS encoding and segment counting."""

import pytest

from templates_app.sms import GSM7, UCS2, sms_analyse


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", GSM7, 0, 0),
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),
        ("a" * 306, GSM7, 306, 2),
        ("a" * 307, GSM7, 307, 3),
        ("€" * 80, GSM7, 160, 1),
        ("€" * 81, GSM7, 162, 2),
        # An escape pair never straddles two segments: 152 + the euro sign.
        ("a" * 152 + "€" + "a" * 10, GSM7, 164, 2),
        ("a" * 152 + "€" + "a" * 152, GSM7, 306, 3),
        ("ب" * 70, UCS2, 70, 1),
        ("ب" * 71, UCS2, 71, 2),
        ("ب" * 134, UCS2, 134, 2),
        ("ب" * 135, UCS2, 135, 3),
        ("Hello 😀", UCS2, 8, 1),
        ("façade", UCS2, 6, 1),
        ("é" * 10, GSM7, 10, 1),
        ("{[~]}|^\\", GSM7, 16, 1),
    ],
)
def test_encoding_units_and_segments(text, encoding, units, segments):
    info = sms_analyse(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


def test_warning_limit_is_read_from_settings_at_call_time(settings):
    text = "ب" * 300
    assert sms_analyse(text).segments == 5
    assert sms_analyse(text).over_limit
    settings.SMS_MAX_SEGMENTS_WARNING = 6
    assert not sms_analyse(text).over_limit
