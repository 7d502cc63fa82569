"""Contact-centre figures: one implementation for the live view and for history.

Every figure is built from **facts** of contact records, each stamped with the time it
happened, and from agent presence intervals:

==================  =========================  ============================================
fact                time                       counts
==================  =========================  ============================================
arrival             ``arrived_ms``             arrived, chat start pages
answer              ``answered_ms``            offered, answered, answered within T, ASA,
                                               wait, handled by the overflow partner
abandon             ``abandoned_ms``           offered, abandoned, short abandons, wait
close               ``closed_ms``              handled (talk, wrap-up: AHT), resolved, tags,
                                               wrap-up codes, offers; closed by a policy
                                               (by reason), callbacks unreached
survey              ``survey_ms``              CSAT, NPS, CES, solved
callback request    ``callback_requested_ms``  callbacks requested (by why)
callback dial       each dial's ``ms``         callbacks made, reached
move                ``moved_ms``               moved by a policy (by reason), tickets
overflow            ``overflow_ms``            opened to the partner (by trigger)
presence            interval, split            logged-in, available, paused by reason, busy
==================  =========================  ============================================

A move counts in the queue the contact left (``moved_from``); every other fact in the
queue the record names.

A fact falls into the interval (15 minutes by default) in which it happened. The engine's
clock never goes back, so once the clock has passed an interval's end nothing can change
its figures: the live figures of a closed interval are final, and equal to what the
historical report computes for it -- both add the same facts with the same code
(:meth:`MetricsCube.add_record`, :meth:`MetricsCube.add_agent`).

A contact is *offered* in the interval where its wait ends (answered or abandoned), as
ACD reporting does; a contact still waiting is counted when it is answered or given up.
*Arrived* counts contacts by arrival (the customers' demand), for volume charts.

Service level formulas: :data:`SL_FORMULAS`; definitions in ``docs/reports.md``.

The package, in the order a figure is made:

- :mod:`.definitions`: the SL formulas, channel classes, periods and dimensions, options;
- :mod:`.tallies`: the sums of facts, and the one rule each for answered, abandoned, offered;
- :mod:`.figures`: a tally turned into the named figures;
- :mod:`.cube`: tallies by period and dimension, filled from records and presence;
- :mod:`.historical`: a cube from stored contact records (the report);
- :mod:`.live`: a cube kept current as the engine decides (the service, replay, demo).
"""

from __future__ import annotations

from ccroute.metrics.cube import GroupKey, MetricsCube
from ccroute.metrics.definitions import (
    CHANNEL_CLASSES,
    SL_FORMULAS,
    Dimension,
    MetricOptions,
    Period,
    PeriodKey,
    SLFormula,
    SLFormulaInfo,
    channel_class,
)
from ccroute.metrics.figures import Figures, figures_of, headline, service_levels
from ccroute.metrics.historical import cube_from_duckdb, cube_from_records
from ccroute.metrics.live import LiveMetrics
from ccroute.metrics.tallies import AgentTally, ContactTally, add_abandon, add_answer, offered

__all__ = [
    "CHANNEL_CLASSES",
    "SL_FORMULAS",
    "AgentTally",
    "ContactTally",
    "Dimension",
    "Figures",
    "GroupKey",
    "LiveMetrics",
    "MetricOptions",
    "MetricsCube",
    "Period",
    "PeriodKey",
    "SLFormula",
    "SLFormulaInfo",
    "add_abandon",
    "add_answer",
    "channel_class",
    "cube_from_duckdb",
    "cube_from_records",
    "figures_of",
    "headline",
    "offered",
    "service_levels",
]
