"""Simulate a contact centre through the real routing engine.

A scenario (TOML, :mod:`ccroute.simulation.scenario`) describes the clients, the agents
and their shifts, the traffic and how customers behave; :func:`simulate` turns it into
input events applied to an :class:`~ccroute.engine.Engine`, reacting to the engine's
decisions as agents and customers would::

    from ccroute.simulation import load_scenario, simulate
    result = simulate(load_scenario("examples/nordic_bpo/scenario.toml"), days=2)

``ccroute simulate`` writes a run's input log, contact database and forecast
(:mod:`ccroute.simulation.runner`); ``ccroute demo`` simulates the shipped example month.
"""

from ccroute.simulation.scenario import LoadedScenario, Scenario, ScenarioError, load_scenario
from ccroute.simulation.simulator import SimulationResult, Simulator, simulate

__all__ = [
    "LoadedScenario",
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "Simulator",
    "load_scenario",
    "simulate",
]
