"""The report in a real browser: headless Chromium (Debian's `chromium` package; CI installs it) loads the file,
runs into no console error, exception or failed load, makes no request outside the file, decodes every image,
shows every section, and renders a full-page screenshot. A page with planted faults proves the checks can fail."""

import io
import os

import numpy as np
import pytest

import lamina
from lamina.report import SECTION_IDS, find_chromium, render_in_browser, write_report

needs_chromium = pytest.mark.skipif(
    find_chromium() is None, reason="chromium is not installed (Debian/Ubuntu: `apt-get install chromium`, as "
    "`scripts/setup.sh --for-tests` does), or set LAMINA_CHROMIUM")


@needs_chromium
def test_planted_faults_are_seen(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><section id="a">a</section><img alt="gone" src="missing.png">'
                    '<script>console.error("planted"); throw new Error("boom")</script></body></html>')
    result = render_in_browser(page)
    text = " | ".join(result.errors)
    assert "planted" in text and "boom" in text and "missing.png" in text, result.errors
    assert result.broken_images == ["gone"] and result.section_ids == ["a"]
    assert any(r.endswith("/missing.png") for r in result.requests)


@needs_chromium
@pytest.mark.parametrize("plots", ["svg", "matplotlib"])
def test_report_renders_in_chromium_without_errors(tmp_path, plots):
    if plots == "matplotlib":
        pytest.importorskip("matplotlib")
    from PIL import Image

    rng = np.random.default_rng(0)
    x, y = rng.random((48, 12, 12, 1)).astype("float32"), np.arange(48) % 4
    model = lamina.Sequential([lamina.Input((12, 12, 1)), lamina.layers.Flatten(),
                               lamina.layers.Dense(4, activation="softmax", name="probs")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    report = lamina.callbacks.Report(tmp_path / "report.html", validation_data=(x, y), plots=plots,
                                     class_names=["a", "b<c", "d & e", "f"])
    model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0, callbacks=[report])
    monitor = {"grad_norm": [1.0, 0.5], "grad_norm/probs": [1.0, 0.5]}
    lr_find = type("LRFind", (), {"learning_rates": [1e-5, 1e-3, 1e-1], "losses": [1.4, 0.9, 3.0],
                                  "suggestions": {"steepest": 1e-3}})()
    assert (tmp_path / "report.html").exists()  # written by the callback; now again with every section filled
    path = write_report(model, tmp_path / "report.html", x, y, history=report.records, monitor=monitor,
                        lr_find=lr_find, plots=plots)

    result = render_in_browser(path, screenshot=tmp_path / "shot.png", width=1200)
    assert result.errors == []
    assert result.section_ids == list(SECTION_IDS)
    assert result.requests[0].startswith("file://")
    assert all(r.startswith("data:image/png") for r in result.requests[1:])
    assert result.broken_images == []
    wrong = min(16, int((model.predict(x, verbose=0).argmax(axis=1) != y).sum()))
    charts = 6  # loss, accuracy, learning rate, grad norm, grad norm per layer, lr_find
    if plots == "svg":
        assert result.images == wrong and result.svgs == charts + 1  # + the model graph
    else:
        assert result.images == wrong + charts and result.svgs == 1
    shot = Image.open(io.BytesIO((tmp_path / "shot.png").read_bytes()))
    assert shot.size == (1200, result.height) and result.height > 1500
    assert len(shot.convert("L").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50  # drawn, not a blank page


def test_a_browser_that_fails_says_what_it_printed(tmp_path, monkeypatch):
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 1\n")
    os.chmod(fake, 0o755)
    page = tmp_path / "p.html"
    page.write_text("<p>x</p>")
    monkeypatch.setenv("LAMINA_CHROMIUM", str(fake))
    assert find_chromium() == str(fake)
    with pytest.raises(RuntimeError, match="closed the DevTools pipe.*cannot open display"):
        render_in_browser(page, timeout=30)
    with pytest.raises(FileNotFoundError, match="no file at"):
        render_in_browser(tmp_path / "missing.html")
    monkeypatch.setenv("LAMINA_CHROMIUM", str(tmp_path / "not-there"))
    assert find_chromium() is None
    with pytest.raises(FileNotFoundError, match="No Chromium found"):
        render_in_browser(page)
