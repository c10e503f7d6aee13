"""Progress display (chainrule.progress): verbose=0 prints nothing, verbose=1 shows a bar
(tqdm's, or a text bar without tqdm), verbose=2 prints one line for predict and
evaluate, and any other verbose is refused."""

import numpy as np
import pytest

from helpers import linear_net, regression_data, regressor


def test_verbose_0_prints_nothing(capsys):
    X, y = regression_data()
    net = regressor()
    net.fit(X, y, epochs=3, verbose=0, validation_split=0.1)
    net.evaluate(X, y, verbose=0)
    net.predict(X, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_1_shows_progress(capsys):
    X, y = regression_data()
    net = regressor()
    net.fit(X, y, epochs=2, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss" in out
    net.evaluate(X, y, verbose=1)
    assert "evaluate" in capsys.readouterr().out
    net.predict(X, verbose=1)
    assert "predict" in capsys.readouterr().out


def test_progress_bar_without_tqdm(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # importing it now fails
    X, y = regression_data()
    regressor().fit(X, y, epochs=2, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2 [" in out and "5/5" in out and "loss" in out


def test_verbose_on_predict_and_evaluate(capsys):
    net = linear_net(seed=0)
    X, y = np.ones((10, 2)), np.ones(10)
    net.fit(X, y)
    capsys.readouterr()
    net.predict(X, batch_size=4, verbose=0)
    net.evaluate(X, y, verbose=0)
    assert capsys.readouterr().out == ""
    net.predict(X, batch_size=4, verbose=2)
    net.evaluate(X, y, batch_size=4, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("predict: 3/3 batches - ")
    assert lines[1].startswith("evaluate: 3/3 batches - ")
    net.predict(X, verbose=1)
    assert "predict" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"verbose must be 0 \(silent\), 1 .* received verbose=5"):
        net.predict(X, verbose=5)


@pytest.mark.parametrize("verbose", [3, -1, True, "1"])
def test_verbose_must_be_0_1_or_2(verbose):
    X, y = regression_data()
    with pytest.raises(ValueError, match=r"verbose must be 0 \(silent\), 1 .* or 2"):
        regressor().fit(X, y, verbose=verbose)
