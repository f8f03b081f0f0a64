"""Host cost while firing: CPU seconds per wall second of the host process, against a 2 %-of-a-core budget.

Three processes, as in use: the simulator (``mesogun sim --serial-port``, status at 10 Hz) on one end of a
socat pty pair, and the host on the other end in a process of its own (:mod:`benchmarks.host_load`) so
that nothing of this runner (imports, other benchmarks' garbage) is counted. The host fires continuously
at 10 shots/s with the treatment record attached (as the CLI does), follows the event stream like a UI
(counting shots and statuses: the only cost the harness adds, a few microseconds per event), and
measures its own ``time.process_time()`` over the window.
"""

from __future__ import annotations

import json

from benchmarks.processes import python_child
from benchmarks.record import Better, Result
from benchmarks.runner import Benchmark
from benchmarks.settings import Settings
from benchmarks.simulator import served_simulator

BUDGET = 0.02
"""The peer: 2 % of one core (the goal is to stay within it: ratio >= 1)."""
PEER = "budget: 2 % of one core"
GOAL = 1.0


def run(settings: Settings) -> list[Result]:
    """Run the firing host in a child process and turn its own CPU measurement into a result line."""
    seconds = settings.firing_seconds
    with (
        served_simulator("--status-period-ms", "100") as port,
        python_child("benchmarks.host_load", port, str(seconds), stdout=True) as host,
    ):
        line = host.read_line(seconds + 60, "benchmarks.host_load")
    figures = json.loads(line)
    cost = figures["cpu_s"] / figures["wall_s"]
    return [
        Result(
            "host_cpu_while_firing",
            round(cost, 4),
            PEER,
            BUDGET,
            "CPU s/wall s",
            Better.LOWER,
            GOAL,
            note=f"{seconds:g} s firing at 10 shots/s, record on, events followed, status 10 Hz, sim in own process",
            extra={k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()},
        )
    ]


BENCHMARK = Benchmark(
    "host_cost",
    run,
    (("host_cpu_while_firing", PEER, "CPU s/wall s", Better.LOWER, GOAL),),
)
