"""Listeners, one module per kind of Slack request; `register_all` wires them (gate first) to an app.

Mentions, DMs and thread replies never reach a listener: the gate records and acknowledges them and the
planner (bot/planner.py) answers them."""

from __future__ import annotations

from slack_bolt import App

from bot.app import Services


def register_all(app: App, services: Services) -> None:
    from bot.listeners import actions, commands, gate, reactions

    for module in (gate, actions, reactions, commands):
        module.register(app, services)
