"""Request notifications beyond Slack: webhooks and email, delivered from a durable outbox."""
