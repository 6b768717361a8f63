"""Hostile and broken YAML documents, shared by the loader's tests and the API tests of every document type."""

from __future__ import annotations


def alias_bomb(levels: int) -> str:
    """``l0`` holds ten values, each next level ten aliases of the one before: 10**levels values, ~50 bytes a line.

    Eight levels are 380 bytes and a hundred million values once expanded; the first line past the limit of
    20,000 values is the fifth (``l4``, 111,111 values with its aliases).
    """
    lines = ["l0: &l0 [x,x,x,x,x,x,x,x,x,x]"]
    lines += [f"l{n}: &l{n} [{','.join([f'*l{n - 1}'] * 10)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


BOMB_LINE = 5
BOMBS = {"bomb-8": alias_bomb(8), "bomb-9": alias_bomb(9)}
# 500 nested brackets on line 2: once a RecursionError (500) in PyYAML's composer.
BRACKETS = "name: x\npools: " + "[" * 500 + "]" * 500 + "\n"
# Dates PyYAML's timestamp constructor raised ValueError on (500); each on line 2, under a key no schema has.
BAD_DATES = {"feb-30": "name: x\nstarts: 2026-02-30\n", "zeros": "name: x\nstarts: 0000-00-00\n",
             "out-of-range": "name: x\nstarts: 2026-13-45T99:99:99Z\n"}
