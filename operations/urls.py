from django.urls import path

from operations import views

app_name = "operations"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("pauses", views.pause_create, name="pause-create"),
    path("pauses/<int:pk>/resume", views.pause_resume, name="pause-resume"),
    path("retention", views.retention, name="retention"),
]
