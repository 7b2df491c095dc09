#!/usr/bin/env python3
"""Writes the lesson's skew-exercise data (exercise 2): a churn-like table with
5 numeric features that have missing values and 3 categorical features with
rare categories; the test file also has categories training never saw.

Standard library only (random.Random is stable across Python 3 versions), so
the committed CSVs can be regenerated anywhere:

    python3 scripts/exercise2_data.py tests/fixtures/exercise2
"""
import csv
import math
import random
import sys
from pathlib import Path

CITIES = ["Berlin", "Paris", "Madrid", "Rome", "Vienna", "Oslo", "Lisbon", "Tallinn", "Reykjavik", "Valletta"]
CITY_W = [30, 25, 15, 10, 8, 5, 4, 1.5, 0.9, 0.6]          # the last three are rare (< 2%)
CITY_EFFECT = {c: e for c, e in zip(CITIES, [0.0, 0.3, -0.4, 0.5, -0.2, 0.8, -0.6, 1.2, -1.0, 1.5])}
DEVICES = ["mobile", "desktop", "tablet", "tv", "watch"]
DEVICE_W = [55, 30, 13, 1.2, 0.8]
DEVICE_EFFECT = {"mobile": 0.4, "desktop": -0.3, "tablet": 0.1, "tv": 1.0, "watch": -1.0}
PLANS = ["basic", "pro", "enterprise", "legacy"]
PLAN_W = [60, 30, 9, 1]
PLAN_EFFECT = {"basic": 0.5, "pro": -0.2, "enterprise": -0.9, "legacy": 1.4}
UNSEEN = {"city": ["Helsinki", "Dublin"], "device": ["console"], "plan": ["trial"]}
MISSING_RATE = [0.08, 0.12, 0.05, 0.10, 0.15]


def row(rng, unseen_rate):
    age = rng.gauss(40, 12)
    income = math.exp(rng.gauss(10.5, 0.6))
    tenure = rng.expovariate(1 / 24)
    score = rng.gauss(0, 1)
    visits = sum(1 for _ in range(30) if rng.random() < 0.2)
    city = rng.choices(CITIES, CITY_W)[0]
    device = rng.choices(DEVICES, DEVICE_W)[0]
    plan = rng.choices(PLANS, PLAN_W)[0]
    z = (-0.04 * (age - 40) - 0.8 * (math.log(income) - 10.5) - 0.05 * (tenure - 24)
         + 0.9 * score * (1 if visits > 5 else -1) + 0.15 * (visits - 6)
         + CITY_EFFECT[city] + DEVICE_EFFECT[device] + PLAN_EFFECT[plan])
    churn = "yes" if rng.random() < 1 / (1 + math.exp(-2 * z)) else "no"
    numeric = [round(age, 1), round(income, 2), round(tenure, 2), round(score, 4), visits]
    cells = [("" if rng.random() < m else v) for v, m in zip(numeric, MISSING_RATE)]
    cats = {"city": city, "device": device, "plan": plan}
    for k in cats:
        if rng.random() < unseen_rate:
            cats[k] = rng.choice(UNSEEN[k])
        elif rng.random() < 0.02:
            cats[k] = ""  # a missing category
    return cells + [cats["city"], cats["device"], cats["plan"], churn]


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/exercise2")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2026)
    header = ["age", "income", "tenure_months", "score", "visits", "city", "device", "plan", "churn"]
    for name, n, unseen in [("train.csv", 3000, 0.0), ("test.csv", 1000, 0.01)]:
        with open(out / name, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            for _ in range(n):
                w.writerow(row(rng, unseen))
    print(f"wrote {out}/train.csv (3000 rows) and {out}/test.csv (1000 rows)")


if __name__ == "__main__":
    main()
