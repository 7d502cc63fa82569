"""A run written to a folder: the input log, the contact database, the forecast.

``events.jsonl``
    every input the simulated people sent, one JSON object a line, in the order applied;
``ccroute.toml``
    the engine configuration the run used (the scenario's agent groups expanded), so
    ``ccroute replay --config ccroute.toml events.jsonl`` gives the run's decisions;
``contacts.duckdb``
    the contact records (:class:`ccroute.records.ContactRecorder`) and the ``forecast``
    table (:mod:`ccroute.simulation.forecast`), what the monthly report reads.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from ccroute.config import Config
from ccroute.records import ContactRecorder
from ccroute.simulation.engine_toml import config_to_toml
from ccroute.simulation.forecast import forecast_rows, write_forecast_table
from ccroute.simulation.scenario import LoadedScenario
from ccroute.simulation.simulator import SimulationResult, simulate
from ccroute.simulation.staff import check_coverage, simulated_config


@dataclass(slots=True)
class RunOutput:
    """A finished run and where its files are."""

    result: SimulationResult
    recorder: ContactRecorder
    db_path: Path | None
    events_path: Path | None
    config_path: Path | None


def run_scenario(
    ld: LoadedScenario,
    out_dir: str | Path | None,
    *,
    days: int | None = None,
    seed: int | None = None,
    config: Config | None = None,
    progress: bool = False,
    write_events: bool = True,
    db_name: str = "contacts.duckdb",
    check: bool = True,
) -> RunOutput:
    """Simulate ``ld`` and write the run's files into ``out_dir`` (None: keep in memory).

    ``check`` first makes sure every stream has agents who can take it
    (:func:`~ccroute.simulation.staff.check_coverage`).
    """
    cfg = config or simulated_config(ld)
    if check:
        check_coverage(ld, cfg)
    recorder = ContactRecorder(cfg)
    out = Path(out_dir) if out_dir is not None else None
    events_path = out / "events.jsonl" if out is not None and write_events else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    log_file = events_path.open("wb") if events_path is not None else nullcontext(None)
    with log_file as log:
        res = simulate(
            ld,
            days=days,
            seed=seed,
            config=cfg,
            observe=recorder.observe,
            log=log,
            progress=progress,
        )
    db_path = config_path = None
    if out is not None:
        if progress:
            print(f"writing {out / db_name} ...", file=sys.stderr)
        config_path = out / "ccroute.toml"
        config_path.write_text(
            config_to_toml(
                cfg,
                comment=f"The engine configuration simulated by scenario {ld.info.name!r}\n"
                f"(seed {res.seed}); replay: ccroute replay --config ccroute.toml events.jsonl",
            ),
            encoding="utf-8",
        )
        db_path = out / db_name
        recorder.write_duckdb(db_path)
        write_forecast_table(db_path, forecast_rows(ld, res.streams, res.period))
    return RunOutput(res, recorder, db_path, events_path, config_path)
