"""labbook.integrations.torch.watch: gradient and parameter norms every N training steps, equal
to the norms computed here, at the right steps, leaving the loop's own logging alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import labbook
from labbook.integrations.torch import unwatch, watch


def train_steps(model: nn.Module, run: labbook.Run, steps: int, seed: int = 0):
    """Runs `steps` SGD steps, logging the loss with the run's counter; returns per step the
    parameter norms before the step's forward pass and the gradient norms of its backward."""
    torch.manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = []
    for _ in range(steps):
        x, y = torch.randn(8, 3), torch.randn(8, 2)
        parameters = {n: float(p.detach().norm()) for n, p in model.named_parameters()}
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        gradients = {
            n: float(p.grad.norm()) for n, p in model.named_parameters() if p.grad is not None
        }
        optimizer.step()
        run.log({"loss": loss.item()})
        seen.append((parameters, gradients))
    return seen


def read(run_id: str, key: str) -> tuple[list[int], np.ndarray]:
    columns = labbook.Api().run(run_id).history(keys=[key], pandas=False)
    return columns["_step"].tolist(), columns[key]


def test_norms_every_n_steps_at_the_forward_pass_number(store: str) -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with labbook.init(project="watch") as run:
        watcher = watch(model, log="all", log_freq=2)
        seen = train_steps(model, run, 5)
        with torch.no_grad():  # evaluation passes are not counted
            model.eval()
            model(torch.randn(4, 3))
            model.train()
        assert watcher.forward_calls == 5
        watcher.remove()
        assert run.step == 5  # the loop's counter went on as without the watch
    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    for name in names:
        for prefix, index in (("parameters", 0), ("gradients", 1)):
            steps, values = read(run.id, f"{prefix}/{name}")
            assert steps == [2, 4]  # forward passes 2 and 4 (steps 1 and 3 of the loop)
            expected = [seen[1][index][name], seen[3][index][name]]
            np.testing.assert_allclose(values, expected, rtol=1e-6)
    for prefix, index in (("parameters", 0), ("gradients", 1)):
        _, totals = read(run.id, f"{prefix}/total_norm")
        expected = [math.sqrt(sum(v * v for v in seen[i][index].values())) for i in (1, 3)]
        np.testing.assert_allclose(totals, expected, rtol=1e-6)
    steps, _ = read(run.id, "loss")
    assert steps == [0, 1, 2, 3, 4]


def test_a_step_function_and_an_unused_parameter(store: str) -> None:
    class PartlyUsed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Linear(3, 2)
            self.unused = nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.used(x)

    model = PartlyUsed()
    with labbook.init(project="watch") as run:
        watch(model, log="gradients", log_freq=3, step=lambda: run.step)
        seen = train_steps(model, run, 4)
        unwatch(model)
        train_steps(model, run, 3)  # no more hooks: nothing logged
    steps, values = read(run.id, "gradients/used.weight")
    assert steps == [2]  # forward pass 3, when the run's counter was 2
    np.testing.assert_allclose(values, [seen[2][1]["used.weight"]], rtol=1e-6)
    keys = labbook.Api().run(run.id).history_keys()
    assert "gradients/unused.weight" not in keys and "parameters/used.weight" not in keys


def test_watch_needs_a_run_and_valid_options(store: str) -> None:
    model = nn.Linear(2, 2)
    with pytest.raises(labbook.FailedPrecondition) as error:
        watch(model)
    assert str(error.value) == "watch: no run; call labbook.init() first or pass run="
    with labbook.init(project="watch"):
        with pytest.raises(labbook.InvalidArgument) as error:
            watch(model, log="histograms")
        assert str(error.value) == (
            "watch: log: expected one of gradients, parameters, all, got 'histograms'"
        )
        with pytest.raises(labbook.InvalidArgument):
            watch(model, log_freq=0)
