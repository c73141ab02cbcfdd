"""Benchmark the template inventory on 5,000 templates, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/inventory.py --templates 5000

Runs in a scratch database (bench_inventory). Generates templates with email,
SMS and letter content in English and Arabic (30,000 texts for 5,000
templates), of which one in ten is a planted near-copy of another: identical,
one paragraph changed (email and letter), variables renamed, or English only.
Then times the whole analysis job (read, compare, store) and prints the
recall of the planted pairs at the 80% threshold, and the pairs found that
were not planted.
"""

import argparse
import random
import time
from collections import Counter

from scratch import scratch_database_setup

EN_SYLLABLES = ("ka", "ri", "to", "men", "sa", "lo", "vi", "ne", "ta", "po", "ru")
AR_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
KINDS = ("identical", "paragraph", "variables", "english-only")


def _var(name: str) -> str:
    return "{{ " + name + " }}"


def _vocabulary(rng: random.Random, size: int, arabic: bool) -> list[str]:
    words = set()
    while len(words) < size:
        if arabic:
            words.add("".join(rng.choice(AR_LETTERS) for _ in range(rng.randint(3, 7))))
        else:
            words.add(
                "".join(rng.choice(EN_SYLLABLES) for _ in range(rng.randint(1, 4)))
            )
    return sorted(words)


class Corpus:
    def __init__(self, seed: int = 20) -> None:
        self.rng = random.Random(seed)
        self.words = {
            "en": _vocabulary(self.rng, 4000, arabic=False),
            "ar": _vocabulary(self.rng, 4000, arabic=True),
        }

    def sentence(self, language: str, n: int) -> str:
        return " ".join(self.rng.choice(self.words[language]) for _ in range(n))

    def paragraph(self, language: str, variables: list[str]) -> str:
        words = self.sentence(language, self.rng.randint(18, 40)).split()
        for variable in variables[: self.rng.randint(0, 2)]:
            words.insert(self.rng.randrange(len(words)), _var(variable))
        return " ".join(words)

    def boilerplate(self) -> None:
        """Make the legal paragraphs that unrelated templates share, as in life."""
        self.legal = {
            language: [self.paragraph(language, []) for _ in range(10)]
            for language in ("en", "ar")
        }

    def template(self, variables: list[str]) -> dict:
        """Return {(channel, language): fields} for a new, unrelated template.

        Its email and letter end with one of ten shared legal paragraphs.
        """
        contents = {}
        legal = self.rng.randrange(10)
        for language in ("en", "ar"):
            footer = self.legal[language][legal]
            email = [self.paragraph(language, variables) for _ in range(4)] + [footer]
            letter = [self.paragraph(language, variables) for _ in range(6)] + [footer]
            contents[("email", language)] = {
                "subject": self.sentence(language, 6),
                "html": "\n".join(f"<p>{p}</p>" for p in email),
            }
            contents[("sms", language)] = {
                "sms_text": self.sentence(language, 20) + " " + _var(variables[0])
            }
            contents[("letter", language)] = {
                "letter_html": "\n".join(f"<p>{p}</p>" for p in letter)
            }
        return contents

    def copy(self, original: dict, kind: str, variables: list[str]) -> tuple:
        contents = {slot: dict(fields) for slot, fields in original.items()}
        if kind == "paragraph":
            for (channel, language), fields in contents.items():
                name = {"email": "html", "letter": "letter_html"}.get(channel)
                if name is None:
                    continue
                paragraphs = fields[name].split("\n")
                index = self.rng.randrange(len(paragraphs))
                paragraphs[index] = f"<p>{self.paragraph(language, variables)}</p>"
                fields[name] = "\n".join(paragraphs)
        elif kind == "variables":
            renamed = [f"{v}_renamed" for v in variables]
            for fields in contents.values():
                for name, source in fields.items():
                    for old, new in zip(variables, renamed, strict=True):
                        source = source.replace(_var(old), _var(new))
                    fields[name] = source
            variables = renamed
        elif kind == "english-only":
            contents = {s: f for s, f in contents.items() if s[1] == "en"}
        return contents, variables


def _generate(count: int) -> set[tuple[str, str]]:
    from django.contrib.auth import get_user_model

    from templates_app.categories import category_create
    from templates_app.models import Template, TemplateVersion, VersionContent

    corpus = Corpus()
    corpus.boilerplate()
    author = get_user_model().objects.create_user("bench-author", is_staff=True)
    category = category_create(actor=None, code="bench", name="Bench")
    planted: set[tuple[str, str]] = set()
    specs = []
    originals: list[tuple[str, dict, list[str]]] = []
    for number in range(count):
        code = f"t{number:05d}"
        if number % 10 == 9 and originals:
            source_code, source, variables = corpus.rng.choice(originals)
            kind = KINDS[(number // 10) % len(KINDS)]
            contents, variables = corpus.copy(source, kind, variables)
            planted.add(tuple(sorted((source_code, code))))
        else:
            variables = [f"field_{number % 7}_{i}" for i in range(3)]
            contents = corpus.template(variables)
            originals.append((code, contents, variables))
        specs.append((code, contents, variables))
    templates = Template.objects.bulk_create(
        [
            Template(
                code=code,
                name=f"Bench template {code}",
                category=category,
                channels=["email", "sms", "letter"],
                data_schema={"type": "object"},
            )
            for code, _contents, _variables in specs
        ],
        batch_size=1000,
    )
    versions = TemplateVersion.objects.bulk_create(
        [
            TemplateVersion(
                template=template,
                number=1,
                author=author,
                category=category,
                channels=template.channels,
            )
            for template in templates
        ],
        batch_size=1000,
    )
    VersionContent.objects.bulk_create(
        [
            VersionContent(
                version=version, channel=channel, language=language, **fields
            )
            for version, (_code, contents, _v) in zip(versions, specs, strict=True)
            for (channel, language), fields in contents.items()
        ],
        batch_size=2000,
    )
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", type=int, default=5000)
    parser.add_argument("--threshold", type=float, default=0.8)
    options = parser.parse_args()
    scratch_database_setup("bench_inventory")

    started = time.perf_counter()
    planted = _generate(options.templates)
    print(
        f"generated {options.templates} templates × 3 channels × 2 languages "
        f"({len(planted)} planted near-copies) in {time.perf_counter() - started:.1f} s"
    )

    from inventory.analysis import inventory_analyse
    from inventory.models import DuplicatePair

    started = time.perf_counter()
    run = inventory_analyse(threshold=options.threshold)
    elapsed = time.perf_counter() - started
    found = {
        tuple(sorted(pair))
        for pair in DuplicatePair.objects.filter(run=run, kind="template").values_list(
            "left__code", "right__code"
        )
    }
    hits = planted & found
    differences = Counter(
        DuplicatePair.objects.filter(run=run).values_list("difference", flat=True)
    )
    print(
        f"analysed {run.items} templates and blocks, {run.documents} texts: "
        f"{elapsed:.1f} s (target < 60 s)"
    )
    print(
        f"recall of planted pairs at {options.threshold:.0%}: "
        f"{len(hits)}/{len(planted)} = {len(hits) / max(len(planted), 1):.1%} "
        "(target ≥ 95%)"
    )
    family: dict[str, str] = {}
    for original, copy in sorted(planted):
        family[copy] = family[original] = family.get(original, original)
    unrelated = {
        (a, b) for a, b in found - planted if family.get(a, a) != family.get(b, b)
    }
    print(
        f"pairs found: {len(found)}; copies of one original with each other: "
        f"{len(found - planted - unrelated)}; unrelated templates paired: "
        f"{len(unrelated)}"
    )
    print("kinds of difference:", dict(sorted(differences.items())))


if __name__ == "__main__":
    main()
