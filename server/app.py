"""fedsim's Flower ServerApp: config -> Flower strategy -> start() on whatever Grid it gets.

Under fedsim's engine the Grid is a DirectGrid; under Flower's simulation or `flwr run .`
it is Flower's own. Everything the run records is written by fedsim.engine.session.
"""

from __future__ import annotations

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from fedsim.engine.app_config import config_from_context, run_dir_from_context
from fedsim.engine.session import execute
from fedsim.tracking.run_dir import create_run_dir

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Run the configured federation and write its run directory."""
    cfg = config_from_context(context)
    run_dir = run_dir_from_context(context) or create_run_dir(cfg.run.runs_dir, cfg.run.name)
    execute(grid, cfg, run_dir)
