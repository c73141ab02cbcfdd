from django.urls import path

from preferences import views

urlpatterns = [
    path("<str:token>/", views.centre, name="preferences-centre"),
    path("<str:token>/unsubscribe", views.unsubscribe, name="preferences-unsubscribe"),
    path("<str:token>/renew", views.renew, name="preferences-renew"),
]
