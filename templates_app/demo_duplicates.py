"""Demo legacy copies: near-duplicate templates, as years of copy-and-edit leave them.

Three pairs, each approved and in force: a motor and a home instalment notice
one paragraph apart, a claim acknowledgement copied with its variables renamed,
and a bilingual travel notice beside its older English-only copy. Each pair
shares a paragraph long enough to become a content block.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from templates_app import services
from templates_app.demo import _approve, _grant, _second_reviewer, _template_create
from templates_app.models import Category, Status, Template
from templates_app.selectors import AUTHOR, REVIEW

CARE_EN = (
    "<p>If you have any question about this instalment, our customer care team "
    "is available Sunday to Thursday from 8 am to 8 pm on 800 124 0000, or in "
    "any of our branches.</p>"
)
CARE_AR = (
    "<p>إذا كان لديكم أي استفسار عن هذا القسط، فإن فريق خدمة العملاء متاح من الأحد "
    "إلى الخميس من الساعة 8 صباحًا حتى 8 مساءً على الرقم 800 124 0000، أو في أي "
    "من فروعنا.</p>"
)
CLAIM_EN = (
    "<p>Our claims team reviews every claim within five working days and may ask "
    "you for further documents, such as a police report or repair estimates.</p>"
)
TRAVEL_EN = (
    "<p>Keep this notice with your travel documents: it is your proof of cover "
    "at border controls and in hospitals abroad during the whole trip.</p>"
)
TRAVEL_AR = (
    "<p>احتفظوا بهذا الإشعار مع وثائق السفر: فهو إثبات التغطية عند المنافذ الحدودية "
    "وفي المستشفيات خارج المملكة طوال مدة الرحلة.</p>"
)


def _schema(*names: str) -> dict:
    return {
        "type": "object",
        "required": list(names),
        "properties": {name: {"type": "string", "minLength": 1} for name in names},
    }


def _spec(code, name, names, contents, *, channels=("email",), default="en") -> dict:
    return {
        "code": code,
        "name": name,
        "category": "collections",
        "description": "Legacy copy kept for a product line.",
        "channels": list(channels),
        "default_language": default,
        "data_schema": _schema(*names),
        "sample_data": {n: f"sample {n}" for n in names},
        "contents": contents,
    }


def _instalment(extra_en: str) -> list:
    return [
        (
            "email",
            "en",
            {
                "subject": "Your instalment is due",
                "html": "<p>Dear {{ name }},</p>\n"
                "<p>The instalment for your policy {{ policy }} "
                "is due on {{ due }}. Please pay it before that date to keep your "
                "cover in force.</p>\n" + extra_en + "\n" + CARE_EN,
                "text": "",
            },
        ),
        (
            "email",
            "ar",
            {
                "subject": "موعد سداد القسط",
                "html": "<p>عزيزي/عزيزتي {{ name }}،</p>\n"
                "<p>يستحق قسط الوثيقة رقم {{ policy }} في {{ due }}. "
                "يرجى السداد قبل هذا التاريخ لإبقاء التغطية سارية.</p>\n" + CARE_AR,
                "text": "",
            },
        ),
    ]


def _claim(name_var: str, claim_var: str) -> list:
    return [
        (
            "email",
            "en",
            {
                "subject": f"We received your claim {{{{ {claim_var} }}}}",
                "html": f"<p>Dear {{{{ {name_var} }}}},</p>\n"
                f"<p>Thank you for reporting claim {{{{ {claim_var} }}}}. We have "
                "registered it and assigned it to a claims handler who will "
                "contact you shortly.</p>\n" + CLAIM_EN,
                "text": "",
            },
        ),
    ]


def _travel(bilingual: bool) -> list:
    contents = [
        (
            "email",
            "en",
            {
                "subject": "Your travel cover is confirmed",
                "html": "<p>Dear {{ name }},</p>\n"
                "<p>Your travel policy {{ policy }} covers you from the first day "
                "of your trip for medical emergencies, lost luggage and "
                "cancellations.</p>\n" + TRAVEL_EN,
                "text": "",
            },
        )
    ]
    if bilingual:
        contents.append(
            (
                "email",
                "ar",
                {
                    "subject": "تم تأكيد تغطية السفر",
                    "html": "<p>عزيزي/عزيزتي {{ name }}،</p>\n"
                    "<p>تغطيكم وثيقة السفر رقم {{ policy }} من اليوم الأول للرحلة "
                    "في حالات الطوارئ الطبية وفقدان الأمتعة والإلغاء.</p>\n"
                    + TRAVEL_AR,
                    "text": "",
                },
            )
        )
    return contents


DUPLICATE_TEMPLATES = [
    _spec(
        "instalment-due-motor",
        "Instalment due (motor)",
        ("name", "policy", "due"),
        _instalment(
            "<p>Your vehicle stays insured while the "
            "instalment is paid on time, including roadside assistance.</p>"
        ),
    ),
    _spec(
        "instalment-due-home",
        "Instalment due (home)",
        ("name", "policy", "due"),
        _instalment(
            "<p>Your home and its contents stay insured "
            "against fire, theft and water damage while you pay on time.</p>"
        ),
    ),
    _spec(
        "claim-received",
        "Claim received",
        ("name", "claim"),
        _claim("name", "claim"),
    ),
    _spec(
        "claim-acknowledgement-legacy",
        "Claim acknowledgement (legacy)",
        ("customer_name", "claim_number"),
        _claim("customer_name", "claim_number"),
    ),
    _spec(
        "travel-cover-confirmed",
        "Travel cover confirmed",
        ("name", "policy"),
        _travel(bilingual=True),
    ),
    _spec(
        "travel-cover-confirmed-en",
        "Travel cover confirmed (English only)",
        ("name", "policy"),
        _travel(bilingual=False),
    ),
]


def approved_templates_seed(
    specs: list[dict],
    *,
    category_code: str,
    author: AbstractBaseUser,
    reviewer: AbstractBaseUser,
) -> list[Template]:
    """Create the templates of `specs` in one category and approve them through
    the workflow, unless they exist; return them in order."""
    reviewers = [reviewer, _second_reviewer()]
    with transaction.atomic():
        category = Category.objects.get(code=category_code)
        _grant(category, AUTHOR, author)
        for user in reviewers:
            _grant(category, REVIEW, user)
        templates = []
        for spec in specs:
            template = Template.objects.filter(code=spec["code"]).first()
            if template is None:
                template = _template_create(spec, category, author)
            version = template.versions.order_by("-number").first()
            if version.status == Status.DRAFT:
                services.version_submit(version=version, actor=author)
                _approve(version, reviewers)
            templates.append(template)
    return templates


def demo_duplicates_seed(
    *, author: AbstractBaseUser, reviewer: AbstractBaseUser
) -> list[Template]:
    """Create and approve the near-duplicate demo templates unless they exist."""
    return approved_templates_seed(
        DUPLICATE_TEMPLATES,
        category_code="collections",
        author=author,
        reviewer=reviewer,
    )
