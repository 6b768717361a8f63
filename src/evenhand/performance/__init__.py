"""Performance (R3): balanced scorecards, anonymous peer review, and the incentives that feed routing.

- ``metrics``: the metric catalog, each metric defined once; ``repository.measure`` computes them per rep.
- ``period``: months and quarters; ``template``: the versioned scorecard templates; ``scoring``: the pure core
  that turns measures into a card (points, weights, coverage, gates, tiers).
"""
