"""fedsim's Flower ServerApp: config -> Flower strategy -> start() on whatever Grid it gets.

Under fedsim's engine the Grid is a DirectGrid; under Flower's simulation or `flwr run .`
it is Flower's own. Everything the run records is written by fedsim.engine.session. A config
fedsim did not prepare (`flwr run . -c 'config-file="..."'`) gets `fedsim run`'s checks first
(a refused one fails the run with the same message, before a run directory exists) and is
recorded with `run.backend = "flower"`, as `scripts/flower_deployment.sh` records its runs.
"""

from __future__ import annotations

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from fedsim.engine.app_config import (
    config_from_context,
    prepared_by_fedsim,
    run_dir_from_context,
)
from fedsim.engine.session import execute
from fedsim.tracking.run_dir import create_run_dir

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Run the configured federation and write its run directory."""
    cfg = config_from_context(context)
    if not prepared_by_fedsim(context):  # `flwr run`: Flower's engine runs this config
        from fedsim.validation import prepare_for_flower

        cfg = prepare_for_flower(cfg)
    run_dir = run_dir_from_context(context) or create_run_dir(cfg.run.runs_dir, cfg.run.name)
    execute(grid, cfg, run_dir)
