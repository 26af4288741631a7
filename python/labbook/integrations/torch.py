"""labbook.integrations.torch: W&B's watch for PyTorch models.

    from labbook.integrations.torch import watch
    watcher = watch(model, log="all", log_freq=100)   # on labbook.run, or run=...
    ...train...
    watcher.remove()

Every `log_freq`-th training forward pass of the model (model.training and gradients enabled),
the run gets the L2 norm of each parameter's gradient from the backward pass that follows,
`gradients/NAME`, and of each parameter, `parameters/NAME` (NAME as model.named_parameters()
gives it: "0.weight", "conv1.bias"), plus `gradients/total_norm` and `parameters/total_norm`
over all of them (the norm torch.nn.utils.clip_grad_norm_ computes).

Their step is the number of the training forward pass (1, 2, ...: the optimizer step when
each step runs the model once, the step `labbook train` gives its batch/* keys), or what
`step()` returns at that forward pass when watch() is given one (step=lambda: run.step for a
loop that logs with the run's own counter). Logging them leaves the run's counter as it is.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import Any

import torch

from labbook._errors import make_error
from labbook._run import Run, current_run

_LOG_CHOICES = ("gradients", "parameters", "all")


class Watch:
    """The hooks watch() put on a model. remove() takes them off, logging a pending sample."""

    def __init__(self, model: torch.nn.Module, run: Run, log: str, log_freq: int,
                 step: Callable[[], int] | None):
        self._run = run
        self._step_of_forward = step
        self._gradients = log in ("gradients", "all")
        self._parameters = log in ("parameters", "all")
        self._log_freq = log_freq
        self._names = [name for name, p in model.named_parameters() if p.requires_grad]
        self._forward_calls = 0
        # The sample being taken: its step, parameter norms, gradient norms as they arrive.
        self._step: int | None = None
        self._parameter_norms: dict[str, float] = {}
        self._gradient_norms: dict[str, torch.Tensor] = {}
        self._handles = [model.register_forward_pre_hook(self._before_forward)]
        if self._gradients:
            for name, parameter in model.named_parameters():
                if parameter.requires_grad:
                    self._handles.append(parameter.register_hook(self._gradient_hook(name)))
        self._model = weakref.ref(model)

    @property
    def forward_calls(self) -> int:
        """The training forward passes counted so far."""
        return self._forward_calls

    def _before_forward(self, module: torch.nn.Module, inputs: Any) -> None:
        if not module.training or not torch.is_grad_enabled():
            return
        self.flush()  # a sample whose gradients did not all come (a parameter left unused)
        self._forward_calls += 1
        if self._forward_calls % self._log_freq != 0:
            return
        self._step = (
            self._forward_calls if self._step_of_forward is None else int(self._step_of_forward())
        )
        if self._parameters:
            with torch.no_grad():
                self._parameter_norms = {
                    name: float(p.detach().float().norm())
                    for name, p in module.named_parameters()
                    if p.requires_grad
                }
        if not self._gradients:
            self.flush()

    def _gradient_hook(self, name: str) -> Any:
        def hook(gradient: torch.Tensor) -> None:
            if self._step is None or name in self._gradient_norms:
                return
            self._gradient_norms[name] = gradient.detach().float().norm()
            if len(self._gradient_norms) == len(self._names):
                self.flush()

        return hook

    def flush(self) -> None:
        """Logs the sample being taken, if any (remove() does this too)."""
        if self._step is None:
            return
        values: dict[str, float] = {}
        for prefix, norms in (
            ("parameters", self._parameter_norms),
            ("gradients", {name: float(norm) for name, norm in self._gradient_norms.items()}),
        ):
            if not norms:
                continue
            for name in self._names:
                if name in norms:
                    values[f"{prefix}/{name}"] = norms[name]
            values[f"{prefix}/total_norm"] = math.sqrt(sum(n * n for n in norms.values()))
        step = self._step
        self._step = None
        self._parameter_norms = {}
        self._gradient_norms = {}
        if values and not self._run.finished:
            self._run.log(values, step=step, commit=False)

    def remove(self) -> None:
        """Logs a pending sample and takes the hooks off the model."""
        self.flush()
        for handle in self._handles:
            handle.remove()
        self._handles = []
        model = self._model()
        if model is not None and _watches.get(model) is self:
            del _watches[model]


_watches: weakref.WeakKeyDictionary[torch.nn.Module, Watch] = weakref.WeakKeyDictionary()


def watch(
    model: torch.nn.Module,
    run: Run | None = None,
    log: str = "gradients",
    log_freq: int = 100,
    step: Callable[[], int] | None = None,
) -> Watch:
    """Logs `model`'s gradient norms ("gradients", the default), parameter norms
    ("parameters") or both ("all") every `log_freq` training forward passes, to `run` (default:
    the current run, labbook.init's), at the forward pass's number or at what `step()` returns
    then. Watching a model again replaces the earlier watch."""
    if log not in _LOG_CHOICES:
        raise make_error(
            "invalid_argument", f"watch: log: expected one of {', '.join(_LOG_CHOICES)}, got {log!r}"
        )
    if isinstance(log_freq, bool) or not isinstance(log_freq, int) or log_freq < 1:
        raise make_error("invalid_argument", f"watch: log_freq: expected an int >= 1, got {log_freq!r}")
    target = run if run is not None else current_run()
    if target is None:
        raise make_error(
            "failed_precondition", "watch: no run; call labbook.init() first or pass run="
        )
    unwatch(model)
    watcher = Watch(model, target, log, log_freq, step)
    _watches[model] = watcher
    return watcher


def unwatch(model: torch.nn.Module | None = None) -> None:
    """Removes the watch on `model` (None: on every watched model)."""
    if model is None:
        for watcher in list(_watches.values()):
            watcher.remove()
    elif model in _watches:
        _watches[model].remove()
