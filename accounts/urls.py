from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("team/switch/", views.switch_team, name="switch_team"),
    # Invitations (and password resets an admin starts) end here: choose a password.
    path("password/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("password/done/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/create/", views.token_create, name="token_create"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]
