"""Oracle of tests/nn/torch_parity_test.cpp: PyTorch (float64) and numpy compute what labbook's
reference backend computes, from the same weights and batch.

Usage: torch_oracle.py DIR. DIR/manifest.json (written by the C++ test) lists models (a Keras-style
layer list, weights, an input batch and labels) and optimizer cases; tensors travel as raw
little-endian float64 files. The script writes DIR/results.json and one .f64 file per tensor.

Per model: logits (the last layer's pre-activation), output, loss (sparse categorical
cross-entropy on the logits, plus l2 * sum(w^2) of each regularised kernel), the gradient of every
trainable tensor, BatchNormalization's moving statistics after the training step, and the output of
an inference pass that uses them.

Per optimizer case: the weights after `steps` updates on the same batch, each step's gradient from
PyTorch; and the weights the same rule reaches on the gradients labbook computed (listed per step
under "replay"), which isolates the update rule from the gradients' float32 rounding. The rules are
Keras' (2.11+), written out in numpy below; where PyTorch's optimizer computes the same thing (SGD,
NAdam), it runs too and must agree with the numpy rule.
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def read(directory, name, dims=None):
    values = np.fromfile(os.path.join(directory, name), dtype="<f8")
    return values.reshape(dims) if dims is not None else values


def write(directory, name, array):
    np.asarray(array, dtype="<f8").ravel().tofile(os.path.join(directory, name))
    return name


def same_padding(size, window, stride):
    """TensorFlow's 'same' padding along one axis: (before, after), the odd element after."""
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def activate(name, z):
    if name == "linear":
        return z
    if name == "relu":
        return torch.relu(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "elu":
        return F.elu(z, alpha=1.0)
    if name == "softmax":
        return torch.softmax(z, dim=1)  # features, or channels of NCHW: Keras' last axis
    raise ValueError("unknown activation " + name)


def pad_window(x, layer, value):
    """Pads NCHW x for a 'same' window op; returns x unchanged for 'valid'."""
    if layer["padding"] != "same":
        return x
    top, bottom = same_padding(x.shape[2], layer["window"][0], layer["strides"][0])
    left, right = same_padding(x.shape[3], layer["window"][1], layer["strides"][1])
    return F.pad(x, (left, right, top, bottom), value=value)


def forward(model, params, x, training):
    """Runs the layer list; returns (output, pre-activation of the last layer)."""
    pre = None
    for layer in model["layers"]:
        kind, name = layer["type"], layer["name"]
        pre = None
        if kind == "Conv2D":
            z = F.conv2d(pad_window(x, layer, 0.0), params[name + "/kernel"],
                         params.get(name + "/bias"), stride=tuple(layer["strides"]))
            pre, x = z, activate(layer["activation"], z)
        elif kind == "MaxPooling2D":
            x = F.max_pool2d(pad_window(x, layer, -math.inf), tuple(layer["window"]),
                             tuple(layer["strides"]))
        elif kind == "AveragePooling2D":
            # TensorFlow averages over the window's pixels inside the image: sum / count.
            window, strides = tuple(layer["window"]), tuple(layer["strides"])
            sums = F.avg_pool2d(pad_window(x, layer, 0.0), window, strides, divisor_override=1)
            ones = torch.ones_like(x[:1, :1])
            counts = F.avg_pool2d(pad_window(ones, layer, 0.0), window, strides,
                                  divisor_override=1)
            x = sums / counts
        elif kind == "Flatten":
            x = x.reshape(x.shape[0], -1)  # NCHW order, as labbook's canonical layout
        elif kind == "Dropout":
            assert layer["rate"] == 0.0 or not training, "parity runs dropout at rate 0"
        elif kind == "Dense":
            z = F.linear(x, params[name + "/kernel"], params.get(name + "/bias"))
            pre, x = z, activate(layer["activation"], z)
        elif kind == "BatchNormalization":
            # PyTorch's momentum is Keras' 1 - momentum; both average the unbiased variance.
            x = F.batch_norm(x, params[name + "/moving_mean"], params[name + "/moving_variance"],
                             params[name + "/gamma"], params[name + "/beta"], training=training,
                             momentum=1.0 - layer["momentum"], eps=layer["epsilon"])
        elif kind == "Activation":
            pre, x = x, activate(layer["activation"], x)
        else:
            raise ValueError("unknown layer " + kind)
    return x, (pre if pre is not None else x)


def load_params(directory, model):
    params = {}
    for w in model["weights"]:
        t = torch.tensor(read(directory, w["file"], w["dims"]))
        t.requires_grad_(w["trainable"])
        params[w["name"]] = t
    return params


def loss_and_grads(model, params, x, labels):
    """Mean sparse cross-entropy on the logits plus the L2 terms, and the trainable gradients."""
    for t in params.values():
        t.grad = None
    output, logits = forward(model, params, x, training=True)
    loss = F.cross_entropy(logits, labels)
    for name, l2 in model["l2"].items():
        loss = loss + l2 * (params[name] ** 2).sum()
    loss.backward()
    return output, logits, loss, {k: t.grad.detach().clone() for k, t in params.items()
                                  if t.requires_grad}


def run_model(directory, model):
    params = load_params(directory, model)
    x = torch.tensor(read(directory, model["input"], model["input_dims"]))
    labels = torch.tensor(model["labels"], dtype=torch.int64)
    output, logits, loss, grads = loss_and_grads(model, params, x, labels)
    prefix = model["name"]
    result = {
        "loss": loss.item(),
        "logits": write(directory, prefix + "_logits.f64", logits.detach()),
        "output": write(directory, prefix + "_output.f64", output.detach()),
        "grads": {k: write(directory, "%s_grad_%d.f64" % (prefix, i), g)
                  for i, (k, g) in enumerate(sorted(grads.items()))},
    }
    # The training pass updated the moving statistics in place (float64 buffers).
    result["moving"] = {k: write(directory, "%s_moving_%d.f64" % (prefix, i), t.detach())
                        for i, (k, t) in enumerate(sorted(params.items()))
                        if k.endswith("/moving_mean") or k.endswith("/moving_variance")}
    with torch.no_grad():
        inference, _ = forward(model, params, x, training=False)
    result["inference_output"] = write(directory, prefix + "_inference.f64", inference)
    return result


class KerasUpdate:
    """Keras 2.11+ update rules in numpy, one instance per optimizer run."""

    def __init__(self, case):
        self.c = case
        self.t = 0
        self.slots = {}
        self.u_product = 1.0

    def slot(self, name, like, initial=0.0):
        if name not in self.slots:
            self.slots[name] = np.full_like(like, initial)
        return self.slots[name]

    def step(self, weights, grads, lr):
        c = self.c
        self.t += 1
        t = self.t
        if c["kind"] == "nadam":
            u_t = c["beta_1"] * (1 - 0.5 * 0.96 ** (c["schedule_decay"] * t))
            self.u_product *= u_t
        for name in grads:
            w, g = weights[name], grads[name]
            if c["weight_decay"] > 0:
                w -= w * c["weight_decay"] * lr
            kind = c["kind"]
            if kind == "sgd":
                if c["momentum"] == 0:
                    w -= lr * g
                else:
                    m = self.slot(name + "/momentum", w)
                    m[:] = c["momentum"] * m - lr * g
                    w += c["momentum"] * m - lr * g if c["nesterov"] else m
            elif kind in ("adam", "adamw"):
                m, v = self.slot(name + "/m", w), self.slot(name + "/v", w)
                m += (g - m) * (1 - c["beta_1"])
                v += (g * g - v) * (1 - c["beta_2"])
                if c["amsgrad"]:
                    v_hat = self.slot(name + "/vhat", w)
                    v_hat[:] = np.maximum(v_hat, v)
                    v = v_hat
                alpha = lr * math.sqrt(1 - c["beta_2"] ** t) / (1 - c["beta_1"] ** t)
                w -= alpha * m / (np.sqrt(v) + c["epsilon"])
            elif kind == "nadam":
                b1, b2 = c["beta_1"], c["beta_2"]
                u_t = b1 * (1 - 0.5 * 0.96 ** (c["schedule_decay"] * t))
                u_next = b1 * (1 - 0.5 * 0.96 ** (c["schedule_decay"] * (t + 1)))
                m, v = self.slot(name + "/m", w), self.slot(name + "/v", w)
                m += (g - m) * (1 - b1)
                v += (g * g - v) * (1 - b2)
                m_hat = (u_next * m / (1 - self.u_product * u_next)
                         + (1 - u_t) * g / (1 - self.u_product))
                v_hat = v / (1 - b2 ** t)
                w -= lr * m_hat / (np.sqrt(v_hat) + c["epsilon"])
            elif kind == "rmsprop":
                s = self.slot(name + "/velocity", w)
                s[:] = c["rho"] * s + (1 - c["rho"]) * g * g
                denominator = s + c["epsilon"]
                if c["centered"]:
                    a = self.slot(name + "/average_gradient", w)
                    a[:] = c["rho"] * a + (1 - c["rho"]) * g
                    denominator = s - a * a + c["epsilon"]
                increment = lr * g / np.sqrt(denominator)
                if c["momentum"] > 0:
                    m = self.slot(name + "/momentum", w)
                    m[:] = c["momentum"] * m + increment
                    w -= m
                else:
                    w -= increment
            elif kind == "adagrad":
                acc = self.slot(name + "/accumulator", w, c["initial_accumulator_value"])
                acc += g * g
                w -= lr * g / np.sqrt(acc + c["epsilon"])
            else:
                raise ValueError("unknown optimizer " + kind)


def torch_equivalent(case, tensors):
    """PyTorch's optimizer computing exactly Keras' rule for this case, or None."""
    if case["weight_decay"] != 0:
        return None
    if case["kind"] == "sgd":
        return torch.optim.SGD(tensors, lr=case["learning_rate"], momentum=case["momentum"],
                               nesterov=case["nesterov"])
    if case["kind"] == "nadam":
        # foreach: PyTorch < 2.0's single-tensor NAdam multiplies one momentum too many into
        # mu_product_next (fixed by pytorch/pytorch#92699); the foreach one was always right.
        return torch.optim.NAdam(tensors, lr=case["learning_rate"],
                                 betas=(case["beta_1"], case["beta_2"]), eps=case["epsilon"],
                                 momentum_decay=case["schedule_decay"], foreach=True)
    return None


def initial_weights(directory, model):
    """The trainable tensors as float64 numpy arrays."""
    return {w["name"]: read(directory, w["file"], w["dims"])
            for w in model["weights"] if w["trainable"]}


def run_optimizer(directory, model, case, index):
    x = torch.tensor(read(directory, model["input"], model["input_dims"]))
    labels = torch.tensor(model["labels"], dtype=torch.int64)

    # Keras' rule in numpy, on gradients from PyTorch at the numpy weights.
    params = load_params(directory, model)
    rule = KerasUpdate(case)
    for _ in range(case["steps"]):
        _, _, _, grads = loss_and_grads(model, params, x, labels)
        weights = {k: params[k].detach().numpy().copy() for k in grads}
        rule.step(weights, {k: g.numpy() for k, g in grads.items()}, case["learning_rate"])
        with torch.no_grad():
            for k, w in weights.items():
                params[k].copy_(torch.tensor(w))
    result = {"weights": {k: write(directory, "opt%d_%d.f64" % (index, i), params[k].detach())
                          for i, k in enumerate(sorted(grads))}}

    # The same rule replayed on the gradients labbook computed at its own weights.
    weights = initial_weights(directory, model)
    rule = KerasUpdate(case)
    for files in case["replay"]:
        rule.step(weights, {k: read(directory, f).reshape(weights[k].shape)
                            for k, f in files.items()}, case["learning_rate"])
    result["replay_weights"] = {k: write(directory, "replayed%d_%d.f64" % (index, i), weights[k])
                                for i, k in enumerate(sorted(weights))}

    # Where PyTorch's optimizer is the same rule, it must agree with the numpy one.
    twin = load_params(directory, model)
    trainable = [t for t in twin.values() if t.requires_grad]
    optimizer = torch_equivalent(case, trainable)
    if optimizer is not None:
        for _ in range(case["steps"]):
            optimizer.zero_grad()
            loss_and_grads(model, twin, x, labels)
            optimizer.step()
        worst = max(float((twin[k] - params[k]).abs().max()) for k in grads)
        result["torch_optimizer"] = type(optimizer).__name__
        result["torch_vs_numpy_max_abs"] = worst
    return result


def main():
    directory = sys.argv[1]
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    models = {m["name"]: m for m in manifest["models"]}
    results = {
        "torch_version": torch.__version__,
        "models": {name: run_model(directory, m) for name, m in models.items()},
        "optimizers": [run_optimizer(directory, models[c["model"]], c, i)
                       for i, c in enumerate(manifest["optimizers"])],
    }
    with open(os.path.join(directory, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
