"""``RemoteMonitor``: POST each epoch's logs as JSON to a server, with the standard library's ``urllib`` (no
``requests`` needed), as Keras's callback does."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Mapping

import numpy as np
import torch

from lamina.training.callbacks.base import Callback
from lamina.training.progress import to_floats


class RemoteMonitor(Callback):
    """At each epoch's end, POST ``{"epoch": epoch, **logs}`` to ``root + path``.

    Args:
        root: the server's root URL (``http://`` or ``https://``).
        path: the path under ``root`` that receives the events.
        field: the form field holding the JSON text, when ``send_as_json=False``.
        headers: extra HTTP headers (a dict of strings).
        send_as_json: send the JSON itself as the body (``Content-Type: application/json``) instead of a form
            (``application/x-www-form-urlencoded`` with ``field=<json>``).

    A server that cannot be reached gives a warning, not an error: training goes on.

    >>> monitor = RemoteMonitor(root="http://127.0.0.1:9000", send_as_json=True)
    >>> monitor.url
    'http://127.0.0.1:9000/publish/epoch/end/'
    """

    def __init__(self, root: str = "http://localhost:9000", path: str = "/publish/epoch/end/", field: str = "data",
                 headers: Mapping[str, str] | None = None, send_as_json: bool = False, timeout: float = 10.0):
        super().__init__()
        scheme = urllib.parse.urlsplit(root).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"RemoteMonitor: `root` must be an http:// or https:// URL; received root={root!r}.")
        if headers is not None and not isinstance(headers, Mapping):
            raise TypeError(f"RemoteMonitor: `headers` must be a dict of strings; received {type(headers).__name__}.")
        self.root, self.path, self.field = root, path, field
        self.headers = dict(headers or {})
        self.send_as_json = bool(send_as_json)
        self.timeout = timeout

    @property
    def url(self) -> str:
        """Where the events go: ``root + path``."""
        return self.root + self.path

    def payload(self, epoch: int, logs: Mapping | None) -> tuple[bytes, str]:
        """The request body and its content type for one epoch's event."""
        logs = dict(logs or {})
        numeric = {k: v for k, v in logs.items() if isinstance(v, (int, float, torch.Tensor, np.generic, np.ndarray))
                   and not isinstance(v, bool)}
        numbers = to_floats(numeric)  # one device read for all tensors
        event = {"epoch": epoch, **{k: numbers.get(k, v) for k, v in logs.items()}}
        text = json.dumps(event)
        if self.send_as_json:
            return text.encode("utf-8"), "application/json"
        return urllib.parse.urlencode({self.field: text}).encode("ascii"), "application/x-www-form-urlencoded"

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        body, content_type = self.payload(epoch, logs)
        headers = {"Content-Type": content_type, "Accept": "application/json", **self.headers}
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (scheme checked)
                response.read()
        except (urllib.error.URLError, OSError) as error:
            warnings.warn(f"RemoteMonitor could not reach the server at {self.url}: {error}. Training goes on; "
                          "check `root` and `path`, and that the server is up.", UserWarning, stacklevel=2)
