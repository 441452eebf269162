"""Typed, frozen run configuration, parsed once from TOML (+ ``--set`` overrides) at the edge.

Every key is a dataclass field; its metadata says what values are allowed, so the parser
can reject a wrong value with a message naming the key and the allowed values. Checks that
span several keys or need the registries live in `fedsim.validation`.
"""

import dataclasses
import difflib
import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, get_type_hints

import tomli_w

from fedsim.errors import ConfigError


def _opt(
    default: Any,
    help: str,
    *,
    choices: tuple[str, ...] | None = None,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
) -> Any:
    """A config field with its documentation and allowed values."""
    meta = {"help": help, "choices": choices, "lo": lo, "hi": hi, "lo_open": lo_open}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class RunSection:
    name: str = _opt("quickstart", "run name; the run directory is <runs_dir>/<name>-<time>")
    seed: int = _opt(0, "seed of every random stream (init, partition, sampling, batches)", lo=0)
    rounds: int = _opt(10, "number of federated rounds", lo=1)
    backend: str = _opt("inline", "who runs the clients", choices=("inline", "ray", "flower"))
    runs_dir: str = _opt("runs", "parent folder of run directories")
    client_cpus: int = _opt(1, "CPUs (= torch threads) per client worker", lo=1)
    client_gpus: float = _opt(0.0, "GPU fraction per Ray client actor (0 = CPU)", lo=0.0, hi=1.0)
    num_cpus: int = _opt(0, "CPUs Ray may use (0 = all of this machine's)", lo=0)
    ray_address: str = _opt(
        "", "ray backend: HOST:PORT of a running Ray cluster to join, or \"env\" (RAY_ADDRESS); "
        "\"\" = a private local Ray"
    )
    device: str = _opt("auto", "torch device for training", choices=("auto", "cpu", "cuda"))
    # reliability (fedsim.engine.update_check, fedsim.engine.faults, fedsim.tracking.checkpoint)
    checkpoint_every: int = _opt(
        0, "write RUN_DIR/checkpoint every k rounds for `fedsim resume` (0 = off)", lo=0
    )
    client_timeout: float = _opt(
        0.0, "seconds a client may take per message; later replies are failures (0 = none)",
        lo=0.0,
    )
    min_replies: int = _opt(
        1, "fewest valid training replies a round needs; fewer stops the run (exit 2)", lo=1
    )
    min_free_mb: int = _opt(100, "free disk space (MB) runs_dir must have before a run", lo=0)


@dataclass(frozen=True)
class DataSection:
    dataset: str = _opt("digits", "data set name (fedsim list)")
    partitioner: str = _opt(
        "dirichlet",
        "how the training split is divided among clients",
        choices=("iid", "dirichlet", "pathological", "shard", "natural"),
    )
    num_clients: int = _opt(10, "number of clients (partitions)", lo=1)
    alpha: float = _opt(
        0.5, "Dirichlet concentration (smaller = more skewed)", lo=0.0, lo_open=True
    )
    classes_per_client: int = _opt(2, "classes per client for the pathological partitioner", lo=1)
    shards_per_client: int = _opt(
        2, "label-sorted shards per client for the shard partitioner", lo=1
    )
    min_partition_size: int = _opt(
        5, "smallest client shard the dirichlet partitioner accepts", lo=0
    )
    train_examples: int = _opt(0, "clients share only this many training examples, a fixed "
                               "subset (0 = the whole training split; see fedsim.data.subset)",
                               lo=0)
    shadow_split: int = _opt(0, "LiRA reference runs: train on seeded half s of the first "
                             "2 x train_examples (0 = the real federation's pool)", lo=0)


@dataclass(frozen=True)
class TaskSection:
    name: str = _opt("classify", "task (fedsim list)")
    model: str = _opt("cnn", "model architecture of the task")
    loss: str = _opt("cross_entropy", "training loss of the task")
    miner: str = _opt("none", "negative miner (contrastive tasks)")
    width: int = _opt(16, "channel width of the first layer of the model", lo=1)
    # contrastive tasks (metric, clip, toy-triplet)
    embedding_dim: int = _opt(32, "embedding size of contrastive encoders", lo=1)
    margin: float = _opt(0.5, "margin m of the pairwise and triplet losses", lo=0.0)
    distance: str = _opt("euclidean", "distance of pairwise/triplet losses and kNN",
                         choices=("euclidean", "cosine"))
    temperature: float = _opt(0.1, "temperature of info_nce / npair", lo=0.0, lo_open=True)
    pk_classes: int = _opt(8, "P: classes per P x K batch (metric task)", lo=1)
    pk_samples: int = _opt(4, "K: examples per class per P x K batch (metric task)", lo=1)
    holdout_classes: int = _opt(2, "classes kept out of training for few-shot tests (metric)", lo=0)
    text_tower: str = _opt("minilm", "clip text tower", choices=("minilm", "transformer"))
    # next-word prediction
    vocab_size: int = _opt(5000, "vocabulary size (word tokenizer: top-V words)", lo=10)
    seq_len: int = _opt(32, "tokens per training sequence", lo=2)
    tokenizer: str = _opt("word", "next-word tokenizer", choices=("word", "bpe"))
    # diffusion (DDPM; fedsim.tasks.diffusion)
    diffusion_steps: int = _opt(1000, "T: noise levels of the DDPM forward process", lo=2)
    beta_schedule: str = _opt("linear", "DDPM noise schedule (linear: beta 1e-4 -> 0.02)",
                              choices=("linear", "cosine"))
    sampler: str = _opt("ddim", "sampler of sample grids and Frechet distance",
                        choices=("ddpm", "ddim"))
    sample_steps: int = _opt(50, "DDIM denoising steps (ddpm always takes T)", lo=1)
    conditional: bool = _opt(False, "class-conditional diffusion model (classifier-free guidance)")
    guidance_scale: float = _opt(2.0, "classifier-free guidance scale (1 = plain conditional)",
                                 lo=0.0)
    cond_dropout: float = _opt(0.1, "share of training examples with the class label dropped",
                               lo=0.0, hi=1.0)
    sample_every: int = _opt(5, "sample grid + Frechet distance every k rounds (0 = at the end)",
                             lo=0)
    num_samples: int = _opt(256, "generated images per Frechet distance", lo=2)
    eval_examples: int = _opt(256, "held-out images the denoising loss is measured on", lo=1)
    sampler_comparison: int = _opt(
        0, "images per sampler for the final DDPM-T vs DDIM timing/quality table (0 = off)", lo=0)


@dataclass(frozen=True)
class ClientSection:
    local_epochs: int = _opt(1, "local epochs per round (ignored when local_steps > 0)", lo=1)
    local_steps: int = _opt(0, "local SGD steps per round (0 = use local_epochs)", lo=0)
    batch_size: int = _opt(32, "local batch size", lo=1)
    lr: float = _opt(0.05, "local learning rate", lo=0.0, lo_open=True)
    optimizer: str = _opt("sgd", "local optimizer", choices=("sgd", "adam"))
    momentum: float = _opt(0.0, "SGD momentum (reset every round)", lo=0.0, hi=1.0)
    weight_decay: float = _opt(0.0, "L2 weight decay", lo=0.0)


@dataclass(frozen=True)
class StrategySection:
    name: str = _opt("fedavg", "aggregation strategy (fedsim list)")
    clients_per_round: int = _opt(0, "clients sampled per round (0 = all)", lo=0)
    eval_clients_per_round: int = _opt(
        0, "clients doing federated evaluation per round (0 = same as training)", lo=0
    )
    federated_eval: bool = _opt(True, "also evaluate the global model on client shards")
    server_lr: float = _opt(
        0.0, "server learning rate (0 = strategy default: 1.0, or 0.01 for fedadam/fedyogi)", lo=0.0
    )
    server_momentum: float = _opt(0.9, "server momentum of fedavgm", lo=0.0, hi=1.0)
    proximal_mu: float = _opt(0.01, "proximal term weight of fedprox", lo=0.0)
    beta_1: float = _opt(0.9, "first-moment decay of fedadam/fedyogi", lo=0.0, hi=1.0)
    beta_2: float = _opt(0.99, "second-moment decay of fedadam/fedyogi", lo=0.0, hi=1.0)
    tau: float = _opt(1e-3, "adaptivity of fedadam/fedyogi", lo=0.0, lo_open=True)
    # robust aggregation (fedsim.engine.robust_strategies)
    trim_beta: float = _opt(0.2, "fraction cut at each end per coordinate by fedtrimmedavg",
                            lo=0.0, hi=0.49)
    num_malicious: int = _opt(
        0, "f: malicious clients per round that krum/multikrum/bulyan tolerate", lo=0
    )
    num_krum_selected: int = _opt(0, "updates multikrum averages (0 = n - f)", lo=0)
    clip_norm: float = _opt(
        0.0, "clip each client's update to this L2 norm before aggregation (0 = off)", lo=0.0
    )
    max_update_norm: float = _opt(
        0.0, "reject a client update whose L2 distance to the global model exceeds this "
        "(0 = no bound; NaN/Inf, shape and dtype checks always run)", lo=0.0,
    )


@dataclass(frozen=True)
class PrivacySection:
    mode: str = _opt("none", "unit of privacy", choices=("none", "record", "user"))
    noise_multiplier: float = _opt(1.0, "Gaussian noise / clipping norm", lo=0.0)
    max_grad_norm: float = _opt(1.0, "clipping norm", lo=0.0, lo_open=True)
    target_epsilon: float = _opt(
        0.0, "solve noise for this epsilon (0 = use noise_multiplier)", lo=0.0
    )
    delta: float = _opt(1e-5, "delta of (epsilon, delta)-DP", lo=0.0, hi=1.0, lo_open=True)
    accountant: str = _opt("rdp", "privacy accountant", choices=("rdp", "prv"))
    # budget and user-level DP (fedsim.privacy)
    epsilon_budget: float = _opt(
        0.0, "epsilon a client (record) or the run (user) may spend; training stops before "
        "passing it (0 = target_epsilon, or no limit when that is 0 too)", lo=0.0,
    )
    clipping_side: str = _opt(
        "server", "user-level DP: who clips each client update", choices=("server", "client")
    )
    adaptive_clipping: bool = _opt(
        False, "user-level DP: adapt the clipping norm to a quantile of the update norms "
        "(max_grad_norm is the initial norm)",
    )
    target_clipped_quantile: float = _opt(
        0.5, "adaptive clipping: share of updates that should be clipped", lo=0.0, hi=1.0
    )
    clip_norm_lr: float = _opt(
        0.2, "adaptive clipping: learning rate of the clipping norm", lo=0.0, lo_open=True
    )
    clipped_count_stddev: float = _opt(
        0.0, "adaptive clipping: noise std of the clipped-update count (0 = clients per "
        "round / 20)", lo=0.0,
    )


@dataclass(frozen=True)
class SecaggSection:
    enabled: bool = _opt(False, "mask client updates with Flower's SecAgg+")
    num_shares: int = _opt(3, "secret shares per client (odd)", lo=1)
    reconstruction_threshold: int = _opt(2, "shares needed to reconstruct", lo=1)
    clipping_range: float = _opt(
        8.0, "SecAgg+ clips each weight x example-weight share to [-c, c] before quantizing",
        lo=0.0, lo_open=True)
    quantization_range: int = _opt(
        4194304, "SecAgg+ quantization levels Q over [-c, c] (step 2c/Q)", lo=2)
    max_weight: float = _opt(
        0.0, "SecAgg+ max example weight W (0 = the largest client shard; 1 under user DP)",
        lo=0.0)


@dataclass(frozen=True)
class AttackSection:
    malicious_fraction: float = _opt(0.0, "fraction of clients that are malicious", lo=0.0, hi=1.0)
    behaviour: str = _opt(
        "none",
        "what malicious clients do",
        choices=("none", "sign_flip", "gaussian_noise", "scaling", "label_flip", "backdoor",
                 "free_rider"),
    )
    strength: float = _opt(
        1.0, "sign_flip: sends -strength x update; gaussian_noise: noise std per weight", lo=0.0
    )
    scale_factor: float = _opt(
        10.0, "scaling: the update is multiplied by this (model replacement)", lo=0.0,
        lo_open=True
    )
    backdoor_boost: float = _opt(
        1.0, "backdoor: the poisoned update is multiplied by this (> 1 = model replacement)",
        lo=0.0, lo_open=True
    )
    collusion: bool = _opt(
        False, "malicious clients pool their data and send one identical update"
    )
    target_label: int = _opt(0, "backdoor: class the trigger maps to", lo=0)
    trigger_size: int = _opt(3, "backdoor: side of the square trigger in the corner (px)", lo=1)
    trigger_value: float = _opt(1.0, "backdoor: pixel value of the trigger", lo=0.0, hi=1.0)
    poison_fraction: float = _opt(
        0.5, "backdoor: share of a malicious client's examples stamped and relabelled",
        lo=0.0, hi=1.0, lo_open=True
    )
    # membership inference (fedsim.attacks.mia; also `fedsim attack RUN_DIR --kind mia`)
    mia: bool = _opt(False, "after the run, attack it with membership inference "
                     "(results: summary.json attacks.mia, attacks/mia/)")
    mia_target: str = _opt("global", "what the MIA attacks: the final global model, or one "
                           "client's update as the server receives it",
                           choices=("global", "client"))
    mia_examples: int = _opt(500, "members and non-members scored (at most this many of each)",
                             lo=2)
    shadow_models: int = _opt(0, "LiRA reference (shadow) federations to train (0 = loss "
                              "attack only; needs data.train_examples > 0)", lo=0)
    target_client: int = _opt(0, "mia_target = client: the partition id whose update is recorded",
                              lo=0)
    target_round: int = _opt(0, "mia_target = client: the round recorded (0 = the last)", lo=0)


@dataclass(frozen=True)
class FaultsSection:
    crash_fraction: float = _opt(
        0.0, "fraction of clients whose training raises every round (fault injection)",
        lo=0.0, hi=1.0,
    )
    straggler_fraction: float = _opt(
        0.0, "fraction of clients that sleep straggler_delay before training", lo=0.0, hi=1.0
    )
    straggler_delay: float = _opt(5.0, "seconds a straggler sleeps per training round", lo=0.0)
    corrupt_fraction: float = _opt(
        0.0, "fraction of clients that send a broken update every round", lo=0.0, hi=1.0
    )
    corrupt_kind: str = _opt(
        "nan", "what a corrupt client sends", choices=("nan", "inf", "shape", "dtype", "huge")
    )
    kill_worker_round: int = _opt(
        0, "ray only: in this round the worker hosting partition 0 exits hard (0 = never)", lo=0
    )


@dataclass(frozen=True)
class Config:
    run: RunSection = field(default_factory=RunSection)
    data: DataSection = field(default_factory=DataSection)
    task: TaskSection = field(default_factory=TaskSection)
    client: ClientSection = field(default_factory=ClientSection)
    strategy: StrategySection = field(default_factory=StrategySection)
    privacy: PrivacySection = field(default_factory=PrivacySection)
    secagg: SecaggSection = field(default_factory=SecaggSection)
    attack: AttackSection = field(default_factory=AttackSection)
    faults: FaultsSection = field(default_factory=FaultsSection)


SECTIONS: dict[str, type] = {f.name: f.type for f in dataclasses.fields(Config)}  # type: ignore[misc]


def _did_you_mean(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint}; allowed: {', '.join(options)}"


def _type_name(kind: type) -> str:
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[kind]


_INT64 = (-(2**63), 2**63 - 1)  # TOML integers are 64-bit; torch seeds are too


def _coerce(key: str, value: Any, kind: type) -> Any:
    """`value` as `kind`, or a ConfigError naming `key` and the expected type."""
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
        raise ConfigError(key, f"expected a 64-bit integer, got one of {value.bit_length()} bits")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(key, f"expected {_type_name(kind)}, got {value!r}")
    if kind is float and not math.isfinite(value):
        raise ConfigError(key, f"expected a finite number, got {value!r}")
    return value


def _check_range(key: str, value: Any, meta: dict[str, Any]) -> None:
    choices, lo, hi = meta["choices"], meta["lo"], meta["hi"]
    if choices is not None and value not in choices:
        raise ConfigError(
            key, f"{value!r} is not allowed{_did_you_mean(str(value), list(choices))}"
        )
    too_low = lo is not None and (value <= lo if meta["lo_open"] else value < lo)
    if too_low or (hi is not None and value > hi):
        low = "" if lo is None else ("> " if meta["lo_open"] else ">= ") + f"{lo:g}"
        high = "" if hi is None else f"<= {hi:g}"
        raise ConfigError(
            key, f"{value!r} is out of range; allowed: {' and '.join(filter(None, [low, high]))}"
        )


def _parse_section(name: str, raw: Any) -> Any:
    cls = SECTIONS[name]
    if not isinstance(raw, dict):
        raise ConfigError(name, f"expected a table [{name}], got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(f"{name}.{key}", "unknown key" + _did_you_mean(key, list(fields)))
        full = f"{name}.{key}"
        values[key] = _coerce(full, value, hints[key])
        _check_range(full, values[key], fields[key].metadata)
    return cls(**values)


def parse_config(raw: dict[str, Any]) -> Config:
    """Build a Config from a nested dict (a parsed TOML document), checking every key."""
    for name in raw:
        if name not in SECTIONS:
            raise ConfigError(name, "unknown section" + _did_you_mean(name, list(SECTIONS)))
    return Config(**{name: _parse_section(name, value) for name, value in raw.items()})


def _parse_value(text: str) -> Any:
    """A --set value read as TOML (numbers, booleans, quoted strings), else as a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except ValueError:  # TOMLDecodeError, or an integer beyond Python's digit limit
        return text


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A copy of `raw` with each ``section.key=value`` override applied."""
    merged = {
        name: dict(table) if isinstance(table, dict) else table for name, table in raw.items()
    }
    for item in overrides:
        key, sep, text = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not section or not name:
            raise ConfigError(item, "an override must look like section.key=value, e.g. run.seed=1")
        table = merged.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(section, f"expected a table [{section}], got {table!r}")
        table[name] = _parse_value(text.strip())
    return merged


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML file at `path`, or a ConfigError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "config file not found") from None
    except (OSError, ValueError) as err:  # a directory, no permission, not UTF-8, NUL in path
        raise ConfigError(
            str(path), f"cannot read config file ({err.__class__.__name__})"
        ) from None
    try:
        return tomllib.loads(text)
    except ValueError as err:  # TOMLDecodeError, or an integer beyond Python's digit limit
        raise ConfigError(str(path), f"invalid TOML: {str(err)[:200]}") from None


def default_config_text() -> str:
    """The built-in quickstart config (experiments/quickstart.toml)."""
    return resources.files("experiments").joinpath("quickstart.toml").read_text(encoding="utf-8")


def load_config(path: str | None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Config from a TOML file (None = the quickstart) with ``section.key=value`` overrides."""
    raw = tomllib.loads(default_config_text()) if path is None else read_toml(Path(path))
    return parse_config(apply_overrides(raw, list(overrides)))


def config_to_dict(cfg: Config) -> dict[str, dict[str, Any]]:
    """The fully resolved config as nested plain dicts (every key, defaults included)."""
    return dataclasses.asdict(cfg)


def config_to_toml(cfg: Config) -> str:
    """The fully resolved config as TOML text; `config_from_toml` reads it back equal."""
    return tomli_w.dumps(config_to_dict(cfg))


def config_from_toml(text: str) -> Config:
    """Inverse of `config_to_toml`."""
    return parse_config(tomllib.loads(text))


def describe_keys() -> list[tuple[str, Any, str]]:
    """(section.key, default, help) for every config key, for docs and `fedsim list`."""
    rows = []
    for name, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            rows.append((f"{name}.{f.name}", f.default, f.metadata["help"]))
    return rows
