"""The playground's HTTP server (chainrule.playground.server), through real HTTP on
127.0.0.1: the page and its files, the Host and origin checks, settings refused with a
clear message, the frame stream, sessions, CSV uploads, the trace and the exports."""

from __future__ import annotations

import base64
import csv
import http.client
import io
import json
import os
import shlex
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import chainrule
from chainrule.playground.datasets import GRID
from chainrule.playground.server import MAX_BODY, MAX_SESSIONS
from helpers import playground_server

DEADLINE = 60.0  # seconds a test waits for training before it fails (not a timing test)


@pytest.fixture(scope="module")
def server():
    with playground_server() as server:
        yield server


def request(server, method, path, body=None, headers=None, raw=None):
    """``(status, headers, body)``; JSON bodies decoded."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    head = {"Host": f"127.0.0.1:{server.port}"}
    if body is not None:
        raw = json.dumps(body).encode()
        head["Content-Type"] = "application/json"
    head.update(headers or {})
    connection.request(method, path, body=raw, headers=head)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    if response.getheader("Content-Type", "").startswith("application/json"):
        data = json.loads(data)
    return response.status, response.headers, data


def post(server, path, body, status=200):
    code, _, data = request(server, "POST", path, body)
    assert code == status, data
    return data


def new_session(server, **config):
    return post(server, "/api/session", {"config": config})


class Stream:
    """The frames of a session's event stream, read in a thread."""

    def __init__(self, server, session, fps=30):
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.connection.request(
            "GET",
            f"/api/stream?session={session}&fps={fps}",
            headers={"Host": f"127.0.0.1:{server.port}"},
        )
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type") == "text/event-stream"

    def frame(self):
        while True:
            line = self.response.fp.readline()
            if not line:
                raise EOFError("the stream ended")
            if line.startswith(b"data: "):
                return json.loads(line[6:])

    def until(self, condition, what):
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            frame = self.frame()
            if condition(frame):
                return frame
        raise AssertionError(f"no frame with {what} in {DEADLINE} s")

    def close(self):
        self.connection.close()


# ---------------------------------------------------------------- the page


def test_page_and_static_files_served_from_the_package(server):
    status, headers, body = request(server, "GET", "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'<script src="/static/app.js"' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        status, headers, body = request(server, "GET", f"/static/{name}")
        assert status == 200 and headers["Content-Type"].startswith(kind) and len(body) > 1000
    # nothing from another host: no CDN, no http(s) URL the page would load
    for name in ("index.html", "app.js", "style.css"):
        text = request(server, "GET", f"/static/{name}")[2].decode()
        assert "cdn" not in text.lower()
        assert 'src="http' not in text and 'href="http' not in text and "url(http" not in text
    status, _, data = request(server, "GET", "/static/../server.py")
    assert status == 404 and "no such file" in data["error"]


def test_thumbnails_of_the_six_sets(server):
    status, _, data = request(server, "GET", "/api/datasets")
    assert status == 200
    assert set(data) == {"circle", "xor", "gauss", "spiral", "plane", "multigauss"}
    assert all(len(points) == 100 and len(points[0]) == 3 for points in data.values())


# ---------------------------------------------------------------- safety


@pytest.mark.parametrize("host", ["evil.example:80", "127.0.0.1", "localhost:1", ""])
def test_a_foreign_host_header_is_refused(server, host):
    for method, path, body in (
        ("GET", "/", None),
        ("POST", "/api/session", {"config": {}}),
    ):
        status, _, data = request(server, method, path, body, headers={"Host": host})
        assert status == 403
        assert "is not this server's local address" in data["error"]


def test_localhost_host_header_is_accepted(server):
    status, _, _ = request(server, "GET", "/", headers={"Host": f"localhost:{server.port}"})
    assert status == 200


def test_cross_site_requests_are_refused(server):
    status, _, data = request(
        server, "POST", "/api/session", {"config": {}}, headers={"Origin": "https://evil.example"}
    )
    assert status == 403 and "another origin" in data["error"]
    status, _, data = request(
        server, "POST", "/api/session", {"config": {}}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert status == 403 and "another site" in data["error"]
    # a "simple" cross-site POST (no preflight) cannot send application/json
    status, _, data = request(
        server,
        "POST",
        "/api/session",
        raw=b'{"config": {}}',
        headers={"Content-Type": "text/plain"},
    )
    assert status == 415 and "application/json" in data["error"]
    # the page's own origin passes
    status, _, data = request(
        server,
        "POST",
        "/api/session",
        {"config": {}},
        headers={"Origin": f"http://127.0.0.1:{server.port}"},
    )
    assert status == 200 and data["session"]


@pytest.mark.parametrize(
    "config, message",
    [
        ({"hidden": [9]}, "hidden must be a list of at most 6 layer sizes, each from 1 to 8"),
        ({"hidden": [1] * 7}, "hidden must be a list of at most 6 layer sizes"),
        ({"activation": "swish"}, "activation must be one of tanh, relu"),
        ({"learning_rate": -1}, "learning_rate must be > 0 and <= 10; received -1"),
        ({"learning_rate": "fast"}, "learning_rate must be a number; received 'fast'"),
        ({"features": []}, "features must be a non-empty list"),
        ({"noise": 51}, "noise must be a whole number from 0 to 50; received 51"),
        ({"batch_size": 0}, "batch_size must be a whole number from 1 to 100"),
        ({"dataset": "moons"}, "dataset must be one of circle, xor"),
        ({"dataset": "csv"}, "dataset 'csv' needs a CSV file: upload one first"),
        ({"colour": "red"}, "unknown setting(s) colour"),
        ({"regularization": "l3"}, "regularization must be one of none, l1, l2"),
    ],
)
def test_a_bad_setting_is_a_clear_400(server, config, message):
    status, _, data = request(server, "POST", "/api/session", {"config": config})
    assert status == 400
    assert message in data["error"]


def test_bad_requests_answer_and_the_server_lives_on(server):
    status, _, data = request(
        server,
        "POST",
        "/api/session",
        raw=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert status == 400 and "not valid JSON" in data["error"]
    status, _, data = request(
        server,
        "POST",
        "/api/upload",
        raw=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": str(MAX_BODY + 1)},
    )
    assert status == 413 and "the most is" in data["error"]
    status, _, data = request(server, "POST", "/api/control", {"session": "nope", "action": "play"})
    assert status == 404 and "reload the page" in data["error"]
    key = new_session(server)["session"]
    status, _, data = request(server, "POST", "/api/control", {"session": key, "action": "jump"})
    assert status == 400 and "action must be play, pause, step or reset" in data["error"]
    status, _, data = request(server, "GET", f"/api/stream?session={key}&fps=1000")
    assert status == 400 and "fps must be a whole number from 1 to 30" in data["error"]
    status, _, data = request(server, "GET", f"/api/export?session={key}&what=pdf")
    assert status == 400 and "what must be command, data or model" in data["error"]
    assert request(server, "GET", "/")[0] == 200


# ---------------------------------------------------------------- training and frames


def decoded(b64):
    return np.frombuffer(base64.b64decode(b64), dtype=np.uint8)


def test_frames_have_the_network_shapes_and_the_loss_falls_on_the_circle(server):
    setup = new_session(server, hidden=[8, 8], dataset="circle", speed=0)
    key = setup["session"]
    assert setup["layers"] == [2, 8, 8, 1]
    assert len(setup["data"]["train"]) == 250 and len(setup["data"]["test"]) == 250
    stream = Stream(server, key)
    first = stream.frame()
    assert first["epoch"] == 0 and first["history"] == [
        [0, first["train_loss"], first["test_loss"]]
    ]
    # one heatmap per input and hidden neuron, GRID x GRID values each
    assert [len(layer) for layer in first["neurons"]] == [2, 8, 8]
    assert all(decoded(m).size == GRID * GRID for layer in first["neurons"] for m in layer)
    assert decoded(first["output"]["values"]).size == GRID * GRID
    assert first["output"]["kind"] == "binary"
    shapes = [np.shape(w) for w in first["weights"]]
    assert shapes == [(2, 8), (8, 8), (8, 1)]
    assert [len(b) for b in first["biases"]] == [8, 8, 1]
    post(server, "/api/control", {"session": key, "action": "play"})
    last = stream.until(
        lambda f: f["test_loss"] < 0.5 * first["test_loss"] and f["epoch"] > 0,
        "the test loss halved",
    )
    assert last["playing"] is True
    assert last["health"]["layers"][0]["units"] == 8
    post(server, "/api/control", {"session": key, "action": "pause"})
    stream.close()


def test_step_is_one_epoch_and_reset_gives_the_same_start(server):
    setup = new_session(server, hidden=[3])
    key = setup["session"]
    stream = Stream(server, key)
    start = stream.frame()
    post(server, "/api/control", {"session": key, "action": "step"})
    stepped = stream.until(lambda f: f["epoch"] >= 1, "epoch 1")
    assert stepped["epoch"] == 1 and stepped["steps"] == 25  # 250 rows, batches of 10
    assert stepped["weights"] != start["weights"]
    post(server, "/api/control", {"session": key, "action": "reset"})
    reset = stream.until(lambda f: f["generation"] != start["generation"], "a new network")
    assert reset["epoch"] == 0 and reset["weights"] == start["weights"]  # same seed
    assert reset["history"] == [[0, start["train_loss"], start["test_loss"]]]
    stream.close()


def test_two_sessions_train_independently(server):
    a = new_session(server, hidden=[4], speed=0)["session"]
    b = new_session(server, hidden=[2, 2], activation="relu")["session"]
    stream_a, stream_b = Stream(server, a), Stream(server, b)
    first_b = stream_b.frame()
    post(server, "/api/control", {"session": a, "action": "play"})
    stream_a.until(lambda f: f["epoch"] >= 5, "epoch 5")
    post(server, "/api/control", {"session": a, "action": "pause"})
    session_a, session_b = server.sessions[a], server.sessions[b]
    assert session_b.network.epoch == 0 and session_b.frame["weights"] == first_b["weights"]
    assert session_a.network.epoch >= 5
    assert [np.shape(w) for w in session_b.frame["weights"]] == [(2, 2), (2, 2), (2, 1)]
    # one training thread per session, however often play is pressed
    for _ in range(5):
        post(server, "/api/control", {"session": b, "action": "play"})
    name = f"chainrule-playground-{id(session_b):x}"
    assert [t.name for t in threading.enumerate()].count(name) == 1
    post(server, "/api/control", {"session": b, "action": "pause"})
    stream_a.close()
    stream_b.close()


def test_live_settings_keep_the_network_others_make_a_new_one(server):
    setup = new_session(server)
    key, config = setup["session"], setup["config"]
    live = post(server, "/api/config", {"session": key, "config": {**config, "learning_rate": 0.3}})
    assert live["generation"] == setup["generation"]
    assert server.sessions[key].network.optimizer.learning_rate == 0.3
    new = post(server, "/api/config", {"session": key, "config": {**config, "activation": "relu"}})
    assert new["generation"] == setup["generation"] + 1
    assert new["layers"] == [2, 4, 2, 1]
    more = post(
        server,
        "/api/config",
        {
            "session": key,
            "config": {**new["config"], "hidden": [4, 2, 2], "features": ["x1", "x2", "x1x2"]},
        },
    )
    assert more["layers"] == [3, 4, 2, 2, 1]
    status, _, data = request(
        server, "POST", "/api/config", {"session": key, "config": {**config, "hidden": [0]}}
    )
    assert status == 400 and "each from 1 to 8" in data["error"]
    assert server.sessions[key].config["hidden"] == [4, 2, 2]  # refused: nothing changed


def test_a_closed_stream_and_a_reload_leave_the_server_running(server):
    key = new_session(server, hidden=[8, 8])["session"]
    post(server, "/api/control", {"session": key, "action": "play"})
    stream = Stream(server, key)
    stream.frame()
    stream.response.fp.raw._sock.close()  # the tab is closed mid-stream
    stream.close()
    # the page is reloaded: a new session, the old one keeps its thread until paused
    again = new_session(server, hidden=[8, 8])["session"]
    stream = Stream(server, again)
    assert stream.frame()["epoch"] == 0
    stream.close()
    post(server, "/api/control", {"session": key, "action": "pause"})
    assert request(server, "GET", "/")[0] == 200


def test_sessions_beyond_the_cap_drop_the_oldest(server):
    keys = [new_session(server, hidden=[1])["session"] for _ in range(MAX_SESSIONS + 1)]
    assert len(server.sessions) == MAX_SESSIONS
    status, _, data = request(
        server, "POST", "/api/control", {"session": keys[0], "action": "step"}
    )
    assert status == 404 and "reload the page" in data["error"]
    assert (
        post(server, "/api/control", {"session": keys[-1], "action": "pause"})["playing"] is False
    )


# ---------------------------------------------------------------- CSV files


def iris_csv() -> str:
    from sklearn.datasets import load_iris

    iris = load_iris()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["sepal_length", "sepal_width", "petal_length", "petal_width", "species"])
    for row, label in zip(iris.data, iris.target, strict=True):
        writer.writerow([*row, iris.target_names[label]])
    return out.getvalue()


def test_upload_a_csv_pick_columns_and_train_three_classes(server):
    key = new_session(server)["session"]
    upload = post(server, "/api/upload", {"session": key, "name": "iris.csv", "text": iris_csv()})
    assert upload["table"]["rows"] == 150
    assert [c["numeric"] for c in upload["table"]["columns"]] == [True, True, True, True, False]
    suggested = upload["suggested"]
    assert suggested["target"] == "species" and suggested["task"] == "classify"
    config = {
        **suggested,
        "x_column": "petal_length",
        "y_column": "petal_width",
        "inputs": ["sepal_length"],
        "hidden": [4],
        "speed": 0,
    }
    setup = post(server, "/api/config", {"session": key, "config": config})
    assert setup["layers"] == [3, 4, 3]
    assert setup["data"]["classes"] == ["setosa", "versicolor", "virginica"]
    assert setup["data"]["inputs"] == ["petal_length", "petal_width", "sepal_length"]
    # the map spans the two columns' range
    low, high = setup["data"]["domain"][0], setup["data"]["domain"][1]
    assert low < 1.0 and high > 6.9
    stream = Stream(server, key)
    first = stream.frame()
    assert first["output"]["kind"] == "multiclass"
    assert set(decoded(first["output"]["classes"])) <= {0, 1, 2}
    # one heatmap per class; the probabilities sum to 1 at every point of the map
    units = np.array([decoded(u) for u in first["output"]["units"]], dtype=float)
    assert units.shape == (3, GRID * GRID)
    np.testing.assert_allclose((units / 255).sum(axis=0), 1.0, atol=3 / 255)
    post(server, "/api/control", {"session": key, "action": "play"})
    stream.until(lambda f: f["test_loss"] < 0.6 * first["test_loss"], "the test loss falling")
    post(server, "/api/control", {"session": key, "action": "pause"})
    stream.close()
    # a regression target
    config = {**config, "target": "sepal_width", "task": "regress", "inputs": []}
    setup = post(server, "/api/config", {"session": key, "config": config})
    assert setup["layers"] == [2, 4, 1] and setup["data"]["task"] == "regress"


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b\nx,1\ny,2\n", "has 1 numeric column(s); the map needs 2"),
        ("a,b,c\n1,2,3\n4,5\n6,7,8\n", "line 3 has 2 values, the header 3"),
        ("a,b\n1,2\n", "needs a header row and at least 2 rows"),
        ("a,a,b\n1,2,3\n4,5,6\n", "each once and none empty"),
        (
            "x,y,label\n1,2,a\n3,4,b\n5,6,c\n7,8,d\n9,1,e\n2,3,f\n4,5,g\n6,7,h\n8,9,i\n1,1,j\n2,2,k\n",
            None,
        ),
    ],
)
def test_a_bad_csv_is_a_clear_400(server, text, message):
    key = new_session(server)["session"]
    if message is not None:
        status, _, data = request(
            server, "POST", "/api/upload", {"session": key, "name": "bad.csv", "text": text}
        )
        assert status == 400 and message in data["error"]
        return
    # a readable file with a target of 11 classes: refused when used as classes
    upload = post(server, "/api/upload", {"session": key, "name": "many.csv", "text": text})
    status, _, data = request(
        server, "POST", "/api/config", {"session": key, "config": upload["suggested"]}
    )
    assert status == 400 and "has 11 distinct values; classification takes 2 to 10" in data["error"]


# ---------------------------------------------------------------- trace and export


def test_trace_of_a_point_is_the_engine_gradient(server):
    key = new_session(server, hidden=[3, 2])["session"]
    stream = Stream(server, key)
    stream.frame()
    post(server, "/api/control", {"session": key, "action": "step"})
    stream.until(lambda f: f["epoch"] == 1, "epoch 1")
    stream.close()
    trace = post(
        server, "/api/trace", {"session": key, "index": 3, "split": "test", "weight": [2, 3, 1]}
    )
    session = server.sessions[key]
    network = session.snapshot()
    x = session.data.X_test[3:4]
    y = session.data.y_test[3:4]
    assert np.ravel(trace["target"]).tolist() == [float(y[0])]
    _, grads = network.loss_and_gradient(network.params, x, y)
    expected = network.unflatten(grads)[2][2, 0]  # weights_2[3, 1], counted from 1
    assert trace["weight"]["weight"] == "weights_2[3, 1]"
    assert trace["weight"]["gradient"] == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert trace["values"]["input_vector"] == pytest.approx(x[0].tolist())
    assert trace["values"]["prediction"] == pytest.approx(float(network.predict(x)[0, 0]))
    # a point of the map, no target: the model's own class
    trace = post(server, "/api/trace", {"session": key, "point": [1.5, -2.0]})
    assert trace["point"] == [1.5, -2.0] and "weight" not in trace
    for body, message in (
        ({"point": [1, "a"]}, "point must be two numbers"),
        ({"index": 999, "split": "test"}, "index must be a whole number from 0 to 249"),
        ({"point": [0, 0], "weight": [4, 1, 1]}, "weight must be [layer, from, to]"),
        ({"point": [0, 0], "weight": [1, 3, 1]}, "within the network 2-3-2-1"),
    ):
        status, _, data = request(server, "POST", "/api/trace", {"session": key, **body})
        assert status == 400 and message in data["error"], data


def test_export_command_toml_data_and_model(server, tmp_path):
    setup = new_session(
        server,
        hidden=[5, 3],
        features=["x1", "x2", "x1sq"],
        activation="relu",
        regularization="l1",
        reg_rate=0.003,
    )
    key = setup["session"]
    stream = Stream(server, key)
    stream.frame()
    post(server, "/api/control", {"session": key, "action": "step"})
    stream.until(lambda f: f["epoch"] == 1, "epoch 1")
    stream.close()
    status, _, exported = request(server, "GET", f"/api/export?session={key}&what=command")
    assert status == 200
    command = exported["command"]
    assert "--hidden 5,3 --activation relu --optimizer sgd --learning-rate 0.03" in command
    assert "--epochs 1 " in command
    assert "--l2 0.0 --l1 0.003 " in command  # the page's L1, as chainrule train takes it
    assert "hidden = [5, 3]" in exported["toml"] and "\nl1 = 0.003\n" in exported["toml"]
    assert not any("L1" in note for note in exported["notes"])
    status, headers, data = request(server, "GET", f"/api/export?session={key}&what=data")
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0] == ["x1", "x2", "x1sq", "label"] and len(rows) == 501
    (tmp_path / "playground-data.csv").write_bytes(data)
    status, _, model = request(server, "GET", f"/api/export?session={key}&what=model")
    assert status == 200
    (tmp_path / "model.npz").write_bytes(model)
    network = chainrule.load(tmp_path / "model.npz")
    assert [layer.units for layer in network.layers if hasattr(layer, "units")] == [5, 3, 1]
    np.testing.assert_array_equal(network.params, server.sessions[key].snapshot().params)
    # the exported command trains the same hidden layers on the exported data
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", *shlex.split(command)[1:], "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    trained = chainrule.load(tmp_path / "playground-model.npz")
    layers = trained.network_.layers
    units = [layer.units for layer in layers if hasattr(layer, "units")]
    assert units == [5, 3, 2]  # two classes: a softmax over 2 outputs, as a sigmoid over 1
    assert layers[1].name == "relu"
    assert trained.network_.l1 == server.sessions[key].network.l1 == 0.003
    assert trained.network_.l2 == 0.0
    (tmp_path / "playground.toml").write_text(exported["toml"])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chainrule",
            "train",
            "playground-data.csv",
            "--config",
            "playground.toml",
            "--out",
            "m2.npz",
            "--quiet",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    from_toml = chainrule.load(tmp_path / "m2.npz")
    assert from_toml.hidden == [5, 3] and from_toml.network_.l1 == 0.003


def test_a_page_that_reads_nothing_slows_nothing(server):
    key = new_session(server, hidden=[8, 8], speed=0)["session"]
    stream = Stream(server, key, fps=30)  # never read: its socket's buffers fill up
    session = server.sessions[key]
    post(server, "/api/control", {"session": key, "action": "play"})
    deadline = time.monotonic() + DEADLINE
    while session.network.epoch < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session.network.epoch >= 300  # training went on without the page
    assert request(server, "GET", f"/api/setup?session={key}")[0] == 200
    post(server, "/api/control", {"session": key, "action": "pause"})
    # the stale reader still gets the newest frame, not a backlog
    frame = stream.frame()
    assert frame["generation"] == session.generation
    stream.close()


def test_a_closed_tab_is_paused_after_a_while(server):
    key = new_session(server, hidden=[2])["session"]
    post(server, "/api/control", {"session": key, "action": "play"})
    session = server.sessions[key]
    assert server.pause_abandoned(time.monotonic()) == 0  # just used: left alone
    assert session.playing
    assert server.pause_abandoned(time.monotonic() + 3600) >= 1  # an hour without its page
    assert not session.playing


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_exported_python_trains_the_same_weights(server, tmp_path, optimizer):
    config = {
        "dataset": "xor",
        "noise": 10,
        "hidden": [4, 3],
        "features": ["x1", "x2", "sinx1"],
        "activation": "relu",
        "optimizer": optimizer,
        "regularization": "l1",
        "reg_rate": 0.001,
        "batch_size": 7,
        "train_percent": 60,
        "seed": 5,
    }
    key = new_session(server, **config)["session"]
    stream = Stream(server, key)
    stream.frame()
    for epoch in (1, 2, 3):
        post(server, "/api/control", {"session": key, "action": "step"})
        stream.until(lambda f, e=epoch: f["epoch"] == e, f"epoch {epoch}")
    stream.close()
    exported = request(server, "GET", f"/api/export?session={key}&what=command")[2]
    (tmp_path / "playground-data.csv").write_bytes(
        request(server, "GET", f"/api/export?session={key}&what=data")[2]
    )
    code = exported["python"]
    assert "l1=0.001" in code and "epochs=3, batch_size=7" in code
    namespace: dict = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "exported.py", "exec"), namespace)  # prints the test loss
    finally:
        os.chdir(cwd)
    # the same inputs, split, seed and batches: the same weights, bit for bit
    np.testing.assert_array_equal(namespace["network"].params, server.sessions[key].network.params)


def test_exported_python_for_a_csv_file(server, tmp_path):
    key = new_session(server)["session"]
    upload = post(server, "/api/upload", {"session": key, "name": "iris.csv", "text": iris_csv()})
    config = {
        **upload["suggested"],
        "inputs": ["petal_width"],
        "hidden": [3],
        "features": ["x1", "x2", "x1x2"],
    }
    post(server, "/api/config", {"session": key, "config": config})
    stream = Stream(server, key)
    stream.frame()
    post(server, "/api/control", {"session": key, "action": "step"})
    stream.until(lambda f: f["epoch"] == 1, "epoch 1")
    stream.close()
    exported = request(server, "GET", f"/api/export?session={key}&what=command")[2]
    assert "--l2 0.0 --seed" in exported["command"]  # no L1 chosen: no --l1
    assert "l1" not in exported["toml"]
    data = request(server, "GET", f"/api/export?session={key}&what=data")[2].decode()
    assert data.splitlines()[0] == (
        "sepal_length,sepal_width,sepal_length_times_sepal_width,petal_width,species"
    )
    (tmp_path / "playground-data.csv").write_text(data)
    namespace: dict = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(exported["python"], "exported.py", "exec"), namespace)
    finally:
        os.chdir(cwd)
    session = server.sessions[key]
    np.testing.assert_allclose(namespace["X_train"], session.data.X_train, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        namespace["network"].params, session.network.params, rtol=1e-9, atol=1e-12
    )


def test_a_real_file_with_missing_values_round_trips_through_the_export(server, tmp_path):
    from pathlib import Path

    penguins = (Path(__file__).parents[1] / "examples" / "penguins.csv").read_text()
    key = new_session(server)["session"]
    upload = post(server, "/api/upload", {"session": key, "name": "penguins.csv", "text": penguins})
    suggested = upload["suggested"]
    assert suggested["target"] == "species" and suggested["x_column"] == "bill_length_mm"
    config = {**suggested, "inputs": ["flipper_length_mm"], "hidden": [4], "seed": 1}
    setup = post(server, "/api/config", {"session": key, "config": config})
    assert setup["data"]["dropped"] == 2  # the rows without measurements
    assert len(setup["data"]["train"]) + len(setup["data"]["test"]) == 342
    stream = Stream(server, key)
    stream.frame()
    for epoch in (1, 2):
        post(server, "/api/control", {"session": key, "action": "step"})
        stream.until(lambda f, e=epoch: f["epoch"] == e, f"epoch {epoch}")
    stream.close()
    trace = post(server, "/api/trace", {"session": key, "index": 0, "split": "test"})
    assert len(trace["values"]["prediction"]) == 3
    exported = request(server, "GET", f"/api/export?session={key}&what=command")[2]
    (tmp_path / "playground-data.csv").write_bytes(
        request(server, "GET", f"/api/export?session={key}&what=data")[2]
    )
    namespace: dict = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(exported["python"], "exported.py", "exec"), namespace)
    finally:
        os.chdir(cwd)
    np.testing.assert_allclose(
        namespace["network"].params, server.sessions[key].network.params, rtol=1e-9, atol=1e-12
    )
