"""The playground's page (chainrule/playground/static), end to end in headless Chromium.

Debian's ``chromium`` (``/usr/bin/chromium``, or ``CHAINRULE_CHROMIUM``) driven by
Playwright's Python package against a running server: load the page, play, watch the
test loss fall on the circle, change the activation, add a layer, upload a CSV, click
an edge for its trace, export the command. Screenshots of the main states go to
``CHAINRULE_SCREENSHOTS`` (a folder) when it is set, else to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from helpers import playground_server

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
CHROMIUM = os.environ.get("CHAINRULE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(
        "no Chromium at /usr/bin/chromium (apt-get install chromium, or set CHAINRULE_CHROMIUM)",
        allow_module_level=True,
    )

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WAIT = 30_000  # ms a step may take before the test fails (not a timing assertion)


@pytest.fixture(scope="module")
def server():
    with playground_server() as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    # Playwright's wait_for_function evaluates strings, which the page's Content
    # Security Policy (no eval) forbids: the tests bypass it; test_the_page_runs_under_its_csp
    # checks the page itself needs no exception.
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.server = server
    yield page
    context.close()
    assert errors == [], f"the page raised: {errors}"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("CHAINRULE_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_page(page, fragment: str = "") -> None:
    page.goto(f"http://127.0.0.1:{page.server.port}/{fragment}")
    page.wait_for_selector("#neuron-1-1")
    page.wait_for_function("document.querySelector('#loss-test').textContent !== '\u2013'")


def loss(page) -> float:
    return float(page.inner_text("#loss-test"))


def session_of(page):
    key = page.evaluate("state.session")
    return page.server.sessions[key]


def test_the_page_runs_under_its_csp(browser, server):
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"http://127.0.0.1:{server.port}/")
    page.wait_for_selector("#neuron-2-2")
    page.wait_for_selector("#dataset-spiral")
    page.click("#step")
    page.wait_for_selector("#health table")
    context.close()
    assert problems == []
    # everything from this server: it works offline
    assert requests and all(url.startswith(f"http://127.0.0.1:{server.port}/") for url in requests)


def test_play_and_the_test_loss_falls_on_the_circle(page, shots):
    open_page(page, "#dataset=circle&hidden=8,8")
    start = loss(page)
    assert start > 0.5
    assert page.locator("#network .neuron:not(.feature)").count() == 8 + 8 + 1
    assert page.locator("#edges path").count() == 2 * 8 + 8 * 8 + 8
    page.click("#play")
    page.wait_for_function(
        f"parseFloat(document.querySelector('#loss-test').textContent) < {start / 4}",
        timeout=WAIT,
    )
    page.click("#play")  # pause
    page.wait_for_function("document.querySelector('#play').dataset.playing === '0'")
    assert int(page.inner_text("#epoch").replace(",", "")) > 0
    assert session_of(page).network.epoch > 0
    # the edges were drawn from the weights: colour by sign, width by size
    widths = page.eval_on_selector_all(
        "#edges path", "paths => paths.map(p => parseFloat(p.getAttribute('stroke-width')))"
    )
    assert len(set(widths)) > 10
    page.screenshot(path=shots / "playground-circle.png", full_page=True)


def test_settings_change_the_network_and_the_address(page, shots):
    open_page(page)
    page.select_option("#activation", "relu")
    page.wait_for_function("location.hash.includes('activation=relu')")
    assert session_of(page).config["activation"] == "relu"
    page.click("#add-layer")
    page.wait_for_function(
        "document.querySelector('#layer-count').textContent === '3 HIDDEN LAYERS'"
    )
    page.wait_for_selector("#neuron-3-2")
    assert session_of(page).config["hidden"] == [4, 2, 2]
    page.click("#add-neuron-1")
    page.wait_for_selector("#neuron-1-5")
    page.click("#feature-x1x2")
    page.wait_for_function("location.hash.includes('features=x1%2Cx2%2Cx1x2')")
    assert session_of(page).network.layers[0].in_features == 3
    page.click("#dataset-plane")
    page.wait_for_function("location.hash.includes('dataset=plane')")
    assert page.inner_text("#problem") == "Regression"
    assert session_of(page).network.loss.name == "mse"
    page.click("#dataset-xor")
    page.wait_for_function("location.hash.includes('dataset=xor')")
    assert page.inner_text("#problem") == "Classification"
    # the whole setup is in the address: a new page opens on it
    address = page.url
    page.goto("about:blank")
    page.goto(address)
    page.wait_for_selector("#neuron-3-2")
    config = session_of(page).config
    assert config["hidden"] == [5, 2, 2] and config["activation"] == "relu"
    assert config["dataset"] == "xor" and config["features"] == ["x1", "x2", "x1x2"]
    # a refused setting is shown in the page
    page.evaluate("configure({learning_rate: 100})")
    page.wait_for_selector("#error:not(.hidden)")
    assert "learning_rate must be > 0 and <= 10" in page.inner_text("#error")
    page.screenshot(path=shots / "playground-settings.png", full_page=True)


def test_upload_a_csv_and_train_three_classes(page, shots, tmp_path):
    from sklearn.datasets import load_iris

    iris = load_iris()
    lines = ["sepal_length,sepal_width,petal_length,petal_width,species"]
    for row, label in zip(iris.data, iris.target, strict=True):
        lines.append(",".join(map(str, row)) + "," + iris.target_names[label])
    path = tmp_path / "iris.csv"
    path.write_text("\n".join(lines) + "\n")
    open_page(page)
    page.set_input_files("#csv-file", str(path))
    page.wait_for_selector("#csv-panel:not(.hidden)")
    page.wait_for_selector("#neuron-3-3")  # three output neurons, one per class
    assert "iris.csv: 150 rows" in page.inner_text("#csv-name")
    page.select_option("#csv-x", "petal_length")
    page.select_option("#csv-y", "petal_width")
    page.click("#csv-use")
    page.wait_for_function("location.hash.includes('x_column=petal_length')")
    # the map's columns have the features too: petal_length x petal_width as an input
    assert page.inner_text("#feature-x1x2") == "petal_length\u00b7petal_width"
    page.click("#feature-x1x2")
    page.wait_for_function("location.hash.includes('features=x1%2Cx2%2Cx1x2')")
    assert session_of(page).network.layers[0].in_features == 3
    assert page.inner_text("#legend").split() == ["setosa", "versicolor", "virginica"]
    start = loss(page)
    page.click("#play")
    page.wait_for_function(
        f"parseFloat(document.querySelector('#loss-test').textContent) < {start / 2}",
        timeout=WAIT,
    )
    page.click("#play")
    page.screenshot(path=shots / "playground-csv.png", full_page=True)
    # a file that is not a table: the page says why
    bad = tmp_path / "bad.csv"
    bad.write_text("only one column\n1\n2\n")
    page.set_input_files("#csv-file", str(bad))
    page.wait_for_selector("#error:not(.hidden)")
    assert "the first row must name at least 2 columns" in page.inner_text("#error")


def test_click_an_edge_for_its_trace_then_export(page, shots):
    open_page(page, "#hidden=4,2")
    page.click("#step")
    page.wait_for_function("document.querySelector('#epoch').textContent === '000,001'")
    page.click("#map", position={"x": 150, "y": 150})
    page.dispatch_event("#edge-2-3-1", "click")
    page.wait_for_selector("#trace .gradient")
    text = page.inner_text("#trace")
    assert "weights_2[3, 1]" in text
    gradient = re.search(r"derror/dweights_2\[3, 1\] = (\S+),", text)
    assert gradient, text
    # the trace's numbers are the engine's: the product of the factors shown
    assert "derror_dweights_2[3, 1]" in text and "dlayer3_dweights" in text
    page.click("#neuron-1-2")
    page.wait_for_function(
        "document.querySelector('#trace').textContent.includes('Neuron 2 of layer 1')"
    )
    # what the unit computes, with its weights: tanh(w1·X₁ + w2·X₂ + b)
    assert re.search(
        "Neuron h1\\.2 computes tanh\\(\\S+·X₁ [+\u2212] \\S+·X₂ [+\u2212] \\S+\\)",
        page.inner_text("#trace"),
    )
    assert page.inner_text("#map-label") == "Layer 1, neuron 2"
    # reset: new weights from the same seed, epoch 0
    page.click("#reset")
    page.wait_for_function("document.querySelector('#epoch').textContent === '000,000'")
    assert session_of(page).network.epoch == 0
    page.click("#export-command")
    page.wait_for_selector("#command-text")
    command = page.inner_text("#command-text")
    assert command.startswith("chainrule train playground-data.csv --target label")
    assert "--hidden 4,2 --activation tanh" in command and "--epochs 1 " in command  # at least 1
    assert "hidden = [4, 2]" in page.inner_text("#toml-text")
    assert "network.fit(" in page.inner_text("#python-text")
    assert page.get_attribute("#download-model", "href").endswith("what=model")
    page.screenshot(path=shots / "playground-trace.png", full_page=True)
