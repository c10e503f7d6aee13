"""Pictures: files are written as PNGs, and the figures carry the right titles,
axis labels, legends and data."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="the pictures need matplotlib (chainrule[plot])")

from matplotlib.figure import Figure

from chainrule import Dense, Network, ReLU, Sigmoid, Softmax
from chainrule.plotting import (
    picture_formats,
    plot_confusion_matrix,
    plot_decision_boundary,
    plot_error_curve,
    plot_health,
    plot_learning_curves,
    plot_predicted_vs_true,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path: Path) -> bool:
    from matplotlib.image import imread

    data = path.read_bytes()
    return data.startswith(PNG_MAGIC) and imread(path).shape[0] > 100


def _legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.fixture(scope="module")
def moons_net():
    from sklearn.datasets import make_moons

    X, y = make_moons(120, noise=0.2, random_state=0)
    net = Network(
        [Dense(12), ReLU(), Dense(2), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        metrics=["accuracy"],
        seed=0,
    )
    net.fit(X, y, epochs=8, batch_size=16, validation_split=0.25)
    return net, X, y


# ---------------------------------------------------------------- error curve


def test_error_curve_is_the_lessons_picture(tmp_path):
    errors = [2.5, 2.1, 1.9, 1.95, 1.7]
    path = plot_error_curve(errors, tmp_path / "cumulative_error.png")
    assert path == tmp_path / "cumulative_error.png" and _is_png(path)

    fig = plot_error_curve(errors)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "Iterations"
    assert ax.get_ylabel() == "Error for all training instances"
    assert ax.get_title() == "Training error of the neural network"
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [0, 100, 200, 300, 400])
    np.testing.assert_array_equal(line.get_ydata(), errors)
    assert _legend_texts(ax) == ["cumulative squared error"]
    fig = plot_error_curve(errors, every=1, title="t")
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_xdata(), range(5))
    assert fig.axes[0].get_title() == "t"


def test_error_curve_refuses_bad_input():
    with pytest.raises(ValueError, match="errors"):
        plot_error_curve([[1.0, 2.0]])
    with pytest.raises(ValueError, match="NaN"):
        plot_error_curve([1.0, float("nan")])


# ---------------------------------------------------------------- learning curves


def test_learning_curves_two_panels(tmp_path, moons_net):
    net, _, _ = moons_net
    record = net.history.history
    path = plot_learning_curves(net.history, tmp_path / "curves.png")
    assert _is_png(path)

    fig = plot_learning_curves(net)
    assert fig.get_suptitle() == "Learning curves"
    loss_ax, metric_ax = fig.axes
    assert loss_ax.get_title() == "Loss per epoch"
    assert metric_ax.get_title() == "Accuracy per epoch"
    assert loss_ax.get_xlabel() == metric_ax.get_xlabel() == "Epoch"
    assert (loss_ax.get_ylabel(), metric_ax.get_ylabel()) == ("Loss", "Accuracy")
    best_loss = int(np.argmin(record["val_loss"])) + 1
    best_acc = int(np.argmax(record["val_accuracy"])) + 1
    assert _legend_texts(loss_ax) == [
        "training",
        "validation",
        f"lowest validation loss (epoch {best_loss})",
    ]
    assert _legend_texts(metric_ax)[-1] == f"highest validation accuracy (epoch {best_acc})"
    train, val, star = loss_ax.get_lines()
    np.testing.assert_array_equal(train.get_xdata(), np.arange(1, 9))
    np.testing.assert_array_equal(train.get_ydata(), record["loss"])
    np.testing.assert_array_equal(val.get_ydata(), record["val_loss"])
    assert star.get_ydata()[0] == min(record["val_loss"])
    np.testing.assert_array_equal(metric_ax.get_lines()[1].get_ydata(), record["val_accuracy"])


def test_learning_curves_from_dicts_and_model_file_headers():
    fig = plot_learning_curves({"loss": [1.0, 0.5, 0.4], "lr": [0.1] * 3, "seconds": [1] * 3})
    (ax,) = fig.axes  # no metric: the loss panel only
    assert _legend_texts(ax) == ["training"]
    header_table = {"epoch": [0, 1], "history": {"loss": [1.0, 0.8], "r2": [0.1, 0.4]}}
    fig = plot_learning_curves(header_table, title="Run 1")
    assert [a.get_title() for a in fig.axes] == ["Loss per epoch", "R² per epoch"]
    assert fig.get_suptitle() == "Run 1"
    record = {"loss": [3.0, 2.0], "val_loss": [3.5, 2.5], "mae": [1, 0.9], "val_r2": [0.1, 0.3]}
    fig = plot_learning_curves(record, metric="r2")
    assert fig.axes[1].get_ylabel() == "R²"
    assert _legend_texts(fig.axes[1]) == ["validation", "highest validation R² (epoch 2)"]
    fig = plot_learning_curves(record, metric="mae")  # an error: lower is better
    assert _legend_texts(fig.axes[1]) == ["training"]
    record["val_mae"] = [1.2, 1.3]
    fig = plot_learning_curves(record, metric="mae")
    assert _legend_texts(fig.axes[1])[-1] == "lowest validation MAE (epoch 1)"


def test_learning_curves_of_fitted_models(moons_net):
    net, _, _ = moons_net

    class Tabular:  # a TabularModel keeps its network's History in history_
        history_ = net.history

    fig = plot_learning_curves(Tabular())
    np.testing.assert_array_equal(
        fig.axes[0].get_lines()[0].get_ydata(), net.history.history["loss"]
    )

    class Estimator:  # scikit-learn's MLP attributes
        def __init__(self):
            self.loss_curve_ = [0.9, 0.5, 0.3]
            self.validation_scores_ = [0.6, 0.8, 0.7]

    fig = plot_learning_curves(Estimator())
    assert [a.get_title() for a in fig.axes] == ["Loss per epoch", "Score per epoch"]
    assert _legend_texts(fig.axes[1]) == ["validation", "highest validation score (epoch 2)"]


def test_learning_curves_mark_the_kept_weights_apart_from_the_best_metric():
    # the lowest validation loss (epoch 2, the weights early stopping keeps) and the
    # highest validation accuracy (epoch 3) are different epochs: each is labelled so
    record = {
        "loss": [0.9, 0.6, 0.5, 0.45],
        "val_loss": [0.8, 0.55, 0.6, 0.7],
        "accuracy": [0.6, 0.7, 0.8, 0.85],
        "val_accuracy": [0.6, 0.7, 0.8, 0.75],
    }
    fig = plot_learning_curves(record, kept_epoch=2)
    loss_ax, metric_ax = fig.axes
    assert _legend_texts(loss_ax)[-2:] == [
        "lowest validation loss (epoch 2)",
        "weights kept (epoch 2)",
    ]
    assert _legend_texts(metric_ax)[-2:] == [
        "highest validation accuracy (epoch 3)",
        "weights kept (epoch 2)",
    ]
    record["val_accuracy"] = [0.6, 0.8, 0.8, 0.75]  # a tie: the first is starred, and said so
    fig = plot_learning_curves(record)
    assert _legend_texts(fig.axes[1])[-1] == "highest validation accuracy (first at epoch 2)"
    assert len(_legend_texts(fig.axes[0])) == 3  # no kept_epoch: no line
    kept = metric_ax.get_lines()[-1]
    assert list(kept.get_xdata()) == [2, 2]
    for bad in (0, 5, 1.5):
        with pytest.raises(ValueError, match="kept_epoch must be an epoch number from 1 to 4"):
            plot_learning_curves(record, kept_epoch=bad)


def test_picture_formats_are_matplotlibs():
    formats = picture_formats()
    assert {"png", "pdf", "svg"} <= set(formats)
    assert "txt" not in formats and "csv" not in formats


def test_learning_curves_refuse_empty_history_and_unknown_metric():
    with pytest.raises(ValueError, match="non-empty 'loss'"):
        plot_learning_curves({})
    unfitted = Network([Dense(1)], loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match="Train the model first"):
        plot_learning_curves(unfitted)
    with pytest.raises(ValueError, match="metric 'f1' was not recorded"):
        plot_learning_curves({"loss": [1.0]}, metric="f1")


# ---------------------------------------------------------------- decision boundary


def test_decision_boundary_of_a_network(tmp_path, moons_net):
    net, X, y = moons_net
    path = plot_decision_boundary(
        net,
        X,
        y,
        tmp_path / "boundary.png",
        feature_names=["x1", "x2"],
        class_names=["upper", "lower"],
    )
    assert _is_png(path)
    fig = plot_decision_boundary(
        net, X, y, feature_names=["x1", "x2"], class_names=["upper", "lower"], resolution=50
    )
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x1", "x2")
    assert ax.get_title() == "Decision boundary"
    assert _legend_texts(ax) == ["upper (true class)", "lower (true class)", "decision boundary"]
    # the points drawn are the data, grouped by true class
    for i, points in enumerate(ax.collections[-2:]):
        np.testing.assert_allclose(points.get_offsets(), X[y == i])
    # the colour under each pixel is the predicted class's: compare with predict
    image = np.asarray(ax.get_images()[0].get_array())
    assert image.shape == (50, 50, 3)
    xs = np.linspace(*ax.get_xlim(), 50)
    ys = np.linspace(*ax.get_ylim(), 50)
    grid = np.column_stack([np.repeat(xs[None, :], 50, 0).ravel(), np.repeat(ys, 50)])
    predicted = net.predict(grid).argmax(axis=1).reshape(50, 50)
    blueish = image[..., 2] > image[..., 0]  # tab10: class 0 blue, class 1 orange
    np.testing.assert_array_equal(blueish, predicted == 0)


def test_decision_boundary_from_functions_and_labels():
    X = np.array([[-1.0, 0.0], [-0.5, 1.0], [0.5, 0.0], [1.0, 1.0]])

    def labels(points):
        return np.where(points[:, 0] > 0, "right", "left")

    fig = plot_decision_boundary(labels, X, ["left", "left", "right", "right"], resolution=40)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "feature 0" and ax.get_ylabel() == "feature 1"
    assert _legend_texts(ax)[:2] == ["left (true class)", "right (true class)"]
    image = np.asarray(ax.get_images()[0].get_array())
    assert np.all(image[:, :19] == image[0, 0]) and np.all(image[:, 21:] == image[0, -1])
    assert not np.array_equal(image[0, 0], image[0, -1])

    def positive_probability(points):
        return 1 / (1 + np.exp(-4 * points[:, 1:2]))  # (n, 1), as a sigmoid network gives

    fig = plot_decision_boundary(positive_probability, X, [0, 1, 0, 1], class_names=["no", "yes"])
    assert _legend_texts(fig.axes[0])[:2] == ["no (true class)", "yes (true class)"]

    binary = Network([Dense(1), Sigmoid()], loss="binary_crossentropy", optimizer="sgd", seed=0)
    binary.fit(X, [0, 1, 0, 1], epochs=2)
    plot_decision_boundary(binary, X, [0, 1, 0, 1])

    class Classifier:  # an estimator with text classes
        classes_ = np.array(["cat", "dog"])

        def predict_proba(self, points):
            p = 1 / (1 + np.exp(-points[:, 0]))
            return np.column_stack([1 - p, p])

    fig = plot_decision_boundary(Classifier(), X, ["cat", "dog", "dog", "dog"])
    assert _legend_texts(fig.axes[0])[:2] == ["cat (true class)", "dog (true class)"]


def test_decision_boundary_refuses_bad_input(moons_net):
    net, X, y = moons_net
    with pytest.raises(ValueError, match="exactly 2 features"):
        plot_decision_boundary(net, np.hstack([X, X]), y)
    with pytest.raises(ValueError, match="not among the model's classes"):
        plot_decision_boundary(net, X, y + 5)
    with pytest.raises(ValueError, match="class_names must have 2 names"):
        plot_decision_boundary(net, X, y, class_names=["a"])
    with pytest.raises(ValueError, match=r"y must have shape \(120,\)"):
        plot_decision_boundary(net, X, y[:10])
    with pytest.raises(TypeError, match="fitted classifier"):
        plot_decision_boundary(object(), X, y)


# ---------------------------------------------------------------- confusion matrix


def test_confusion_matrix(tmp_path):
    cm = np.array([[50, 0, 0], [0, 43, 7], [0, 2, 48]])
    labels = ["setosa", "versicolor", "virginica"]
    assert _is_png(plot_confusion_matrix(cm, labels, tmp_path / "cm.png"))
    fig = plot_confusion_matrix(cm, labels)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Predicted class" and ax.get_ylabel() == "True class"
    assert ax.get_title() == "Confusion matrix (accuracy 0.940)"
    assert [t.get_text() for t in ax.get_xticklabels()] == labels
    assert [t.get_text() for t in ax.get_yticklabels()] == labels
    cells = {(t.get_position()[1], t.get_position()[0]): t.get_text() for t in ax.texts}
    assert cells[(1, 2)] == "7" and cells[(2, 1)] == "2" and cells[(0, 0)] == "50"
    assert fig.axes[1].get_ylabel() == "Samples"  # the colour bar explains the shades
    fig = plot_confusion_matrix(cm, labels, normalize=True)
    cells = {(t.get_position()[1], t.get_position()[0]): t.get_text() for t in fig.axes[0].texts}
    assert cells[(1, 2)] == "0.14" and cells[(2, 2)] == "0.96"
    assert fig.axes[1].get_ylabel() == "Fraction of the true class"


def test_confusion_matrix_refuses_bad_input():
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.ones((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="labels must have 2 names"):
        plot_confusion_matrix(np.ones((2, 2)), ["a"])


# ---------------------------------------------------------------- regression


def test_predicted_vs_true(tmp_path):
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(0)
    y_true = rng.normal(size=80)
    y_pred = y_true + rng.normal(scale=0.3, size=80)
    assert _is_png(plot_predicted_vs_true(y_true, y_pred, tmp_path / "pvt.png"))
    fig = plot_predicted_vs_true(y_true, y_pred.reshape(-1, 1))
    (ax,) = fig.axes
    assert ax.get_xlabel() == "True value" and ax.get_ylabel() == "Predicted value"
    assert ax.get_title() == "Predicted against true values"
    assert _legend_texts(ax) == [
        f"samples (R² = {r2_score(y_true, y_pred):.3f})",
        "perfect prediction",
    ]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), np.column_stack([y_true, y_pred]))
    (diagonal,) = ax.get_lines()
    np.testing.assert_array_equal(diagonal.get_xdata(), diagonal.get_ydata())

    two = np.column_stack([y_true, -y_true])
    fig = plot_predicted_vs_true(two, two)
    assert _legend_texts(fig.axes[0])[:2] == ["output 0 (R² = 1.000)", "output 1 (R² = 1.000)"]
    with pytest.raises(ValueError, match="same shape"):
        plot_predicted_vs_true(y_true, y_pred[:5])


# ---------------------------------------------------------------- files and backends


def test_other_formats_by_suffix(tmp_path):
    path = plot_error_curve([1.0, 0.5], tmp_path / "error.svg")
    assert path.read_text().lstrip().startswith("<?xml")


def test_missing_matplotlib_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[plot\]'"):
        plot_error_curve([1.0, 0.5])


def test_matplotlib_loads_lazily_and_pyplot_never(tmp_path):
    """``import chainrule`` does not import matplotlib; drawing needs no display and
    never touches pyplot."""
    script = textwrap.dedent(
        f"""
        import sys
        import chainrule, chainrule.plotting
        assert "matplotlib" not in sys.modules
        from chainrule.plotting import plot_error_curve
        plot_error_curve([3.0, 2.0, 1.0], {str(tmp_path / "e.png")!r})
        assert "matplotlib" in sys.modules
        assert "matplotlib.pyplot" not in sys.modules
        """
    )
    # a display that does not exist: any GUI backend would fail to connect to it
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["DISPLAY"] = ":987"
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert _is_png(tmp_path / "e.png")


def test_names_with_dollar_signs_are_drawn_as_text_not_math(tmp_path):
    """A target or label such as ``y$a_b_c$`` broke the pictures: matplotlib read it as
    math (a double subscript) and failed at drawing."""
    name = "y$a_b_c$"
    X = np.array([[-1.0, 0.0], [-0.5, 1.0], [0.5, 0.0], [1.0, 1.0]])

    def labels(points):
        return np.where(points[:, 0] > 0, name, "$x^")

    path = plot_decision_boundary(
        labels,
        X,
        [name, "$x^", name, "$x^"],
        tmp_path / "boundary.png",
        feature_names=[name, "b$_"],
        title=f"Decision regions of {name!r}",
        resolution=20,
    )
    assert _is_png(path)
    fig = plot_decision_boundary(labels, X, [name, name, "$x^", "$x^"], feature_names=[name, "b"])
    assert fig.axes[0].get_xlabel() == r"y\$a_b_c\$"  # matplotlib draws y$a_b_c$
    assert _is_png(plot_confusion_matrix([[3, 1], [0, 2]], [name, "$x^"], tmp_path / "cm.png"))
    history = {"loss": [1.0, 0.5], name: [0.1, 0.2], f"val_{name}": [0.1, 0.3]}
    assert _is_png(plot_learning_curves(history, tmp_path / "lc.png", title=name))
    path = plot_predicted_vs_true([1.0, 2.0], [1.1, 1.9], tmp_path / "pt.png", title=name)
    assert _is_png(path)
    assert _is_png(plot_error_curve([3.0, 2.0, 1.0], tmp_path / "e.png", title=name))


# ---------------------------------------------------------------- training's health


def test_health_picture_draws_each_layer_and_the_warnings(tmp_path):
    from chainrule import Adam, Diagnostics, Tanh

    rng = np.random.default_rng(0)
    X = rng.uniform(size=(300, 4))
    y = (X[:, 0] > X[:, 1]).astype(int)
    net = Network(
        [Dense(8), ReLU(), Dense(6), Tanh(), Dense(2), Softmax()],
        loss="categorical_crossentropy",
        optimizer=Adam(0.3),
        seed=0,
    )
    diagnostics = Diagnostics(warn=False)
    net.fit(X, y, epochs=6, callbacks=[diagnostics])
    fig = plot_health(diagnostics, title="Health of $y$")
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert [ax.get_title() for ax in axes[:5]] == [
        "Loss",
        "Gradient norm (mean per step)",
        "Update / weight norm (per epoch)",
        "Dead ReLU units (fraction)",
        "Saturated sigmoid/tanh units (fraction)",
    ]
    assert fig._suptitle.get_text() == r"Health of \$y\$"  # drawn as text, not math
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), diagnostics.record["loss"])
    assert _legend_texts(axes[1]) == [
        "layer 1 (8, relu)",
        "layer 2 (6, tanh)",
        "layer 3 (2, softmax)",
    ]
    assert _legend_texts(axes[3]) == ["layer 1 (8, relu)"]
    assert _legend_texts(axes[4]) == ["layer 2 (6, tanh)"]
    np.testing.assert_allclose(
        axes[3].lines[0].get_ydata(), diagnostics.record["layers"][0]["dead"]
    )
    assert axes[1].get_yscale() == "log" and axes[3].get_ylim() == (-0.03, 1.03)
    text = axes[5].texts[0].get_text()
    assert text.startswith("Warnings") and "ReLU units output 0 for every" in text
    assert plot_health(diagnostics.record, tmp_path / "h.png") == tmp_path / "h.png"
    assert _is_png(tmp_path / "h.png")


def test_health_picture_of_a_quiet_run_and_refusals():
    from chainrule import Diagnostics

    X = np.random.default_rng(1).normal(size=(100, 3))
    net = Network([Dense(4), ReLU(), Dense(1)], loss="mse", optimizer="adam", seed=0)
    diagnostics = Diagnostics()
    net.fit(X, X[:, 0], epochs=2, callbacks=[diagnostics])
    fig = plot_health(diagnostics)
    assert fig.axes[5].texts[0].get_text() == "Warnings\n\nNo problem found."
    assert fig.axes[4].texts[0].get_text() == "no sigmoid or tanh layer"
    with pytest.raises(ValueError, match="record must be a Diagnostics callback that watched"):
        plot_health(Diagnostics())
    with pytest.raises(ValueError, match="diagnostics must be a table"):
        plot_health({"epoch": [0]})
