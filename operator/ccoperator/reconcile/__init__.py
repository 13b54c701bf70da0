"""Pure decisions, no I/O: the plan for one resource (`decide`), who may ask for what
(`policy`), which resource holds which client id (`ownership`).

The plan's vocabulary is re-exported here: `from ccoperator import reconcile as rc` then
`rc.decide(rc.Observed(...), rc.Context(...))`.
"""

from ..api.secrets import SecretObject
from .model import (
    Blocked,
    Context,
    IssueReason,
    Observed,
    Plan,
    RemoteClient,
    to_remote,
)
from .plan import decide, desired_remote, needs_remote, new_current, retire, rotation_time
from .secret_fields import (
    current_from_secret,
    desired_secret_fields,
    fingerprint,
    secret_credential_intact,
    secret_fields_match,
)

__all__ = [
    "Blocked", "Context", "IssueReason", "Observed", "Plan", "RemoteClient", "SecretObject",
    "current_from_secret", "decide", "desired_remote", "desired_secret_fields", "fingerprint",
    "needs_remote", "new_current", "retire", "rotation_time", "secret_credential_intact",
    "secret_fields_match", "to_remote",
]
