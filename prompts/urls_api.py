"""The JSON API (/api/v1/), authenticated with personal API tokens."""

urlpatterns: list = []
