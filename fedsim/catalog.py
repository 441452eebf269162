"""What `fedsim list` prints: every registered name and every config key."""

from __future__ import annotations

from fedsim.config import DataSection, describe_keys
from fedsim.data import DATASETS, check_available
from fedsim.engine.backends import BACKENDS
from fedsim.engine.strategies import STRATEGIES
from fedsim.errors import DataError
from fedsim.models import MODELS
from fedsim.tasks import TASKS

PARTITIONERS = DataSection.__dataclass_fields__["partitioner"].metadata["choices"]


def _dataset_line(name: str) -> str:
    try:
        check_available(name)
        return f"  {name}"
    except DataError as err:
        return f"  {name}  (missing: {err})"


def catalog_lines() -> list[str]:
    """Lines listing tasks, models, datasets, partitioners, strategies, backends, keys."""
    lines = [
        "tasks:",
        *(f"  {n}" for n in TASKS.names()),
        "models:",
        *(f"  {n}" for n in MODELS.names()),
        "datasets:",
        *(_dataset_line(n) for n in DATASETS.names()),
        "partitioners:",
        *(f"  {n}" for n in PARTITIONERS),
        "strategies:",
        *(f"  {n}" for n in STRATEGIES.names()),
        "backends:",
        *(f"  {n}" for n in BACKENDS.names()),
        "config keys (section.key = default  # meaning):",
    ]
    lines += [f"  {key} = {default!r}  # {help}" for key, default, help in describe_keys()]
    return lines
