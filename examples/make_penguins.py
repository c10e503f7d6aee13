"""Write examples/penguins*.csv: a synthetic penguin table to train, test and predict on.

The rows are made up, drawn with a fixed seed from normal distributions whose means
and spreads are close to the published measurements of the three Antarctic penguin
species (Adelie, Chinstrap, Gentoo); the islands follow where each species lives.
It is not the real Palmer Penguins data, but it behaves like it: bill length and
depth separate the species well, body mass and flipper length separate Gentoo, and a
few measurements and sexes are missing, as in field data.

``penguins.csv`` (344 rows, with gaps) is for training, ``penguins_test.csv`` (100 other
complete rows) for evaluating, ``penguins_new.csv`` (5 rows without the species) for
predicting. Run ``python examples/make_penguins.py`` to rebuild them byte for byte.
Only NumPy and the standard library are needed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

#: species -> (count, islands and their shares, means and standard deviations of
#: bill length (mm), bill depth (mm), flipper length (mm), body mass (g) for females)
SPECIES = {
    "Adelie": (
        152,
        {"Biscoe": 0.29, "Dream": 0.37, "Torgersen": 0.34},
        (37.3, 17.6, 187.8, 3370.0),
        (2.6, 1.2, 6.5, 300.0),
    ),
    "Chinstrap": (68, {"Dream": 1.0}, (46.6, 17.6, 191.7, 3530.0), (3.3, 1.1, 7.1, 300.0)),
    "Gentoo": (124, {"Biscoe": 1.0}, (45.6, 14.2, 212.7, 4680.0), (2.8, 0.9, 6.5, 320.0)),
}
#: how much larger males are, per measurement
MALE_EXTRA = (3.0, 1.5, 5.0, 650.0)
COLUMNS = [
    "island",
    "bill_length_mm",
    "bill_depth_mm",
    "flipper_length_mm",
    "body_mass_g",
    "sex",
    "species",
]


def make_rows(rng: np.random.Generator) -> list[list[object]]:
    rows = []
    for species, (count, islands, means, stds) in SPECIES.items():
        names = list(islands)
        island = rng.choice(names, size=count, p=[islands[k] for k in names])
        male = rng.random(count) < 0.5
        values = rng.normal(means, stds, size=(count, 4)) + np.outer(male, MALE_EXTRA)
        for i in range(count):
            bill_length, bill_depth, flipper, mass = values[i]
            rows.append(
                [
                    str(island[i]),
                    f"{bill_length:.1f}",
                    f"{bill_depth:.1f}",
                    f"{flipper:.0f}",
                    f"{round(mass / 25) * 25:.0f}",
                    "male" if male[i] else "female",
                    species,
                ]
            )
    order = rng.permutation(len(rows))
    rows = [rows[i] for i in order]
    # field data has gaps: a few unknown sexes, two birds not measured
    for i in rng.choice(len(rows), size=9, replace=False):
        rows[i][5] = ""
    for i in rng.choice(len(rows), size=2, replace=False):
        rows[i][1:5] = ["", "", "", ""]
    return rows


def write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    rng = np.random.default_rng(2026)
    rows = make_rows(rng)
    write(HERE / "penguins.csv", COLUMNS, rows)
    # other birds to test on: fresh rows, complete, with the species
    fresh = [r for r in make_rows(np.random.default_rng(7)) if all(r[1:6])]
    test = fresh[:100]
    write(HERE / "penguins_test.csv", COLUMNS, test)
    # new birds to predict: the same columns without the species
    new = [r[:-1] for r in fresh[100:105]]
    write(HERE / "penguins_new.csv", COLUMNS[:-1], new)
    print(
        f"wrote {len(rows)} rows to examples/penguins.csv, {len(test)} to "
        f"examples/penguins_test.csv and {len(new)} to examples/penguins_new.csv"
    )


if __name__ == "__main__":
    main()
