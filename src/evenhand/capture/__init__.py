"""Capture: connectors that bring what reps do in WeCom, DingTalk and other tools in as activities."""
