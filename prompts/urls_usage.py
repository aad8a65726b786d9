from django.urls import path

from prompts.views import usage

urlpatterns = [
    path("", usage.home, name="home"),
]
