from django.urls import path

from console import dispatch_views, evidence_views, views

app_name = "console"

urlpatterns = [
    path("", views.search, name="search"),
    path("customers/<int:pk>/", views.customer, name="customer"),
    path("customers/<int:pk>/unmask", views.unmask, name="unmask"),
    path("customers/<int:pk>/preferences", views.preference, name="preference"),
    path(
        "customers/<int:pk>/evidence",
        evidence_views.customer_evidence,
        name="customer-evidence",
    ),
    path("dispatches/<int:pk>/", dispatch_views.dispatch, name="dispatch"),
    path(
        "dispatches/<int:pk>/email.html", dispatch_views.email_html, name="email-html"
    ),
    path(
        "dispatches/<int:pk>/letter.pdf", dispatch_views.letter_pdf, name="letter-pdf"
    ),
    path("dispatches/<int:pk>/resend", dispatch_views.resend, name="resend"),
    path("dispatches/<int:pk>/reissue", dispatch_views.reissue, name="reissue"),
    path("dispatches/<int:pk>/feedback", dispatch_views.feedback, name="feedback"),
    path(
        "dispatches/<int:pk>/evidence",
        evidence_views.dispatch_evidence,
        name="dispatch-evidence",
    ),
]
