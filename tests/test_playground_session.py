"""A playground session (chainrule.playground.session): checked settings, the data and
the network they make, the training thread's play / pause / step / reset, frames, the
health record, the trace and the export."""

from __future__ import annotations

import base64
import threading
import time

import numpy as np
import pytest

from chainrule import Network
from chainrule.playground.datasets import GRID, read_table
from chainrule.playground.session import MAX_HISTORY, Session
from chainrule.playground.settings import check_config

DEADLINE = 60.0


def wait_until(condition, what):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"not {what} within {DEADLINE} s")


@pytest.fixture
def session():
    made = []

    def make(**config):
        made.append(Session(check_config(config)))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_the_network_and_the_first_frame(session):
    s = session(hidden=[3, 2], features=["x1", "x2", "x1x2"], activation="relu")
    network = s.network
    assert [layer.units for layer in network.layers if hasattr(layer, "units")] == [3, 2, 1]
    assert network.loss.name == "binary_crossentropy" and network.optimizer.name == "sgd"
    assert network.optimizer.learning_rate == 0.03
    frame = s.frame
    assert frame["epoch"] == 0 and frame["playing"] is False
    assert [len(layer) for layer in frame["neurons"]] == [3, 3, 2]
    heat = np.frombuffer(base64.b64decode(frame["neurons"][2][0]), np.uint8)
    assert heat.size == GRID * GRID
    # the neuron's heatmap is its activation on the grid (relu: 0 or more -> bytes >= 127)
    grid_output = s.data.grid_X
    for layer in network.layers[:4]:
        grid_output = layer(grid_output)
    expected = np.round((np.clip(grid_output[:, 0], -1, 1) + 1) * 127.5).astype(np.uint8)
    np.testing.assert_array_equal(heat, expected)
    assert frame["train_loss"] == pytest.approx(
        network.evaluate(s.data.X_train, s.data.y_train)["loss"]
    )


def test_step_pause_play_reset(session):
    s = session(hidden=[2])
    start = s.network.params.copy()
    s.control("step")
    wait_until(lambda: s.frame["epoch"] == 1 and not s.playing, "one epoch")
    time.sleep(0.1)
    assert s.network.epoch == 1  # one step runs one epoch, then waits
    s.control("step")
    wait_until(lambda: s.frame["epoch"] == 2, "a second epoch")
    s.control("play")
    wait_until(lambda: s.frame["epoch"] > 5, "epochs while playing")
    s.control("pause")
    wait_until(lambda: not s.frame["playing"], "paused")
    paused = s.network.epoch
    time.sleep(0.2)
    assert s.network.epoch == paused
    assert len(s.history) >= 3 and s.history[0][0] == 0
    s.control("reset")
    assert s.network.epoch == 0 and s.frame["epoch"] == 0 and s.history == [s.history[0]]
    np.testing.assert_array_equal(s.network.params, start)  # the same seed: the same start
    assert threading.active_count() < 50


def test_live_settings_reach_the_running_network(session):
    s = session(hidden=[2])
    generation = s.generation
    s.configure(
        {**s.config, "learning_rate": 1, "batch_size": 25, "regularization": "l1", "reg_rate": 0.01}
    )
    assert s.generation == generation
    assert s.network.optimizer.learning_rate == 1 and s.batches.batch_size == 25
    assert s.network.l1 == 0.01 and s.network.l2 == 0
    s.configure({**s.config, "regularization": "l2"})
    assert s.network.l1 == 0 and s.network.l2 == 0.01
    s.configure({**s.config, "optimizer": "adam"})
    assert s.generation == generation + 1 and s.network.optimizer.name == "adam"


def test_health_from_diagnostics_and_a_trimmed_record(session):
    s = session(hidden=[8, 8], activation="relu", learning_rate=3, speed=0)
    s.control("play")
    wait_until(lambda: s.network.epoch >= 120, "120 epochs")
    s.control("pause")
    health = s.health()
    assert [row["layer"] for row in health["layers"]] == [1, 2, 3]
    assert {"dead", "update_ratio", "grad_norm"} <= set(health["layers"][0])
    assert len(s.diagnostics.record["epoch"]) <= 100  # kept short while training runs
    # a rate of 3 with relu kills units: the record says so, with a fix
    assert any("ReLU units output 0" in w or "loss" in w for w in health["warnings"])


def test_history_is_thinned_past_its_cap(session, monkeypatch):
    s = session(hidden=[1], speed=0)
    monkeypatch.setattr("chainrule.playground.session.MAX_HISTORY", 10)
    s.control("play")
    wait_until(lambda: s.network.epoch > 40, "40 epochs")
    s.control("pause")
    assert len(s.history) <= 11
    assert MAX_HISTORY == 2000


def test_a_diverging_run_is_reported_not_raised(session):
    s = session(dataset="plane", hidden=[8, 8], activation="linear", learning_rate=10)
    s.control("play")
    wait_until(lambda: s.frame["error"] is not None, "an error in the frame")
    assert "training diverged" in s.frame["error"]
    assert s.frame["playing"] is False
    s.control("reset")  # and the session goes on
    assert s.frame["error"] is None


def test_csv_session_multiclass_and_slice_at_the_means():
    rows = ["u,v,w,label"]
    rng = np.random.default_rng(0)
    for _ in range(90):
        u, v, w = rng.normal(size=3) * [10, 1, 5] + [100, 0, 0]
        label = "a" if u < 95 else ("b" if v < 0 else "c")
        rows.append(f"{u},{v},{w},{label}")
    table = read_table("\n".join(rows).encode())
    config = check_config(
        {"dataset": "csv", "x_column": "u", "y_column": "v", "target": "label", "inputs": ["w"]},
        table,
    )
    s = Session(config, table)
    try:
        assert s.network.loss.name == "categorical_crossentropy"
        assert s.network.n_outputs == 3 and s.data.classes == ["a", "b", "c"]
        # inputs standardised; the map's grid holds w at its mean (0 once standardised)
        assert abs(s.data.X_train[:, 0].mean()) < 0.5 and s.data.X_train[:, 0].std() > 0.5
        np.testing.assert_array_equal(s.data.grid_X[:, 2], 0.0)
        assert s.data.input_names == ["u", "v", "w"]
        assert s.frame["output"]["kind"] == "multiclass"
        csv_text = s.data_csv().splitlines()
        assert csv_text[0] == "u,v,w,label"
        assert s.command()["command"].startswith(
            "chainrule train playground-data.csv --target label"
        )
        # the trace of a data point backpropagates its class; a weight into class c
        trace = s.trace({"index": 0, "split": "train", "weight": [3, 1, 3]})
        assert np.ravel(trace["target"]).tolist() == [s.data.y_train[0]]
        assert trace["weight"]["weight"] == "weights_3[1, 3]"
        assert trace["input_names"] == ["u", "v", "w"]
    finally:
        s.close()


def test_snapshot_is_the_last_frame(session):
    s = session(hidden=[2])
    s.control("step")
    wait_until(lambda: s.frame["epoch"] == 1, "one epoch")
    snapshot = s.snapshot()
    assert isinstance(snapshot, Network) and snapshot is not s.network
    np.testing.assert_array_equal(snapshot.params, s.network.params)
    assert snapshot.epoch == 1


def test_speed_caps_the_epochs_a_second(session):
    s = session(hidden=[2], speed=1)
    s.control("play")
    time.sleep(0.5)
    s.control("pause")
    assert s.network.epoch <= 2  # at most one epoch a second (and the first at once)
    s.configure({**s.config, "speed": 0})  # live: no new network
    assert s.network.epoch >= 1 and s.config["speed"] == 0
