"""The demo company: a simulated year of a Chinese B2B sales organisation, with the source's incident."""

from evenhand.demo.service import DEMO_PASSWORD, DemoError, DemoLogin, DemoSummary, build

__all__ = ["DEMO_PASSWORD", "DemoError", "DemoLogin", "DemoSummary", "build"]
