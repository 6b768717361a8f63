"""The ASGI entry point uvicorn imports (``evenhand.asgi:app``), one app per server process."""

import gc

from evenhand.app import create_app

app = create_app()
# What the start made (modules, routes, models, the UI's pages: some 400,000 objects) lives as long as the process:
# moved out of the collector's generations, a full collection walks only what requests made since, instead of
# stopping every thread for a few hundred milliseconds on a loaded machine.
gc.collect()
gc.freeze()
