"""A local Databricks workspace emulator that the unmodified databricks-sdk talks to over HTTP.

`WorkspaceEmulator` runs in-process (tests, `jobagent demo`); `serve()` runs it in the foreground
for `jobagent emulator`. See `faults` for injecting failures and what the SDK does with them, and
`principals` / `job_acl` / `run_as` for who may do what (each token is a user or service principal).
"""

from standins.databricks.emulator import WorkspaceEmulator, serve
from standins.databricks.faults import Fault, FaultInjector

__all__ = ["Fault", "FaultInjector", "WorkspaceEmulator", "serve"]
