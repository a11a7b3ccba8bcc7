"""The stores: a campaign's journal and the per-user history, written together by the ledger."""
