"""Alerts: rendering, delivery exactly once through markers, and the channels (SNS, Slack)."""
