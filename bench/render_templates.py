"""Measure sandboxed renders per second and warm PDF letters per second.

Run: CCM_VAR_DIR=/tmp/tpl-var .venv/bin/python bench/render_templates.py
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccm.settings")

import django  # noqa: E402

django.setup()

from templates_app import letters, rendering  # noqa: E402

SOURCE = (
    "<h1>Dear {{ customer.name }}</h1>"
    + "<p>Policy {{ policy }} · {{ amount|money('SAR') }} due {{ due|date }}</p>" * 20
    + "<ul>{% for item in items %}<li>{{ item.label }}: {{ item.value|number }}"
    "</li>{% endfor %}</ul>{% if vip %}<p>Thank you for your loyalty.</p>{% endif %}"
)
DATA = {
    "customer": {"name": "Fatimah Al-Harbi"},
    "policy": "MT-204518",
    "amount": 1250.5,
    "due": "2025-07-15",
    "items": [{"label": f"Item {i}", "value": i * 1000.25} for i in range(10)],
    "vip": True,
}
LETTER = {
    "en": "<h1>Renewal</h1><p>Dear Omar Al-Qahtani,</p>"
    + "<p>Your policy renews on 1 September 2025.</p>" * 8,
    "ar": "<h1>تجديد الوثيقة</h1><p>عزيزي عمر القحطاني،</p>"
    + "<p>تتجدد وثيقتكم بتاريخ 1 سبتمبر 2025.</p>" * 8,
}


def rate(label: str, func, count: int) -> None:
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(count):
            func()
        runs.append(count / (time.perf_counter() - started))
    print(f"{label}: {statistics.median(runs):,.0f}/s (median of 3 x {count})")


if __name__ == "__main__":
    for language in ("en", "ar"):
        rate(
            f"render HTML ({language})",
            lambda lang=language: rendering.render_source(
                SOURCE, DATA, html=True, language=lang
            ),
            2000,
        )
    letters.warm()
    for language in ("en", "ar"):
        rate(
            f"letter PDF ({language})",
            lambda lang=language: letters.letter_pdf(LETTER[lang], language=lang),
            20,
        )
