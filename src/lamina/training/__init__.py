"""Training loops, steps, callbacks and the progress bar (used through Model.compile/fit)."""
