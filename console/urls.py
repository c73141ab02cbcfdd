from django.urls import path

from console import views

app_name = "console"

urlpatterns = [
    path("", views.search, name="search"),
    path("customers/<int:pk>/", views.customer, name="customer"),
    path("customers/<int:pk>/unmask", views.unmask, name="unmask"),
    path("customers/<int:pk>/preferences", views.preference, name="preference"),
    path(
        "customers/<int:pk>/evidence", views.customer_evidence, name="customer-evidence"
    ),
    path("dispatches/<int:pk>/", views.dispatch, name="dispatch"),
    path("dispatches/<int:pk>/email.html", views.email_html, name="email-html"),
    path("dispatches/<int:pk>/letter.pdf", views.letter_pdf, name="letter-pdf"),
    path("dispatches/<int:pk>/resend", views.resend, name="resend"),
    path("dispatches/<int:pk>/reissue", views.reissue, name="reissue"),
    path("dispatches/<int:pk>/feedback", views.feedback, name="feedback"),
    path(
        "dispatches/<int:pk>/evidence",
        views.dispatch_evidence,
        name="dispatch-evidence",
    ),
]
