from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from channels_app import api, inbound, webhooks

urlpatterns = [
    path("communications", api.CommunicationCreate.as_view(), name="api-trigger"),
    path(
        "communications/<uuid:public_id>",
        api.CommunicationDetail.as_view(),
        name="api-communication",
    ),
    path("batches", api.BatchCreate.as_view(), name="api-batches"),
    path(
        "batches/<uuid:public_id>",
        api.BatchDetail.as_view(),
        name="api-batch",
    ),
    path(
        "customers/<str:external_id>",
        api.CustomerUpsert.as_view(),
        name="api-customer",
    ),
    path(
        "receipts/<str:channel>",
        webhooks.ReceiptWebhook.as_view(),
        name="api-receipt",
    ),
    path(
        "inbound/sms",
        inbound.InboundSmsWebhook.as_view(),
        name="api-inbound-sms",
    ),
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs",
        # Its start-up script is a file of its own (?script): no inline script.
        SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
]
