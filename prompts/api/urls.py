"""The JSON API (/api/v1/), authenticated with personal API tokens."""

from django.urls import path

from prompts.api import views as api

urlpatterns = [
    path("jobs", api.jobs, name="api_jobs"),
    path("jobs/<int:job_id>", api.job_detail, name="api_job_detail"),
    path("usage", api.usage, name="api_usage"),
    path("openapi.json", api.openapi, name="api_openapi"),
]
