"""The DynamoDB table every guard shares: its codec and transactions, counters, alert markers, open work."""
