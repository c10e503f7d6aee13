"""The playground's frame rate: frames a second that reach a page while a network trains.

    python -m benchmarks.playground_fps                 # 2-8-8-1 on the circle, 5 s
    python -m benchmarks.playground_fps --speed 0       # training as fast as it goes
    python -m benchmarks.playground_fps --browser       # also in headless Chromium

A Python client reads the Server-Sent Events stream of a playing session and counts the
frames; with ``--browser``, Debian's Chromium (Playwright) opens the page, presses play
and counts the frames the page drew (``state.frames``). Prints one JSON line per client:
frames a second, kilobytes a frame, epochs a second.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import threading
import time

from chainrule.playground.server import make_server

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _post(port: int, path: str, body: dict) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    data = json.loads(connection.getresponse().read())
    connection.close()
    return data


def python_client(port: int, hidden: list[int], speed: int, seconds: float) -> dict:
    """Frames a second read by a Python client of the stream."""
    key = _post(port, "/api/session", {"config": {"hidden": hidden, "speed": speed}})["session"]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", f"/api/stream?session={key}")
    stream = connection.getresponse()
    stream.fp.readline()  # the first frame, before play
    _post(port, "/api/control", {"session": key, "action": "play"})
    frames, size, first, last = 0, 0, None, None
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        line = stream.fp.readline()
        if line.startswith(b"data: "):
            frame = json.loads(line[6:])
            frames, size = frames + 1, size + len(line)
            first = frame["epoch"] if first is None else first
            last = frame["epoch"]
    elapsed = time.monotonic() - start
    _post(port, "/api/control", {"session": key, "action": "pause"})
    connection.close()
    return {
        "client": "python",
        "frames_per_s": round(frames / elapsed, 1),
        "kB_per_frame": round(size / max(frames, 1) / 1000, 1),
        "epochs_per_s": round(((last or 0) - (first or 0)) / elapsed),
    }


def browser_client(port: int, hidden: list[int], speed: int, seconds: float) -> dict:
    """Frames a second drawn by the page in headless Chromium."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHAINRULE_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        raise SystemExit("no chromium on PATH (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        hidden_text = ",".join(map(str, hidden))
        page.goto(f"http://127.0.0.1:{port}/#hidden={hidden_text}&speed={speed}")
        page.wait_for_selector(f"#neuron-{len(hidden)}-{hidden[-1]}")
        page.click("#play")
        page.wait_for_timeout(500)
        frames, epoch = page.evaluate("[state.frames, state.frame.epoch]")
        start = time.monotonic()
        page.wait_for_timeout(seconds * 1000)
        frames2, epoch2 = page.evaluate("[state.frames, state.frame.epoch]")
        elapsed = time.monotonic() - start
        browser.close()
    return {
        "client": "chromium",
        "frames_per_s": round((frames2 - frames) / elapsed, 1),
        "epochs_per_s": round((epoch2 - epoch) / elapsed),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.playground_fps")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--speed", type=int, default=30, help="epochs a second (0: no limit)")
    parser.add_argument("--hidden", default="8,8", help="hidden layer sizes (default 8,8)")
    parser.add_argument("--browser", action="store_true", help="also measure in Chromium")
    args = parser.parse_args(argv)
    hidden = [int(h) for h in args.hidden.split(",")]
    server = make_server(0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    results = []
    try:
        results.append(python_client(server.port, hidden, args.speed, args.seconds))
        if args.browser:
            results.append(browser_client(server.port, hidden, args.speed, args.seconds))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    for result in results:
        print(json.dumps({"network": f"2-{args.hidden.replace(',', '-')}-1", **result}))
    return results


if __name__ == "__main__":
    main()
