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
    path("usage/reconciliation/", usage.reconciliation_list, name="reconciliation_list"),
    path("usage/reconciliation/run/", usage.reconciliation_start, name="reconciliation_start"),
    path("usage/reconciliation/source/", usage.reconciliation_source,
         name="reconciliation_source"),
    path("usage/reconciliation/<int:run_id>/", usage.reconciliation_detail,
         name="reconciliation_detail"),
    path("usage/reconciliation/<int:run_id>/items/<int:item_id>/settle/",
         usage.reconciliation_item_settle, name="reconciliation_item_settle"),
    path("usage/reconciliation/<int:run_id>/export.csv", usage.reconciliation_csv,
         name="reconciliation_csv"),
]
