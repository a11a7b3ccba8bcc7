"""The stores: a campaign's journal and the per-user history, written together by the ledger."""

# A send in flight: claimed, its request maybe out, its outcome not yet recorded. Both stores use
# the word beside the row statuses of campaign.vocabulary.Status (sent, failed, unknown).
ATTEMPTING = "attempting"
