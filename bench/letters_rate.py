"""Measure PDF letter pages per second in one process, Arabic and Latin.

    .venv/bin/python bench/letters_rate.py --letters 1000

Renders the demo renewal letter (letterhead and legal footer blocks, the
letter's own CSS, the preference footer) for a new customer each time, in
English and in Arabic, --letters of each, through `templates_app.letters`
as the trigger path does, in this one process after `letters.warm()`.
Prints the rate of every 100 letters (is it stable?), the overall pages per
second and per CPU second, the process's resident memory, and the machine's
load: on a shared machine the wall-clock rate falls with the CPU others
take, the rate per CPU second much less. With --profile, prints the top
functions of a cProfile run over 100 letters of each language instead.
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccm.settings")

import django  # noqa: E402

django.setup()

from channels_app.footers import footer_apply  # noqa: E402
from templates_app import letters  # noqa: E402
from templates_app.demo import BLOCKS, TEMPLATES  # noqa: E402
from templates_app.render_limits import BlockSource  # noqa: E402
from templates_app.rendering import render_content  # noqa: E402

TARGET = 25  # pages a second per process (issue 23)


def _letter_parts(language: str, n: int) -> dict[str, str]:
    """Render the demo renewal letter for customer `n`, footer included."""
    spec = next(t for t in TEMPLATES if t["code"] == "policy-renewal-letter")
    sources = next(
        fields
        for channel, lang, fields in spec["contents"]
        if channel == "letter" and lang == language
    )
    blocks = {
        code: BlockSource(code, n, 1, *block["contents"][language])
        for n, (code, block) in enumerate(BLOCKS.items(), start=1)
    }
    data = {
        **spec["sample_data"],
        "customer": {**spec["sample_data"]["customer"], "name": f"Customer {n}"},
    }
    rendered = render_content(
        channel="letter", language=language, sources=sources, data=data, blocks=blocks
    )
    return footer_apply(
        rendered.parts,
        channel="letter",
        language=language,
        customer_id=n,
        message=uuid.uuid4(),
        marketing=False,
    )


def _letter(language: str, n: int) -> int:
    parts = _letter_parts(language, n)
    return letters.letter_pdf(
        parts["letter_html"],
        language=language,
        css=parts.get("letter_css", ""),
        title="Policy renewal",
    ).pages


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def rate_measure(language: str, count: int) -> float:
    """Render `count` letters; print the rate of each 100; return pages/s."""
    pages, started, cpu = 0, time.perf_counter(), time.process_time()
    window, window_pages, rates = started, 0, []
    for n in range(1, count + 1):
        window_pages += _letter(language, n)
        if n % 100 == 0 or n == count:
            now = time.perf_counter()
            rates.append(window_pages / (now - window))
            pages += window_pages
            window, window_pages = now, 0
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"  {language}: {pages / seconds:5.1f} pages/s over {count:,} letters "
        f"({pages / cpu:.1f} per CPU second; target {TARGET}); per 100: "
        + " ".join(f"{r:.0f}" for r in rates)
        + f"; RSS {_rss_mb():.0f} MB; load {_load()}",
        flush=True,
    )
    return pages / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=1000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    letters.warm()
    for language in ("en", "ar"):
        _letter(language, 0)
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for n in range(100):
            _letter("en", n)
            _letter("ar", n)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        return
    print(f"PDF letters, one process, {os.cpu_count()} cores, load average {_load()}")
    for language in ("en", "ar"):
        rate_measure(language, args.letters)


if __name__ == "__main__":
    main()
