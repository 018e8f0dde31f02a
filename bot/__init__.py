"""The Slack front end: the Bolt app and its listeners, Block Kit messages, HTTP / Socket Mode serving."""
