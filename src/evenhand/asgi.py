"""The ASGI entry point uvicorn imports (``evenhand.asgi:app``), one app per server process."""

from evenhand.app import create_app

app = create_app()
