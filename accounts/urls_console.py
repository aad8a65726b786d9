"""The site admins' console: gateway keys, prices, teams and roles, audit log."""

urlpatterns: list = []
