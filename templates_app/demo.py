"""Demo content: bilingual templates and content blocks for a fresh install."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone

from audit.services import event_record
from templates_app import selectors, services
from templates_app.categories import category_create
from templates_app.models import Category, ContentBlock, Status, Template
from templates_app.validation import ContentDraft

CATEGORIES = [
    {"code": "collections", "name": "Collections", "name_ar": "التحصيل"},
    {
        "code": "policy-servicing",
        "name": "Policy servicing",
        "name_ar": "خدمة الوثائق",
        "required_approvals": 2,
    },
    {"code": "security", "name": "Security", "name_ar": "الأمان", "kind": "mandatory"},
]

BLOCKS = {
    "letterhead": {
        "name": "Letterhead",
        "contents": {
            "en": (
                '<header class="letterhead" style="border-bottom:2px solid #1d4e89;'
                'padding-bottom:6px;margin-bottom:18px">'
                '<strong style="font-size:16pt;color:#1d4e89">Gulf Mutual Insurance'
                "</strong><br>King Fahd Road, Riyadh 12271 · +966 11 000 0000</header>",
                "Gulf Mutual Insurance, King Fahd Road, Riyadh 12271",
            ),
            "ar": (
                '<header class="letterhead" style="border-bottom:2px solid #1d4e89;'
                'padding-bottom:6px;margin-bottom:18px">'
                '<strong style="font-size:16pt;color:#1d4e89">الخليج للتأمين التعاوني'
                "</strong><br>طريق الملك فهد، الرياض 12271</header>",
                "الخليج للتأمين التعاوني، طريق الملك فهد، الرياض",
            ),
        },
    },
    "legal-footer": {
        "name": "Legal footer",
        "contents": {
            "en": (
                '<p class="legal" style="font-size:8pt;color:#555">Gulf Mutual'
                " Insurance is licensed by the Insurance Authority. Commercial"
                " registration 1010000000. This message was sent to you as a"
                " policyholder.</p>",
                "Gulf Mutual Insurance is licensed by the Insurance Authority.",
            ),
            "ar": (
                '<p class="legal" style="font-size:8pt;color:#555">الخليج للتأمين'
                " التعاوني مرخصة من هيئة التأمين. سجل تجاري 1010000000. أُرسلت هذه"
                " الرسالة إليك بصفتك حامل وثيقة.</p>",
                "الخليج للتأمين التعاوني مرخصة من هيئة التأمين.",
            ),
        },
    },
}

CUSTOMER_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1}},
}

TEMPLATES = [
    {
        "code": "payment-reminder",
        "name": "Payment reminder",
        "category": "collections",
        "description": "Reminds a customer that an instalment is due.",
        "channels": ["email", "sms"],
        "default_language": "ar",
        "data_schema": {
            "type": "object",
            "required": ["customer", "policy_number", "amount", "currency", "due_date"],
            "properties": {
                "customer": CUSTOMER_SCHEMA,
                "policy_number": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{6}$"},
                "amount": {"type": "number", "exclusiveMinimum": 0},
                "currency": {"type": "string", "enum": ["SAR", "USD"]},
                "due_date": {"type": "string", "format": "date"},
                "payment_url": {"type": "string"},
            },
        },
        "sample_data": {
            "customer": {"name": "Fatimah Al-Harbi"},
            "policy_number": "MT-204518",
            "amount": 1250.5,
            "currency": "SAR",
            "due_date": "2025-07-15",
            "payment_url": "https://pay.example.com/MT-204518",
        },
        "contents": [
            (
                "email",
                "en",
                {
                    "subject": "Your payment for policy {{ policy_number }} is due"
                    " on {{ due_date|date('long') }}",
                    "html": "<p>Dear {{ customer.name }},</p>\n"
                    "<p>Your instalment of <strong>{{ amount|money(currency) }}"
                    "</strong> for policy {{ policy_number }} is due on"
                    " {{ due_date|date('long') }}.</p>\n"
                    "{% if payment_url is defined %}"
                    '<p><a href="{{ payment_url }}">Pay now</a></p>{% endif %}\n'
                    "<p>If you have already paid, please ignore this message.</p>\n"
                    '{{ block("legal-footer") }}',
                    "text": "",
                },
            ),
            (
                "email",
                "ar",
                {
                    "subject": "موعد سداد قسط الوثيقة {{ policy_number }}"
                    " هو {{ due_date|date('long') }}",
                    "html": "<p>عزيزي/عزيزتي {{ customer.name }}،</p>\n"
                    "<p>نود تذكيركم بأن القسط البالغ <strong>{{ amount|money(currency)"
                    " }}</strong> للوثيقة رقم {{ policy_number }} يستحق في"
                    " {{ due_date|date('long') }}.</p>\n"
                    "{% if payment_url is defined %}"
                    '<p><a href="{{ payment_url }}">ادفع الآن</a></p>{% endif %}\n'
                    "<p>إذا كنتم قد سددتم القسط فيرجى تجاهل هذه الرسالة.</p>\n"
                    '{{ block("legal-footer") }}',
                    "text": "",
                },
            ),
            (
                "sms",
                "en",
                {
                    "sms_text": "Gulf Mutual: {{ amount|money(currency) }} for policy"
                    " {{ policy_number }} is due {{ due_date|date('medium') }}."
                    "{% if payment_url is defined %} Pay: {{ payment_url }}{% endif %}"
                },
            ),
            (
                "sms",
                "ar",
                {
                    "sms_text": "الخليج للتأمين: يستحق قسط {{ amount|money(currency) }}"
                    " للوثيقة {{ policy_number }} في {{ due_date|date('medium') }}."
                    "{% if payment_url is defined %} للدفع: {{ payment_url }}"
                    "{% endif %}"
                },
            ),
        ],
    },
    {
        "code": "policy-renewal-letter",
        "name": "Policy renewal letter",
        "category": "policy-servicing",
        "description": "Invites the customer to renew a policy before it lapses.",
        "channels": ["letter", "email"],
        "default_language": "en",
        # Arabic letters and emails read with Arabic-Indic digits; the Arabic
        # letter dates itself in the Hijri calendar with the Gregorian beside.
        "digits": "arabic",
        "data_schema": {
            "type": "object",
            "required": [
                "customer",
                "policy_number",
                "product",
                "renewal_date",
                "premium",
                "currency",
                "letter_date",
            ],
            "properties": {
                "customer": {
                    "type": "object",
                    "required": ["name", "address"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "address": {
                            "type": "array",
                            "items": {"type": "string"},
                            "minItems": 1,
                        },
                    },
                },
                "policy_number": {"type": "string"},
                "product": {"type": "string"},
                "renewal_date": {"type": "string", "format": "date"},
                "premium": {"type": "number", "minimum": 0},
                "currency": {"type": "string", "enum": ["SAR", "USD"]},
                "letter_date": {"type": "string", "format": "date"},
            },
        },
        "sample_data": {
            "customer": {
                "name": "Omar Al-Qahtani",
                "address": ["Building 12, Al Olaya Street", "Riyadh 12211"],
            },
            "policy_number": "HM-778201",
            "product": "Home Comprehensive",
            "renewal_date": "2025-09-01",
            "premium": 3480,
            "currency": "SAR",
            "letter_date": "2025-07-20",
        },
        "contents": [
            (
                "letter",
                "en",
                {
                    "letter_html": '{{ block("letterhead") }}\n'
                    "<p>{{ letter_date|date('long') }}</p>\n"
                    '<p class="address">{{ customer.name }}<br>'
                    "{% for line in customer.address %}{{ line }}<br>{% endfor %}</p>\n"
                    "<h1>Renewal of your {{ product }} policy</h1>\n"
                    "<p>Dear {{ customer.name }},</p>\n"
                    "<p>Your policy {{ policy_number }} renews on"
                    " {{ renewal_date|date('long') }}. The annual premium will be"
                    " {{ premium|money(currency) }}.</p>\n"
                    "<p>To renew, no action is needed. To change your cover, call"
                    " us before the renewal date.</p>\n"
                    "<p>Yours sincerely,<br>Customer Care</p>\n"
                    '{{ block("legal-footer") }}',
                    "letter_css": "h1 { font-size: 15pt; color: #1d4e89; }\n"
                    ".address { margin: 12mm 0; }",
                },
            ),
            (
                "letter",
                "ar",
                {
                    "letter_html": '{{ block("letterhead") }}\n'
                    "<p>{{ letter_date|date('long', calendar='both') }}</p>\n"
                    '<p class="address">{{ customer.name }}<br>'
                    "{% for line in customer.address %}{{ line }}<br>{% endfor %}</p>\n"
                    "<h1>تجديد وثيقة {{ product }}</h1>\n"
                    "<p>عزيزي/عزيزتي {{ customer.name }}،</p>\n"
                    "<p>تتجدد وثيقتكم رقم {{ policy_number }} بتاريخ"
                    " {{ renewal_date|date('long') }}، وسيكون القسط السنوي"
                    " {{ premium|money(currency) }}.</p>\n"
                    "<p>لا حاجة لأي إجراء للتجديد. ولتعديل التغطية يرجى الاتصال بنا"
                    " قبل تاريخ التجديد.</p>\n"
                    "<p>مع خالص التحية،<br>خدمة العملاء</p>\n"
                    '{{ block("legal-footer") }}',
                    "letter_css": "h1 { font-size: 15pt; color: #1d4e89; }\n"
                    ".address { margin: 12mm 0; }",
                },
            ),
            (
                "email",
                "en",
                {
                    "subject": "Your {{ product }} policy renews on"
                    " {{ renewal_date|date('long') }}",
                    "html": "<p>Dear {{ customer.name }},</p>\n"
                    "<p>Your policy {{ policy_number }} renews on"
                    " {{ renewal_date|date('long') }} for"
                    " {{ premium|money(currency) }}. Your renewal letter is on its"
                    " way.</p>\n"
                    '{{ block("legal-footer") }}',
                    "text": "",
                },
            ),
            (
                "email",
                "ar",
                {
                    "subject": "تتجدد وثيقة {{ product }} بتاريخ"
                    " {{ renewal_date|date('long') }}",
                    "html": "<p>عزيزي/عزيزتي {{ customer.name }}،</p>\n"
                    "<p>تتجدد وثيقتكم رقم {{ policy_number }} بتاريخ"
                    " {{ renewal_date|date('long') }} بقسط"
                    " {{ premium|money(currency) }}."
                    " خطاب التجديد في الطريق إليكم.</p>\n"
                    '{{ block("legal-footer") }}',
                    "text": "",
                },
            ),
        ],
    },
    {
        "code": "one-time-passcode",
        "name": "One-time passcode",
        "category": "security",
        "description": "Sends a six-digit code to confirm a sign-in or a change.",
        "channels": ["sms"],
        "default_language": "en",
        "data_schema": {
            "type": "object",
            "required": ["code", "expires_minutes"],
            "properties": {
                "code": {"type": "string", "pattern": "^[0-9]{6}$"},
                "expires_minutes": {"type": "integer", "minimum": 1, "maximum": 30},
            },
        },
        "sample_data": {"code": "482913", "expires_minutes": 5},
        "contents": [
            (
                "sms",
                "en",
                {
                    "sms_text": "{{ code }} is your Gulf Mutual code. It expires in"
                    " {{ expires_minutes }} minutes. Never share it."
                },
            ),
            (
                "sms",
                "ar",
                {
                    "sms_text": "رمز التحقق {{ code }} صالح لمدة {{ expires_minutes }}"
                    " دقائق. لا تشاركه مع أحد."
                },
            ),
        ],
    },
]


RETIRED_TEMPLATE = {
    "code": "branch-closure-notice",
    "name": "Branch closure notice",
    "category": "collections",
    "description": "Told customers that a branch closed; no longer used.",
    "channels": ["sms"],
    "default_language": "en",
    "data_schema": {
        "type": "object",
        "required": ["branch"],
        "properties": {"branch": {"type": "string"}},
    },
    "sample_data": {"branch": "Olaya"},
    "contents": [
        (
            "sms",
            "en",
            {"sms_text": "Gulf Mutual: our {{ branch }} branch has closed."},
        ),
        ("sms", "ar", {"sms_text": "الخليج للتأمين: أُغلق فرع {{ branch }}."}),
    ],
}


# The Arabic display names of the demo templates and blocks, by code.
ARABIC_NAMES = {
    "letterhead": "ترويسة الخطابات",
    "legal-footer": "التذييل القانوني",
    "payment-reminder": "تذكير بالدفع",
    "policy-renewal-letter": "خطاب تجديد الوثيقة",
    "one-time-passcode": "رمز التحقق لمرة واحدة",
    "branch-closure-notice": "إشعار إغلاق فرع",
    "sms-stop-confirmation": "تأكيد إيقاف الرسائل النصية",
    "instalment-due-motor": "استحقاق قسط (تأمين المركبات)",
    "instalment-due-home": "استحقاق قسط (تأمين المنزل)",
    "claim-received": "استلام المطالبة",
    "claim-acknowledgement-legacy": "إقرار استلام المطالبة (قديم)",
    "travel-cover-confirmed": "تأكيد تغطية السفر",
    "travel-cover-confirmed-en": "تأكيد تغطية السفر (بالإنجليزية فقط)",
}


def _template_create(spec: dict, category: Category, author: AbstractBaseUser):
    template = Template(
        code=spec["code"],
        name=spec["name"],
        name_ar=ARABIC_NAMES.get(spec["code"], ""),
        category=category,
        description=spec["description"],
        channels=spec["channels"],
        default_language=spec["default_language"],
        data_schema=spec["data_schema"],
        sample_data=spec["sample_data"],
        digits=spec.get("digits", Template.digits.field.default),
        calendar=spec.get("calendar", Template.calendar.field.default),
    )
    services.template_save(template=template, actor=author)
    version = services.version_draft_create(template=template, author=author)
    services.version_content_save(
        version=version,
        contents=[
            ContentDraft(channel=channel, language=language, fields=fields)
            for channel, language, fields in spec["contents"]
        ],
        actor=author,
    )
    return template


def _grant(category: Category, permission: str, user: AbstractBaseUser) -> None:
    if not user.has_perm(f"templates_app.{permission}", category):
        services.category_permission_grant(
            category=category, permission=permission, user=user, actor=None
        )
        # Permission checks cache per user object; the next check must see it.
        for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
            user.__dict__.pop(cache, None)


def demo_seed(*, author: AbstractBaseUser) -> None:
    """Create the demo categories, blocks and templates unless they exist.

    The author is granted authoring in the demo categories, which every
    template write requires.
    """
    with transaction.atomic():
        categories = {}
        for spec in CATEGORIES:
            category = Category.objects.filter(
                code=spec["code"]
            ).first() or category_create(actor=None, **spec)
            categories[spec["code"]] = category
            _grant(category, selectors.AUTHOR, author)
        for code, spec in BLOCKS.items():
            block = ContentBlock.objects.filter(code=code).first() or (
                services.block_save(
                    block=ContentBlock(
                        code=code, name=spec["name"], name_ar=ARABIC_NAMES[code]
                    ),
                    actor=None,
                )
            )
            if block.versions.exists():
                continue
            version = services.block_draft_create(block=block, author=author)
            services.block_content_save(
                block_version=version,
                contents=[
                    (language, html, text)
                    for language, (html, text) in spec["contents"].items()
                ],
                actor=author,
            )
        for spec in TEMPLATES:
            if not Template.objects.filter(code=spec["code"]).exists():
                _template_create(spec, categories[spec["category"]], author)


def _block_reviewer_ensure(reviewer: AbstractBaseUser) -> None:
    """Let a demo reviewer review content blocks (the Reviewer role grants it)."""
    if reviewer.has_perm("templates_app.review_contentblock"):
        return
    reviewer.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="templates_app", codename="review_contentblock"
        )
    )
    event_record(
        action="auth.permission.granted",
        subject=reviewer,
        after={"permission": "templates_app.review_contentblock"},
    )
    reviewer.__dict__.pop("_perm_cache", None)
    reviewer.__dict__.pop("_user_perm_cache", None)


def _approve(version, reviewers) -> None:
    required = version.category.required_approvals
    for reviewer in reviewers[: max(required, 1)]:
        services.version_approve(
            version=version, actor=reviewer, comment="Checked against policy."
        )


def _redraft(version, author, change) -> object:
    """Start a draft from `version` and apply `change(field, text)` to its text."""
    draft = services.version_draft_create(
        template=version.template, author=author, source=version
    )
    contents = services.contents_of(draft)
    for content in contents:
        content.fields = {
            name: change(name, text) for name, text in content.fields.items()
        }
    services.version_content_save(version=draft, contents=contents, actor=author)
    return draft


def _second_reviewer() -> AbstractBaseUser:
    user, created = get_user_model().objects.get_or_create(
        username="reviewer-2",
        defaults={"email": "reviewer-2@demo.example.com", "is_staff": True},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def demo_approved_seed(
    *,
    author: AbstractBaseUser,
    reviewer: AbstractBaseUser,
    second_reviewer: AbstractBaseUser | None = None,
) -> dict[str, Template]:
    """Seed the demo content and approve it through the workflow, in force now.

    The reviewers are granted review in every demo category; a category that
    needs two approvals gets the second from `second_reviewer` (a demo user
    "reviewer-2" without a password when none is given).
    """
    second_reviewer = second_reviewer or _second_reviewer()
    reviewers = [reviewer, second_reviewer]
    with transaction.atomic():
        demo_seed(author=author)
        for category in Category.objects.filter(
            code__in=[spec["code"] for spec in CATEGORIES]
        ):
            for user in reviewers:
                _grant(category, selectors.REVIEW, user)
        _block_reviewer_ensure(reviewer)
        for code in BLOCKS:
            block = ContentBlock.objects.get(code=code)
            if block.versions.filter(status=Status.APPROVED).exists():
                continue
            draft = block.versions.order_by("-number").first()
            if draft.status == Status.DRAFT:
                draft = services.block_submit(block_version=draft, actor=author)
            services.block_approve(
                block_version=draft, actor=reviewer, comment="Wording approved."
            )
        for spec in TEMPLATES:
            template = Template.objects.get(code=spec["code"])
            if template.versions.exclude(status=Status.DRAFT).exists():
                continue
            version = template.versions.get(number=1)
            services.version_submit(version=version, actor=author)
            _approve(version, reviewers)
    return {
        template.code: template
        for template in Template.objects.filter(
            code__in=[spec["code"] for spec in TEMPLATES]
        )
    }


def demo_workflow_seed(
    *,
    author: AbstractBaseUser,
    reviewer: AbstractBaseUser,
    second_reviewer: AbstractBaseUser | None = None,
) -> dict[str, Template]:
    """Seed templates in every workflow state; running it again changes nothing.

    The three demo templates end approved and in force, with their blocks
    approved. Besides: payment-reminder v2 rejected and v3 in review,
    policy-renewal-letter v2 approved from 30 days on, one-time-passcode v2 a
    draft, and branch-closure-notice v1 retired.
    """
    second_reviewer = second_reviewer or _second_reviewer()
    reviewers = [reviewer, second_reviewer]
    with transaction.atomic():
        templates = demo_approved_seed(
            author=author, reviewer=reviewer, second_reviewer=second_reviewer
        )

        reminder = templates["payment-reminder"]
        if reminder.versions.count() == 1:
            rejected = _redraft(
                reminder.versions.get(number=1),
                author,
                lambda name, text: text.replace("Pay now", "Pay immediately"),
            )
            services.version_submit(version=rejected, actor=author)
            services.version_reject(
                version=rejected,
                actor=reviewer,
                comment="Too pushy for a first reminder; keep 'Pay now'.",
            )
            in_review = _redraft(
                rejected,
                author,
                lambda name, text: text.replace("Pay immediately", "Pay online"),
            )
            services.version_submit(
                version=in_review, actor=author, comment="Softer wording."
            )

        renewal = templates["policy-renewal-letter"]
        if renewal.versions.count() == 1:
            future = _redraft(
                renewal.versions.get(number=1),
                author,
                lambda name, text: text.replace("Customer Care", "Customer Service"),
            )
            start = timezone.now() + timedelta(days=30)
            services.version_schedule_set(
                version=future, actor=author, effective_from=start, effective_until=None
            )
            services.version_submit(version=future, actor=author)
            _approve(future, reviewers)

        passcode = templates["one-time-passcode"]
        if passcode.versions.count() == 1:
            _redraft(
                passcode.versions.get(number=1),
                author,
                lambda name, text: text.replace("Never share it.", "Do not share it."),
            )

        if not Template.objects.filter(code=RETIRED_TEMPLATE["code"]).exists():
            category = Category.objects.get(code=RETIRED_TEMPLATE["category"])
            retired = _template_create(RETIRED_TEMPLATE, category, author)
            version = retired.versions.get(number=1)
            services.version_submit(version=version, actor=author)
            _approve(version, reviewers)
            services.version_retire(
                version=version, actor=reviewer, comment="The branch has closed."
            )
    return {template.code: template for template in Template.objects.all()}
