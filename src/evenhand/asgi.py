"""The ASGI entry point uvicorn imports (``evenhand.asgi:app``), one app per server process."""

import gc

from evenhand.app import create_app

# A full collection walks every object the requests left alive (the caches' entries, a few tens of thousands) and
# stops the process while it does: 15–45 ms at 8 concurrent leads, seven times in 8 seconds with the collector's
# default of one full pass per 10 middle ones, each falling on every request in flight. One per 100 middle passes
# leaves one such pause in that time; the young generations, whose passes take under 2 ms, keep their defaults.
# (Measured with bench/bench_intake_wrk.py's load; CONVENTIONS.md, "Hot paths".)
FULL_COLLECTION_EVERY = 100
young, middle, _ = gc.get_threshold()
gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)

app = create_app()
# What the start made (modules, routes, models, the UI's pages: some 400,000 objects) lives as long as the process:
# moved out of the collector's generations, a full collection walks only what requests made since, instead of
# stopping every thread for a few hundred milliseconds on a loaded machine.
gc.collect()
gc.freeze()
