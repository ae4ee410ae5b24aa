"""The Slack bot: a bolt app over QAService, served over HTTP or Socket Mode."""
