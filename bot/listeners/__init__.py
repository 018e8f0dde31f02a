"""Listeners, one module per kind of Slack request; `register_all` wires them (gate first) to an app."""

from __future__ import annotations

from slack_bolt import App

from bot.app import Services


def register_all(app: App, services: Services) -> None:
    from bot.listeners import actions, commands, gate, mentions, messages, reactions

    for module in (gate, mentions, messages, actions, reactions, commands):
        module.register(app, services)
