"""The demo's ground truth for performance: who the simulation made win on price."""

from __future__ import annotations

import random

import numpy as np

from evenhand.demo.frame import Frame
from evenhand.demo.org import build_org
from tests.demo.conftest import END

SEED = 7


def discounters(seed: int = SEED) -> dict[int, str]:
    """Who the simulation made discount, by id, with their names: its organisation rebuilt from the same seed (the
    first of its random streams), as the build made it."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    org = build_org(random.Random(seed), rng, Frame.build(END, 1.0))
    return {p.id: p.display_name for p in org.people if p.profile == "P"}
