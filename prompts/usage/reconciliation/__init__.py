"""Reconciliation: the ledger against the gateway's own usage log."""
