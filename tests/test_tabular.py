"""The TabularModel (chainrule.tabular) end to end: a classifier and a regressor learn,
predict in the original labels and units and round-trip through model files; the
stratified validation split, early stopping, the settings it refuses, parse_hidden,
and its evaluate loss against the network's and scikit-learn's."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_squared_error

import chainrule
import chainrule.io
import chainrule.preprocessing
from chainrule.errors import DataError
from chainrule.tabular import TabularModel, delimiter_name, parse_hidden, read_csv
from helpers import tabular_frame

# ---------------------------------------------------------------- TabularModel


def test_classifier_learns_predicts_labels_and_round_trips(tmp_path):
    frame = tabular_frame(300)
    model = TabularModel("label", epochs=60, seed=1).fit(frame)
    assert model.task_ == "classify"
    assert list(model.classes_) == ["no", "yes"]
    assert model.training_["train_rows"] == 240 and model.training_["validation_rows"] == 60
    scores = model.evaluate(frame)
    assert scores["accuracy"] > 0.93
    predicted = model.predict(frame)
    assert set(predicted) <= {"no", "yes"}
    assert np.mean(predicted == frame["label"]) == pytest.approx(scores["accuracy"])
    proba = model.predict_proba(frame)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)

    model.save(tmp_path / "m.npz")
    loaded = chainrule.load(tmp_path / "m.npz")
    assert isinstance(loaded, TabularModel)
    np.testing.assert_array_equal(loaded.predict_proba(frame), proba)
    assert loaded.history_.history["loss"] == model.history_.history["loss"]
    assert loaded.training_["epochs_run"] == model.training_["epochs_run"]


def test_regressor_predicts_in_original_units():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng.uniform(-2, 2, 300), "kind": rng.choice(["a", "b"], 300)})
    frame["price"] = 1000 + 250 * frame["x"] + np.where(frame["kind"] == "a", 300, 0)
    model = TabularModel("price", epochs=150, learning_rate=0.01, seed=0).fit(frame)
    assert model.task_ == "regress"
    scores = model.evaluate(frame)
    assert scores["r2"] > 0.98
    predicted = model.predict(frame)
    assert abs(np.mean(predicted) - frame["price"].mean()) < 20
    assert scores["mse"] == pytest.approx(mean_squared_error(frame["price"], predicted))
    with pytest.raises(ValueError, match="needs a classifier"):
        model.predict_proba(frame)


def test_validation_split_is_stratified_and_seeded():
    frame = tabular_frame(101)
    frame["label"] = ["rare"] * 5 + ["common"] * 96
    a = TabularModel("label", epochs=2, validation_fraction=0.2, seed=3).fit(frame)
    b = TabularModel("label", epochs=2, validation_fraction=0.2, seed=3).fit(frame)
    # round(0.2 * 5) = 1 rare and round(0.2 * 96) = 19 common rows held out
    assert a.training_["validation_rows"] == 20
    np.testing.assert_array_equal(a.predict_proba(frame), b.predict_proba(frame))
    with pytest.raises(ValueError, match="leaves no validation rows"):
        TabularModel("label", validation_fraction=0.2).fit(
            frame.head(3).assign(label=["x", "y", "z"])
        )


def test_early_stopping_keeps_the_best_epoch():
    model = TabularModel("label", epochs=400, patience=3, learning_rate=0.05, seed=0)
    model.fit(tabular_frame(120))
    info = model.training_
    assert info["early_stopped"] and info["epochs_run"] < 400
    val = model.history_.history["val_loss"]
    assert info["best_epoch"] == int(np.argmin(val)) + 1


def test_bad_settings_are_refused():
    frame = tabular_frame(30)
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        TabularModel("label", activation="nope", epochs=1).fit(frame)
    with pytest.raises(ValueError, match="for output layers"):
        TabularModel("label", activation="softmax", epochs=1).fit(frame)
    with pytest.raises(ValueError, match=r"unknown optimizer 'fast'.*'adam'"):
        TabularModel("label", optimizer="fast", epochs=1).fit(frame)
    with pytest.raises(ValueError, match="task must be one of"):
        TabularModel("label", task="cluster").fit(frame)
    with pytest.raises(ValueError, match="only one value"):
        TabularModel("label", epochs=1).fit(frame.assign(label="same"))
    with pytest.raises(ValueError, match="not fitted"):
        TabularModel("label").predict(frame)


# ---------------------------------------------------------------- review fixes


def test_parse_hidden_accepts_sizes_and_none_only():
    assert parse_hidden("64,32") == parse_hidden(" 64, 32 ") == parse_hidden([64, 32]) == (64, 32)
    assert parse_hidden(8) == parse_hidden(np.int64(8)) == (8,)
    assert parse_hidden("none") == parse_hidden("") == parse_hidden(()) == parse_hidden([]) == ()
    for bad in ("0", 0, [0], -1, "8,-2", "64,x", [1.5], True, "64,,32"):
        with pytest.raises((ValueError, TypeError)):
            parse_hidden(bad)
    with pytest.raises(ValueError, match=r"positive integers.*received 0"):
        TabularModel("label", hidden=0, epochs=1).fit(tabular_frame(20))


def test_seed_is_checked():
    with pytest.raises(ValueError, match="seed must be None or a non-negative integer"):
        TabularModel("label", seed=-1, epochs=1).fit(tabular_frame(20))


def test_evaluate_loss_is_the_networks_and_scikit_learns_log_loss():
    from sklearn.metrics import log_loss

    frame = tabular_frame(120)
    model = TabularModel("label", epochs=5, seed=0).fit(frame)
    scores = model.evaluate(frame)
    proba = model.predict_proba(frame)
    proba /= proba.sum(axis=1, keepdims=True)  # float32 sums are 1 to ~1e-7
    assert scores["loss"] == pytest.approx(log_loss(frame["label"], proba), rel=1e-5)
    X = model.preprocessor_.transform(frame)
    y = model.preprocessor_.encode_target(frame)
    assert scores["loss"] == model.network_.evaluate(X, y)["loss"]


# ---------------------------------------------------------------- read_csv: files as they come


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.mark.parametrize(
    ("sep", "name"), [(",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe")]
)
def test_read_csv_sniffs_the_delimiter(tmp_path, sep, name):
    text = sep.join(["a", "b", "note"]) + "\n"
    text += sep.join(["1", "2.5", '"x, y; z | w"']) + "\n" + sep.join(["3", "4.5", "v"]) + "\n"
    frame = read_csv(_write(tmp_path / "t.csv", text))
    assert list(frame.columns) == ["a", "b", "note"]
    assert frame["b"].tolist() == [2.5, 4.5] and frame["note"].tolist() == ["x, y; z | w", "v"]
    assert list(frame.index) == [2, 3]  # spreadsheet rows: the header is row 1
    assert frame.attrs["sep"] == sep and frame.attrs["sep_sniffed"]
    assert delimiter_name(sep).startswith(name)


def test_read_csv_forced_and_ambiguous_delimiters(tmp_path):
    both = _write(tmp_path / "both.csv", "a;b|c\n1;2|3\n4;5|6\n")
    with pytest.warns(UserWarning, match=r"split evenly on semicolon and on pipe.*--sep"):
        assert list(read_csv(both).columns) == ["a", "b|c"]
    assert list(read_csv(both, sep="|").columns) == ["a;b", "c"]
    # a comma file whose text holds semicolons is read with commas, silently
    commas = _write(tmp_path / "commas.csv", "a,b;c\n1,2;3\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(read_csv(commas).columns) == ["a", "b;c"]
    with pytest.raises(DataError, match=r"looks semicolon-separated.*--sep ';'"):
        read_csv(_write(tmp_path / "semi.csv", "a;b\n1;2\n"), sep=",")
    for bad in ("ab", "", "\n"):
        with pytest.raises(ValueError, match="sep must be one character"):
            read_csv(both, sep=bad)
    with pytest.raises(ValueError, match="decimal and thousands must differ"):
        read_csv(both, decimal=",", thousands=",")


def test_read_csv_bom_crlf_decimal_commas_and_thousands(tmp_path):
    text = "id;price;y\r\n1;1.037,5;a\r\n2;2,25;b\r\n3;-0,5;a\r\n"
    path = _write(tmp_path / "eu.csv", "\ufeff" + text)
    frame = read_csv(path, decimal=",")  # thousands "auto": "."
    assert list(frame.columns) == ["id", "price", "y"]  # no BOM in the first name
    assert frame["price"].tolist() == [1037.5, 2.25, -0.5]
    # without a thousands separator "1.037,5" is not a number: the column stays text
    assert read_csv(path, decimal=",", thousands=None)["price"].tolist()[0] == "1.037,5"
    assert read_csv(path)["price"].tolist() == ["1.037,5", "2,25", "-0,5"]  # text as written
    us = _write(tmp_path / "us.csv", 'n,y\n"1,037",a\n12,b\n')
    assert read_csv(us, thousands=",")["n"].tolist() == [1037, 12]
    assert read_csv(_write(tmp_path / "u16.csv", "\ufeffa\tb\r\n1\t2\r\n", "utf-16-le"))[
        "b"
    ].tolist() == [2]


@pytest.mark.parametrize("method", ["gzip", "bz2", "xz", "zip"])
def test_read_csv_reads_compressed_files(tmp_path, method):
    import bz2
    import gzip
    import lzma
    import zipfile

    text = "\ufeffa;b\r\n1,5;x\r\n2,5;y\r\n"
    data = text.encode()
    path = tmp_path / f"t.csv.{method}"
    if method == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("t.csv", data)
    else:
        path.write_bytes({"gzip": gzip, "bz2": bz2, "xz": lzma}[method].compress(data))
    frame = read_csv(str(path), decimal=",")
    assert list(frame.columns) == ["a", "b"] and frame["a"].tolist() == [1.5, 2.5]
    assert frame.attrs["compression"] == method and frame.attrs["sep"] == ";"


def test_read_csv_refuses_damaged_archives_and_model_files(tmp_path):
    import gzip

    path = tmp_path / "cut.csv.gz"
    data = gzip.compress(b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(2000)))
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.csv\.gz: a damaged gzip file"):
        read_csv(str(path))
    TabularModel("label", epochs=1).fit(tabular_frame(30)).save(tmp_path / "m.npz")
    with pytest.raises(DataError, match="not a CSV text file"):
        read_csv(str(tmp_path / "m.npz"))


def test_read_csv_reads_parquet_and_names_the_extra_without_pyarrow(tmp_path, monkeypatch):
    frame = pd.DataFrame(
        {"when": pd.to_datetime(["2024-01-01", "2024-02-03"]), "x": [1.5, 2.5], "y": ["a", "b"]}
    )
    frame.to_parquet(tmp_path / "t.parquet")
    read = read_csv(str(tmp_path / "t.parquet"))
    pd.testing.assert_frame_equal(read.reset_index(drop=True), frame)
    assert list(read.index) == [2, 3] and read.attrs["format"] == "parquet"
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow fails
    with pytest.raises(DataError, match=r"needs pyarrow.*chainrule\[parquet\]"):
        read_csv(str(tmp_path / "t.parquet"))


def test_a_row_longer_than_the_header_is_refused_not_shifted(tmp_path):
    # every row has a field more than the header: pandas made the first field the index
    path = _write(tmp_path / "extra.csv", "a,b,y\n1,2,3,x\n4,5,6,z\n")
    with pytest.raises(DataError, match=r"line 2 has 4 fields but the header names 3 columns"):
        read_csv(path)
    path = _write(tmp_path / "late.csv", "a,b,y\n1,2,x\n4,5,6,z\n")
    with pytest.raises(DataError, match=r"line 3"):
        read_csv(path)


def test_read_csv_na_values_and_text_columns(tmp_path):
    path = _write(tmp_path / "t.csv", "id,t,y\n007,1.5,a\n010,n/a (sensor off),b\n011,?,a\n")
    frame = read_csv(path, na_values=["n/a (sensor off)", "?"], text_columns=["id"])
    assert frame["id"].tolist() == ["007", "010", "011"]
    assert frame["t"].tolist()[0] == 1.5 and frame["t"].isna().tolist() == [False, True, True]


def test_ctrl_c_inside_pandas_reader_is_a_keyboard_interrupt(tmp_path, monkeypatch):
    path = _write(tmp_path / "t.csv", "a,b\n1,2\n")

    def chained(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise pd.errors.ParserError("Calling read(nbytes) on source failed") from None

    monkeypatch.setattr(pd, "read_csv", chained)
    with pytest.raises(KeyboardInterrupt):
        read_csv(path)


# ---------------------------------------------------------------- dates, extreme values


def _dated(n=120, seed=0):
    rng = np.random.default_rng(seed)
    when = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730, n), unit="D")
    when += pd.to_timedelta(rng.integers(0, 24 * 60, n), unit="min")
    x = rng.normal(size=n)
    label = np.where(x + (when.month > 6) > 0.5, "yes", "no")
    return pd.DataFrame({"when": when.strftime("%Y-%m-%d %H:%M"), "x": x, "label": label})


def test_date_columns_round_trip_through_the_model_file(tmp_path):
    frame = _dated()
    with pytest.warns(UserWarning, match="'when' holds a different date in every row"):
        model = TabularModel("label", epochs=5, seed=0).fit(frame)
    (col, _) = model.preprocessor_.columns_
    assert col["kind"] == "datetime" and col["format"] == "%Y-%m-%d %H:%M"
    assert [p["part"] for p in col["parts"]] == list(chainrule.preprocessing.DATE_PARTS)
    model.save(tmp_path / "m.npz")
    loaded = chainrule.load(tmp_path / "m.npz")
    assert loaded.preprocessor_.columns_ == model.preprocessor_.columns_
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    header = chainrule.io.read_header(tmp_path / "m.npz")
    assert header["preprocessing"]["fitted"]["columns"][0]["kind"] == "datetime"


def test_a_value_beyond_float32_after_scaling_is_a_data_error_naming_column_and_row():
    frame = tabular_frame(100)
    model = TabularModel("label", epochs=2, seed=0).fit(frame)
    new = frame.head(3).copy()
    new.index = [2, 3, 4]
    new.loc[3, "a"] = 1e308  # overflowed float32 into an internal error
    with pytest.raises(DataError, match=r"column 'a': row 3 holds a value too large.*1e\+308"):
        model.predict(new)
    new.loc[3, "a"] = 50.0  # far outside the training range, still a prediction
    assert len(model.predict(new)) == 3
