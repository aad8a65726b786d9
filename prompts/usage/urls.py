from django.urls import path

from prompts.usage import views as usage

urlpatterns = [
    path("", usage.home, name="home"),
    path("usage/report/", usage.usage_report, name="usage_report"),
    path("usage/report/export.csv", usage.usage_report_csv, name="usage_report_csv"),
    path("usage/statement/", usage.usage_statement, name="usage_statement"),
    path("usage/budgets/", usage.budget_list, name="budget_list"),
    path("usage/budgets/<int:budget_id>/delete/", usage.budget_delete, name="budget_delete"),
    path("usage/prices/", usage.price_book, name="price_book"),
    path("usage/prices/reprice/", usage.price_reprice, name="price_reprice"),
]
