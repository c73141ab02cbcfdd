"""A warm process's long-lived objects kept out of the garbage collector's passes.

A Django process holds a few hundred thousand objects that live as long as
it does: modules, models, URL patterns, compiled templates and statements.
Python's cyclic collector walks all of them again at every full collection,
and the work of a request or a task allocates enough to set one off every
few requests: counted with callgrind, the walk was three instructions in ten
of a console search page. Once a process has done its first units of work
(its lazy imports, templates and statements are loaded), `Freezer` collects
what is garbage and moves what is left to the collector's permanent
generation (`gc.freeze`), so later passes walk only what the work since has
made. It does so again after 10 and 100 units, for what later first uses
load. Objects frozen that die later are still freed by their reference
counts; only cycles among them wait for the process to end.

`freeze_when_warm(signal)` connects one to a signal sent after each unit:
`request_finished` for the web (`CcmConfig.ready`), `task_postrun` for
Celery workers (`ccm.celery`).
"""

import gc

# Units of work after which the process is frozen again.
FREEZE_AFTER = (1, 10, 100)


class Freezer:
    """Count units of work; after each of FREEZE_AFTER, collect and freeze."""

    def __init__(self) -> None:
        self.done = 0

    def __call__(self, **_kwargs) -> None:
        self.done += 1
        if self.done in FREEZE_AFTER:
            gc.collect()
            gc.freeze()


def freeze_when_warm(signal) -> Freezer:
    """Connect a Freezer to `signal` (once per process and signal)."""
    freezer = Freezer()
    signal.connect(freezer, weak=False, dispatch_uid=f"ccm.warm:{id(signal)}")
    return freezer
