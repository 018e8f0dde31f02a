"""The offline Tech Lead's deterministic request parser (no model, no network)."""

from agent.techlead.defaults import ParserDefaults
from agent.techlead.merge import merge_settings
from agent.techlead.parser import ParsedRequest, parse_request

__all__ = ["ParsedRequest", "ParserDefaults", "merge_settings", "parse_request"]
