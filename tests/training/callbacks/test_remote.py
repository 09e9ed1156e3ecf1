"""RemoteMonitor: each epoch's logs POSTed to a local HTTP server (127.0.0.1, started here) as a form field or
as a JSON body, with the caller's headers; an unreachable server warns and training goes on."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from callback_helpers import data, model

from lamina.callbacks import RemoteMonitor


@pytest.fixture
def server():
    """A local server recording (path, headers, body) of every POST."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, dict(self.headers), body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", received
    httpd.shutdown()
    httpd.server_close()


def test_epoch_logs_are_posted_as_a_form_field(server):
    root, received = server
    x, y = data()
    history = model().fit(x, y, batch_size=4, epochs=2, verbose=0,
                          callbacks=[RemoteMonitor(root=root, field="payload", headers={"X-Run": "7"})])
    assert len(received) == 2
    path, headers, body = received[1]
    assert path == "/publish/epoch/end/" and headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["X-Run"] == "7"
    event = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])
    assert event["epoch"] == 1 and event["loss"] == pytest.approx(history.history["loss"][1])
    assert set(event) == {"epoch", "loss", "mae"}


def test_epoch_logs_are_posted_as_json(server):
    root, received = server
    monitor = RemoteMonitor(root=root, path="/events", send_as_json=True)
    monitor.on_epoch_end(3, {"loss": 0.25, "val_loss": 0.5})
    path, headers, body = received[0]
    assert path == "/events" and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"epoch": 3, "loss": 0.25, "val_loss": 0.5}


def test_an_unreachable_server_warns_and_training_goes_on():
    x, y = data()
    with pytest.warns(UserWarning, match="could not reach"):
        model().fit(x, y, batch_size=4, epochs=1, verbose=0,
                    callbacks=[RemoteMonitor(root="http://127.0.0.1:9", timeout=2.0)])


def test_root_must_be_an_http_url():
    with pytest.raises(ValueError, match="http"):
        RemoteMonitor(root="file:///etc/passwd")


def test_tensor_values_become_numbers_and_other_values_pass_through(server):
    import torch

    root, received = server
    RemoteMonitor(root=root, send_as_json=True).on_epoch_end(0, {"loss": torch.tensor(0.5), "note": "warm-up"})
    assert json.loads(received[0][2]) == {"epoch": 0, "loss": 0.5, "note": "warm-up"}
