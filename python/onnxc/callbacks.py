"""Keras-style training feedback: History, the progress line, user callbacks.

A user callback is any object with some of the Keras methods
on_train_begin(logs), on_epoch_begin(epoch, logs), on_epoch_end(epoch, logs),
on_train_end(logs); epochs are 0-based as in Keras. Setting
`model.stop_training = True` in one stops training after the current batch.
The library reports progress after each batch, so on_epoch_begin runs once
the epoch's first batch is done.
"""
import sys
import time


class Callback:
    """Base class with the hooks fit() calls (all optional)."""

    model = None

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class History(Callback):
    """What fit() returns: `history` maps each metric ("loss", "accuracy",
    "val_loss", "val_accuracy") to one value per epoch; `epoch` lists the
    0-based epoch numbers; `params` holds epochs, steps and verbose."""

    def __init__(self):
        self.history = {}
        self.epoch = []
        self.params = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return "History(epochs=%d, keys=%s)" % (len(self.epoch), sorted(self.history))


def format_logs(logs):
    return " - ".join("%s: %.4f" % (k, v) for k, v in logs.items())


class ProgressPrinter:
    """verbose=1: a bar redrawn in place (at most 10 times a second) when the
    stream is a terminal, and one line per epoch; verbose=2: one line per
    epoch; verbose=0: silent."""

    WIDTH = 30

    def __init__(self, verbose, epochs, stream=None):
        self.verbose = verbose
        self.epochs = epochs
        self.stream = stream or sys.stdout
        self.live = verbose == 1 and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last_draw = 0.0
        self.drawn = 0          # length of the live line on screen
        self.epoch_start = time.monotonic()

    def epoch_begin(self, epoch):
        self.epoch_start = time.monotonic()
        if self.verbose:
            self.stream.write("Epoch %d/%d\n" % (epoch, self.epochs))
            self.stream.flush()

    def _bar(self, step, steps):
        """"312/1875 [====>.....]", as Keras's Progbar (and `onnxc train`) draw it."""
        filled = min(self.WIDTH, self.WIDTH * step // steps) if steps else self.WIDTH
        head = (">" if step < steps else "=") if filled else ""
        bar = "=" * max(filled - 1, 0) + head + "." * (self.WIDTH - filled)
        return "%*d/%d [%s]" % (len(str(steps)), step, steps, bar)

    def batch(self, step, steps, logs):
        if not self.live or step == steps:   # the last step is drawn by epoch_end
            return
        now = time.monotonic()
        if now - self.last_draw < 0.1:
            return
        self.last_draw = now
        elapsed = now - self.epoch_start
        eta = int(elapsed / step * (steps - step)) if step else 0
        eta_text = "%d:%02d" % divmod(eta, 60) if eta > 60 else "%ds" % eta
        line = "%s - ETA: %s - %s" % (self._bar(step, steps), eta_text, format_logs(logs))
        self.stream.write("\r" + line.ljust(self.drawn))
        self.drawn = len(line)
        self.stream.flush()

    def epoch_end(self, steps, seconds, logs):
        if not self.verbose:
            return
        per_step = seconds / max(steps, 1)
        unit = "%.0fms/step" % (per_step * 1e3) if per_step >= 1e-3 else \
            "%.0fus/step" % (per_step * 1e6)
        if self.verbose == 1:
            line = "%s - %.0fs %s - %s" % (self._bar(steps, steps), seconds, unit,
                                           format_logs(logs))
        else:
            line = "%d/%d - %.0fs - %s - %s" % (steps, steps, seconds, unit, format_logs(logs))
        if self.live:
            line = "\r" + line.ljust(self.drawn)   # blank what the bar left behind
            self.drawn = 0
        self.stream.write(line + "\n")
        self.stream.flush()
