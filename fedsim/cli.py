"""fedsim command line: run, resume, sweep, report, list, attack.

Bad input (config, overrides, files) -> one line on stderr naming the key or file, exit 2,
no traceback and no run directory. The last stdout line of `fedsim run` is the run directory.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from fedsim.errors import FedsimError
from fedsim.quiet import quiet_environment

DISK_ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EDQUOT)  # disk full / read-only


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fedsim", description="Federated learning simulations.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a federated simulation (no CONFIG: the quickstart)")
    run.add_argument("config", nargs="?", help="TOML config file")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config key (repeatable)",
    )
    run.add_argument("--runs-dir", help="parent folder of the run directory (run.runs_dir)")
    run.add_argument("--name", help="run name (run.name)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep = sub.add_parser("sweep", help="run a sweep spec (variants x grid x seeds), resumable")
    sweep.add_argument("spec", help="sweep spec TOML")
    sweep.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="SECTION.KEY=VALUE", help="override a key in every cell")
    sweep.add_argument("--sweeps-dir", default="runs/sweeps", help="parent of the sweep folder")
    resume = sub.add_parser("resume", help="finish a run from its last checkpoint, in place "
                            "(needs run.checkpoint_every)")
    resume.add_argument("run_dir")
    resume.add_argument("--no-progress", action="store_true", help="no progress bar")
    report = sub.add_parser("report", help="rebuild report.md of a run directory")
    report.add_argument("run_dir")
    sub.add_parser("list", help="tasks, datasets, partitioners, strategies, backends, config keys")
    attack = sub.add_parser("attack", help="attack a finished run (results in RUN_DIR/attacks/)")
    attack.add_argument("run_dir")
    attack.add_argument("--kind", required=True, help="attack kind (e.g. mia)")
    attack.add_argument("--set", dest="options", action="append", default=[],
                        metavar="KEY=VALUE", help="attack option, e.g. shadow_models=4 "
                        "(the [attack] config keys; repeatable)")
    return parser


def _run(args: argparse.Namespace) -> int:
    from fedsim.config import load_config  # light: torch, Flower, Ray not yet imported

    overrides = list(args.overrides)
    if args.runs_dir:
        overrides.append(f"run.runs_dir={_quoted(args.runs_dir)}")
    if args.name:
        overrides.append(f"run.name={_quoted(args.name)}")
    if args.no_progress:
        os.environ["FEDSIM_NO_PROGRESS"] = "1"
    cfg = load_config(args.config, overrides)
    _start_ray_early(cfg.run)
    from fedsim.engine.run import run  # ~2 s of imports, meanwhile Ray starts

    run_dir, summary = run(cfg)
    return _finished(run_dir, summary)


def _start_ray_early(run: object) -> None:
    """A ray run's private Ray starts in the background now (fedsim.engine.ray_early)."""
    if getattr(run, "backend", "") == "ray":
        from fedsim.engine.ray_early import start_ray_soon

        start_ray_soon(run.num_cpus, run.ray_address)  # type: ignore[attr-defined]


def _resume(args: argparse.Namespace) -> int:
    from fedsim.engine.run import resume

    if args.no_progress:
        os.environ["FEDSIM_NO_PROGRESS"] = "1"
    return _finished(*resume(Path(args.run_dir)))


def _finished(run_dir: Path, summary: dict) -> int:
    """Print the one-line result and, last, the run directory."""
    dev = ", ".join(f"{k} {v:.4f}" for k, v in summary["final"]["dev"].items())
    test = ", ".join(f"{k} {v:.4f}" for k, v in summary["final"]["test"].items())
    print(
        f"dev: {dev} | test: {test} | {summary['wall_seconds']:.1f} s | "
        f"failures: {summary['failures']}"
    )
    print(run_dir)
    return 0


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sweep(args: argparse.Namespace) -> int:
    from fedsim.sweep import run_sweep

    os.environ["FEDSIM_NO_PROGRESS"] = "1"
    print(run_sweep(Path(args.spec), tuple(args.overrides), Path(args.sweeps_dir)))
    return 0


def _report(args: argparse.Namespace) -> int:
    from fedsim.report import write_report

    path = Path(args.run_dir)
    if not path.is_dir():
        raise FedsimError(f"{path}: not a run directory")
    print(write_report(path))
    return 0


def _attack(args: argparse.Namespace) -> int:
    from fedsim.attacks import attack_kinds
    from fedsim.attacks.options import parse_options
    from fedsim.report import write_report

    path = Path(args.run_dir)
    if not path.is_dir():
        raise FedsimError(f"{path}: not a run directory")
    kind = attack_kinds().get(args.kind)
    results = kind(path, parse_options(args.options))
    if (path / "summary.json").exists() and (path / "metrics.jsonl").exists():
        write_report(path)
    print(results.get("headline", "") or _headline(results))
    print(path / "attacks")
    return 0


def _headline(results: dict) -> str:
    """One line per attack of a results dict: name and its AUC when it has one."""
    parts = [f"{name} AUC {values['auc']:.3f}"
             for name, values in results.get("attacks", {}).items() if "auc" in values]
    return " | ".join(parts)


def _list(_: argparse.Namespace) -> int:
    from fedsim.catalog import catalog_lines

    print("\n".join(catalog_lines()))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fedsim` console script; returns the exit code."""
    quiet_environment()
    args = _parser().parse_args(argv)
    handler = {"run": _run, "sweep": _sweep, "report": _report, "list": _list,
               "attack": _attack, "resume": _resume}[args.command]
    try:
        return handler(args)
    except FedsimError as err:
        print(f"fedsim: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fedsim: interrupted", file=sys.stderr)
        return 130
    except OSError as err:
        if err.errno not in DISK_ERRNOS:
            raise
        print(f"fedsim: error: cannot write {err.filename or ''}: {err.strerror} (the run "
              "stopped; its manifest.json says so)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
