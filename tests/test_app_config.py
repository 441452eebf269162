"""The Flower apps' config under `flwr run . -c 'config-file="..."'`: the one `fedsim run`
would prepare, and `fedsim run`'s refusals before any run directory exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from flwr.app import Context, RecordDict

from fedsim.config import config_to_toml, load_config
from fedsim.engine.app_config import (
    CONFIG_KEY,
    FILE_KEY,
    config_from_context,
    prepared_by_fedsim,
)
from fedsim.errors import ConfigError, IncompatibleOptionsError
from fedsim.validation import prepare

# What a user writes: the derived keys (model, loss, local steps) are left to fedsim.
FILES = {
    "diffusion": '[task]\nname = "diffusion"\n[data]\ndataset = "digits"\nnum_clients = 4\n',
    "toy-triplet": '[task]\nname = "toy-triplet"\n[data]\nnum_clients = 4\n',
    "fedsgd": '[strategy]\nname = "fedsgd"\n[data]\nnum_clients = 4\n',
}


def _context(**run_config: str) -> Context:
    return Context(run_id=1, node_id=0, node_config={}, state=RecordDict(),
                   run_config=dict(run_config))  # fmt: skip


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "experiment.toml"
    path.write_text(f'[run]\nrounds = 1\nruns_dir = "{tmp_path / "runs"}"\n' + text)
    return path


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_config_file_gives_the_apps_the_config_fedsim_run_prepares(
    tmp_path: Path, name: str
) -> None:
    path = _write(tmp_path, FILES[name])
    context = _context(**{FILE_KEY: str(path)})
    assert not prepared_by_fedsim(context)
    prepared = prepare(load_config(path, []))
    assert config_from_context(context) == prepared
    assert config_from_context(context) != load_config(path, [])  # something was filled in


def test_the_derived_settings_are_the_documented_ones(tmp_path: Path) -> None:
    def from_file(text: str) -> object:
        return config_from_context(_context(**{FILE_KEY: str(_write(tmp_path, text))}))

    diffusion = from_file(FILES["diffusion"])
    assert (diffusion.task.model, diffusion.task.loss) == ("unet", "ddpm_mse")
    assert from_file(FILES["fedsgd"]).client.local_steps == 1
    clip = from_file('[task]\nname = "clip"\n')
    assert clip.task.loss == "clip_loss"
    toy = from_file(FILES["toy-triplet"])
    expected = ("toy-1d", "linear", "triplet_margin")
    assert (toy.data.dataset, toy.task.model, toy.task.loss) == expected


def test_a_config_fedsim_prepared_is_passed_through(tmp_path: Path) -> None:
    prepared = prepare(load_config(_write(tmp_path, FILES["diffusion"]), []))
    context = _context(**{CONFIG_KEY: config_to_toml(prepared)})
    assert prepared_by_fedsim(context)
    assert config_from_context(context) == prepared


def test_a_refused_config_file_fails_the_server_app_before_any_run_directory(
    tmp_path: Path,
) -> None:
    from server.app import main

    fedsgd_steps = _write(tmp_path, FILES["fedsgd"] + "[client]\nlocal_steps = 5\n")
    with pytest.raises(IncompatibleOptionsError, match="client.local_steps"):
        config_from_context(_context(**{FILE_KEY: str(fedsgd_steps)}))
    secagg = _write(tmp_path, '[strategy]\nname = "ensemble"\n[secagg]\nenabled = true\n')
    with pytest.raises(ConfigError, match="secagg.enabled"):
        main(None, _context(**{FILE_KEY: str(secagg)}))  # type: ignore[arg-type]
    assert not (tmp_path / "runs").exists()


def test_the_server_app_runs_a_config_file_as_the_deployment_script_prepares_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import server.app as server_app

    path = _write(tmp_path, FILES["diffusion"])
    executed: list = []
    monkeypatch.setattr(server_app, "execute", lambda grid, cfg, run_dir: executed.append(
        (cfg, run_dir)))  # fmt: skip
    server_app.main(None, _context(**{FILE_KEY: str(path)}))  # type: ignore[arg-type]
    [(cfg, run_dir)] = executed
    assert cfg == prepare(load_config(path, ['run.backend="flower"']))
    assert run_dir.parent == tmp_path / "runs" and run_dir.is_dir()
