"""A seeded stand-in for a real marketing lead export, with a known signal — for tests and the benchmark.

Its shape follows the exports people train lead-scoring models on (an online-education company's CRM
export is the best known): an opaque prospect ID and a record number, Yes/No flags (one of them
constant), web behaviour with blanks, many categorical columns where most rows say ``Select`` (the
form's untouched drop-down), rare categories, inconsistent spellings (``Google``/``google``), and here a
Chinese-named industry column with a ``请选择`` placeholder and a size column with ``-``. The outcome
mixes additive effects, a threshold on time on site and an interaction, so tree models have something
that a linear model misses — as in real exports. It is not real data, and says nothing about how well
any model does on real data.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

Table = tuple[tuple[str, float, float], ...]  # (value, share, effect on the log-odds of converting)

ORIGIN: Table = (("Landing Page Submission", 0.53, -0.2), ("API", 0.385, -0.3), ("Lead Add Form", 0.077, 2.4),
                 ("Lead Import", 0.0075, -1.2), ("Quick Add Form", 0.0005, 1.0))
SOURCE: Table = (("Google", 0.31, 0.0), ("Direct Traffic", 0.275, -0.2), ("Olark Chat", 0.19, -0.3),
                 ("Organic Search", 0.125, 0.0), ("Reference", 0.04, 0.8), ("Welingak Website", 0.015, 1.8),
                 ("Referral Sites", 0.013, -0.3), ("Facebook", 0.006, -0.8), ("google", 0.005, 0.0),
                 ("bing", 0.003, 0.0), ("Click2call", 0.002, 0.6), ("Live Chat", 0.001, 0.5),
                 ("Press_Release", 0.001, 0.0), ("WeLearn", 0.0005, 1.0), ("", 0.0125, 0.0))
ACTIVITY: Table = (("Email Opened", 0.37, 0.2), ("SMS Sent", 0.30, 1.3), ("Olark Chat Conversation", 0.105, -0.9),
                   ("Page Visited on Website", 0.07, -0.2), ("Converted to Lead", 0.046, -0.8),
                   ("Email Bounced", 0.035, -1.0), ("Email Link Clicked", 0.029, 0.0),
                   ("Form Submitted on Website", 0.013, 0.0), ("Unreachable", 0.01, -0.3),
                   ("Unsubscribed", 0.0066, -0.5), ("Had a Phone Conversation", 0.003, 1.5),
                   ("Approached upfront", 0.001, 2.0), ("Email Marked Spam", 0.0004, 0.0), ("", 0.011, 0.0))
OCCUPATION: Table = (("Unemployed", 0.61, 0.0), ("", 0.29, -1.0), ("Working Professional", 0.076, 2.3),
                     ("Student", 0.023, -0.2), ("Other", 0.0017, 0.5), ("Housewife", 0.001, 3.0),
                     ("Businessman", 0.0009, 0.4))
SPECIALIZATION: Table = (("Select", 0.21, -0.2), ("", 0.156, -0.3), ("Finance Management", 0.105, 0.1),
                         ("Human Resource Management", 0.09, 0.1), ("Marketing Management", 0.09, 0.15),
                         ("Operations Management", 0.054, 0.1), ("Business Administration", 0.043, 0.0),
                         ("IT Projects Management", 0.04, 0.0), ("Supply Chain Management", 0.038, 0.0),
                         ("Banking, Investment And Insurance", 0.036, 0.2), ("Travel and Tourism", 0.022, -0.2),
                         ("Media and Advertising", 0.022, 0.0), ("International Business", 0.019, 0.0),
                         ("Healthcare Management", 0.017, 0.2), ("Hospitality Management", 0.012, -0.1),
                         ("E-COMMERCE", 0.012, 0.0), ("Retail Management", 0.011, 0.0),
                         ("Rural and Agribusiness", 0.008, 0.1), ("Services Excellence", 0.004, 0.0))
PROFILE: Table = (("Select", 0.45, -0.3), ("", 0.29, -0.2), ("Potential Lead", 0.17, 1.2),
                  ("Other Leads", 0.05, 0.0), ("Student of SomeSchool", 0.026, -2.0),
                  ("Lateral Student", 0.0026, 1.5), ("Dual Specialization Student", 0.0023, 1.5))
CITY: Table = (("Mumbai", 0.35, 0.0), ("Select", 0.24, 0.0), ("", 0.15, -0.1), ("Thane & Outskirts", 0.08, 0.05),
               ("Other Cities", 0.074, 0.0), ("Other Cities of Maharashtra", 0.05, 0.0),
               ("Other Metro Cities", 0.04, 0.0), ("Tier II Cities", 0.008, -0.2))
HEARD: Table = (("Select", 0.55, 0.0), ("", 0.24, 0.0), ("Online Search", 0.09, 0.0), ("Word Of Mouth", 0.04, 0.1),
                ("Student of SomeSchool", 0.034, 0.0), ("Other", 0.02, 0.0), ("Multiple Sources", 0.017, 0.0),
                ("Advertisements", 0.008, 0.0), ("Social Media", 0.0073, 0.0))
COUNTRY: Table = (("India", 0.70, 0.0), ("", 0.266, 0.0), ("United States", 0.0075, 0.0),
                  ("United Arab Emirates", 0.0057, 0.0), ("Singapore", 0.0026, 0.0), ("Saudi Arabia", 0.0023, 0.0),
                  ("United Kingdom", 0.0016, 0.0), ("Australia", 0.0014, 0.0), ("Qatar", 0.001, 0.0),
                  ("Hong Kong", 0.0008, 0.0), ("Bahrain", 0.0008, 0.0), ("Oman", 0.0006, 0.0))
INDUSTRY: Table = (("制造业", 0.22, 0.1), ("零售", 0.16, -0.2), ("金融", 0.12, 0.4), ("互联网", 0.14, 0.2),
                   ("教育", 0.10, 0.0), ("医疗", 0.07, 0.1), ("请选择", 0.12, -0.1), ("", 0.08, -0.1),
                   ("能源", 0.01, 0.6))
INTERCEPT = -0.95

HEADER = ["Prospect ID", "Lead Number", "Lead Origin", "Lead Source", "Do Not Email", "Do Not Call", "Converted",
          "TotalVisits", "Total Time Spent on Website", "Page Views Per Visit", "Last Activity", "Country",
          "Specialization", "How did you hear about us", "What is your current occupation", "Magazine",
          "Lead Profile", "City", "A free copy of Mastering The Interview", "行业", "公司规模（人）"]


def lead_export(n: int = 3000, seed: int = 7) -> tuple[list[str], list[dict[str, str]]]:
    """The header and ``n`` rows as a CSV reader would return them (all text, blanks as "")."""
    rng = np.random.default_rng(seed)
    cols: dict[str, list[str]] = {}
    logit = np.full(n, INTERCEPT) + 0.6 * rng.normal(size=n)  # 0.6·noise: what no column records
    for name, table in (("Lead Origin", ORIGIN), ("Lead Source", SOURCE), ("Last Activity", ACTIVITY),
                        ("What is your current occupation", OCCUPATION), ("Specialization", SPECIALIZATION),
                        ("Lead Profile", PROFILE), ("City", CITY), ("How did you hear about us", HEARD),
                        ("Country", COUNTRY), ("行业", INDUSTRY)):
        values, effect = _pick(rng, n, table)
        cols[name] = values
        logit += effect
    logit += _behaviour(rng, cols)
    logit += _flags_and_size(rng, cols)
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    cols["Converted"] = ["1" if c else "0" for c in converted.tolist()]
    cols.update(_ids(rng, n))
    return HEADER, [{h: cols[h][i] for h in HEADER} for i in range(n)]


def write_csv(path: Path, n: int = 3000, seed: int = 7) -> Path:
    header, rows = lead_export(n, seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _pick(rng: np.random.Generator, n: int, table: Table) -> tuple[list[str], NDArray[np.float64]]:
    shares = np.array([s for _, s, _ in table])
    idx = rng.choice(len(table), n, p=shares / shares.sum())
    return [table[i][0] for i in idx.tolist()], np.array([e for _, _, e in table])[idx]


def _behaviour(rng: np.random.Generator, cols: dict[str, list[str]]) -> NDArray[np.float64]:
    """Web visits: none for form and import leads; a threshold effect of time on site, weaker for professionals."""
    n = len(cols["Lead Origin"])
    offline = np.isin(cols["Lead Origin"], ["Lead Add Form", "Lead Import", "Quick Add Form"])
    intent = rng.normal(size=n)
    visits = np.where(offline, 0, rng.poisson(np.exp(1.0 + 0.25 * intent)))
    seconds = np.where(visits > 0, np.clip(rng.lognormal(np.log(300) + 0.5 * intent, 0.9), 1, 2300), 0).round()
    per_visit = np.where(visits > 0, 1 + rng.gamma(1.5, 0.9, n), 0).round(2)
    lost = rng.random(n) < 0.015  # the tracker missed these
    cols["TotalVisits"] = ["" if m else str(v) for m, v in zip(lost.tolist(), visits.tolist(), strict=True)]
    cols["Total Time Spent on Website"] = [str(int(s)) for s in seconds.tolist()]
    cols["Page Views Per Visit"] = ["" if m else f"{p:g}" for m, p in zip(lost.tolist(), per_visit.tolist(),
                                                                         strict=True)]
    engaged = 1 / (1 + np.exp(-(seconds - 600) / 120))
    professional = np.array(cols["What is your current occupation"]) == "Working Professional"
    return (2.2 * engaged - 0.7 - 0.9 * professional * engaged + 0.2 * np.minimum(visits, 4)
            - 0.12 * np.maximum(visits - 10, 0))


def _flags_and_size(rng: np.random.Generator, cols: dict[str, list[str]]) -> NDArray[np.float64]:
    n = len(cols["Lead Origin"])
    no_email = rng.random(n) < 0.08
    cols["Do Not Email"] = ["Yes" if x else "No" for x in no_email.tolist()]
    cols["Do Not Call"] = ["Yes" if i in (n // 3, n // 2) else "No" for i in range(n)]
    cols["Magazine"] = ["No"] * n
    cols["A free copy of Mastering The Interview"] = ["Yes" if x else "No" for x in (rng.random(n) < 0.31).tolist()]
    size = np.clip(rng.lognormal(np.log(120), 1.4, n), 1, 100_000).round()
    blank = rng.random(n)
    cols["公司规模（人）"] = ["" if b < 0.15 else "-" if b < 0.2 else str(int(s))
                          for b, s in zip(blank.tolist(), size.tolist(), strict=True)]
    return -1.0 * no_email + 0.15 * np.log10(size / 50) * (blank >= 0.2)


def _ids(rng: np.random.Generator, n: int) -> dict[str, list[str]]:
    raw = rng.integers(0, 2**63 - 1, size=(n, 2), dtype=np.int64)
    uuids = [f"{a:016x}{b:016x}" for a, b in raw.tolist()]
    return {"Prospect ID": [f"{u[:8]}-{u[8:12]}-4{u[13:16]}-{u[16:20]}-{u[20:32]}" for u in uuids],
            "Lead Number": [str(x) for x in (579_533 + rng.permutation(n * 3)[:n]).tolist()]}
