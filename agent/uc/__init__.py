"""Unity Catalog functions as the agent's tools and policies (off unless configured; see config.py).

Import the submodules: `config` is light; `client`, `tools`, `registry` and `policies.PolicyChecker`
use unitycatalog-ai, whose import patches asyncio (nest_asyncio), so the CLI imports them lazily.
Function bodies run only in `isolation`'s separate process; `untrusted` vets definitions and cleans answers.
"""
