"""identity_sim: an HTTP simulator of the tenant-scoped identity API (see
docs/identity-simulator.md). The operator never imports it.

In-process use::

    from identity_sim import start_server

    server = await start_server(port=0)
    server.base_url, server.token_url, server.bootstrap.admin_client_secret
    await server.stop()
"""

from .app import RunningSimulator, build_app, make_simulator, start_server
from .bootstrap import BootstrapDoc, BootstrapResult, load_bootstrap_file, parse_bootstrap
from .context import Simulator

__all__ = [
    "BootstrapDoc",
    "BootstrapResult",
    "RunningSimulator",
    "Simulator",
    "build_app",
    "load_bootstrap_file",
    "make_simulator",
    "parse_bootstrap",
    "start_server",
]
