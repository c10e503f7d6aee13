"""Write examples/bikes*.csv: a messy daily bike-rental table, as spreadsheets export it.

The rows are made up, drawn with a fixed seed: rentals per day of a city's bike scheme
over two years, rising in summer and on warm dry days, falling in rain, on holidays and
as the wind picks up. The file is written the way a European spreadsheet exports it:

- semicolons between fields, decimal commas (``12,5``) and dots between thousands
  (``3.412`` rentals);
- a ``day`` column of dates (``2024-03-15``) and a ``rental_id`` that numbers the rows
  (an ID, useless as a feature);
- a few temperatures missing (the sensor was off) and a few days whose count was never
  recorded (no target).

``bikes.csv`` (730 days) is for training, ``bikes_new.csv`` (7 days of the following
year, without the count) for predicting. Run ``python examples/make_bikes.py`` to rebuild
them byte for byte. Only NumPy and the standard library are needed.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
COLUMNS = ["rental_id", "day", "weather", "temperature_c", "humidity", "wind_kmh", "holiday"]
TARGET = "rentals"
WEATHER = ["sunny", "cloudy", "rain"]
#: fixed public holidays (month, day)
HOLIDAYS = {(1, 1), (5, 1), (10, 3), (12, 25), (12, 26)}


def comma(value: float, decimals: int) -> str:
    """``12.5`` -> ``"12,5"``: a decimal comma."""
    return f"{round(value, decimals) + 0.0:.{decimals}f}".replace(".", ",")  # no "-0,0"


def thousands(value: int) -> str:
    """``3412`` -> ``"3.412"``: dots between thousands."""
    return f"{value:,}".replace(",", ".")


def make_rows(
    rng: np.random.Generator, first: dt.date, days: int, start_id: int, gaps: bool
) -> list[list]:
    rows = []
    for i in range(days):
        day = first + dt.timedelta(days=i)
        season = np.cos(2 * np.pi * (day.timetuple().tm_yday - 200) / 365.25)  # 1 in July
        temperature = 11 + 9 * season + rng.normal(0, 3)
        weather = rng.choice(WEATHER, p=[0.45, 0.35, 0.2])
        humidity = float(np.clip(rng.normal(0.6 + 0.2 * (weather == "rain"), 0.1), 0.2, 1.0))
        wind = abs(rng.normal(14, 6))
        holiday = int((day.month, day.day) in HOLIDAYS)
        weekend = day.weekday() >= 5
        rentals = (
            2600
            + 120 * temperature
            - 1400 * (weather == "rain")
            - 300 * (weather == "cloudy")
            - 35 * wind
            - 900 * holiday
            + (400 if weekend else 0)
            + 200 * (day.year - 2023)
            + rng.normal(0, 250)
        )
        rows.append(
            [
                start_id + i,
                day.isoformat(),
                str(weather),
                comma(temperature, 1),
                comma(humidity, 2),
                comma(wind, 1),
                holiday,
                thousands(max(int(rentals), 0)),
            ]
        )
    if not gaps:
        return rows
    for i in rng.choice(len(rows), size=6, replace=False):
        rows[i][3] = ""  # the temperature sensor was off
    for i in rng.choice(len(rows), size=4, replace=False):
        rows[i][-1] = ""  # nobody recorded the count
    return rows


def write(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=";", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    rows = make_rows(np.random.default_rng(2026), dt.date(2023, 1, 1), 730, 1, gaps=True)
    write(HERE / "bikes.csv", [*COLUMNS, TARGET], rows)
    new = [r[:-1] for r in make_rows(np.random.default_rng(7), dt.date(2025, 6, 2), 7, 731, False)]
    write(HERE / "bikes_new.csv", COLUMNS, new)
    print(f"wrote {len(rows)} rows to examples/bikes.csv and {len(new)} to examples/bikes_new.csv")


if __name__ == "__main__":
    main()
