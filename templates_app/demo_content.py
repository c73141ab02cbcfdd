"""Demo content as data: bilingual categories, blocks and templates.

`templates_app.demo` seeds them on a fresh install.
"""

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
        "category": "collections",
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
        "category": "collections",
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
