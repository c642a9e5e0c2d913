"""The sandboxed side of grading: the only grading code that runs next to a
student's ``mlp.py``.

The grader starts it in the sandbox (see ``grading.py``) as::

    python -I -B sandbox_entry.py CONFIG_JSON

It lowers its own resource limits, imports the student's ``mlp.py`` from
the folder it runs in, then answers the grader's requests, one at a time:
build a network from the parameters given, call one public method
(``loss``, ``train`` or ``predict``) on the inputs given, and send back
what the method returned. It holds no expected value, no reference formula
and no verdict; everything it sends is plain data that the grader checks.

The wire format, both ways, is one message per call: a 4-byte big-endian
length, then that many bytes of UTF-8 JSON, on two pipes whose file
descriptors the configuration names; the student's prints go nowhere. Arrays
travel as ``{"kind": "ndarray", "dtype": ..., "shape": [...], "base64":
...}``, the little-endian bytes of the values in base64 (exact, and quick
to read back with ``np.frombuffer``), so nothing that is read on either
side can run code.

During a call, a network of the ``StandIn`` class may ask the grader for
the reference result of its stood-in ``loss`` or ``predict``: it sends
``{"stand_in": method, "arguments": ...}`` and reads the answer before
the call goes on. The grader answers only during the checks that use such
a network.
"""
import base64
import json
import numbers
import os
import struct
import sys
import traceback

#: The most array elements one reply may carry, all arrays together.
MAX_ELEMENTS = 100_000
#: The dtypes an array may travel in; any other is sent as its name only.
DTYPES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8",
                    "uint16", "uint32", "uint64", "float16", "float32",
                    "float64"})


# ---------------------------------------------------------------------------
# The wire format (also imported by the grader, which decodes more strictly)
# ---------------------------------------------------------------------------

def frame(message):
    """message as bytes on the wire: its length, then its JSON."""
    body = json.dumps(message, allow_nan=True).encode()
    return struct.pack(">I", len(body)) + body


def write_message(fd, message):
    data = frame(message)
    while data:
        data = data[os.write(fd, data):]


def read_message(fd):
    """The next message on fd, or None at the end of the stream."""
    header = _read_exactly(fd, 4)
    if header is None:
        return None
    body = _read_exactly(fd, struct.unpack(">I", header)[0])
    return None if body is None else json.loads(body)


def _read_exactly(fd, size):
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def encode(value, budget=None):
    """Plain JSON data describing value: its kind, type and content."""
    import numpy as np

    budget = [MAX_ELEMENTS] if budget is None else budget
    if value is None:
        return {"kind": "none"}
    if isinstance(value, (bool, np.bool_)):
        return {"kind": "scalar", "type": type(value).__name__,
                "value": bool(value)}
    if isinstance(value, numbers.Integral):
        return {"kind": "scalar", "type": type(value).__name__,
                "value": int(value)}
    if isinstance(value, numbers.Real):
        return {"kind": "scalar", "type": type(value).__name__,
                "value": float(value)}
    if isinstance(value, np.ndarray):         # np.matrix and others too
        if value.dtype.name not in DTYPES:
            return {"kind": "other", "type": f"ndarray of {value.dtype}"}
        budget[0] -= value.size
        if budget[0] < 0:
            return {"kind": "other", "type": "array too large to send"}
        little = value.dtype.newbyteorder("<")
        plain = np.ascontiguousarray(value, dtype=little)
        return {"kind": "ndarray", "dtype": value.dtype.name,
                "shape": list(plain.shape),
                "base64": base64.b64encode(plain.tobytes()).decode("ascii")}
    if isinstance(value, dict):
        return {"kind": "dict", "items": [[encode(key, budget),
                                           encode(item, budget)]
                                          for key, item in value.items()]}
    if isinstance(value, str):
        return {"kind": "str", "value": value[:200]}
    if isinstance(value, (list, tuple)):      # a namedtuple is a tuple
        kind = "tuple" if isinstance(value, tuple) else "list"
        budget[0] -= len(value)
        if budget[0] < 0:
            return {"kind": "other", "type": f"{kind} too long to send"}
        return {"kind": kind,
                "items": [encode(item, budget) for item in value]}
    return {"kind": "other", "type": type(value).__name__}


def array_of(value):
    """The ndarray of an encoded array (its fields already checked)."""
    import numpy as np

    dtype = np.dtype(value["dtype"])
    data = base64.b64decode(value["base64"], validate=True)
    return np.frombuffer(data, dtype=dtype.newbyteorder("<")).astype(
        dtype).reshape(value["shape"])


def decode_request(value):
    """The Python value of a request's encoded argument (trusted data)."""
    kind = value["kind"]
    if kind == "ndarray":
        return array_of(value)
    if kind == "scalar" or kind == "str":
        return value["value"]
    if kind == "none":
        return None
    if kind == "dict":
        return {decode_request(k): decode_request(v)
                for k, v in value["items"]}
    if kind in ("list", "tuple"):
        items = [decode_request(item) for item in value["items"]]
        return items if kind == "list" else tuple(items)
    raise ValueError(f"unknown kind {kind!r}")


# ---------------------------------------------------------------------------
# Answering the grader
# ---------------------------------------------------------------------------

def set_limits(limits):
    import resource

    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value))


def describe_error(error):
    """What went wrong, as the grader's report may show it: the exception's
    type, its message, and the line of mlp.py it was raised from."""
    where = None
    for frame in traceback.extract_tb(error.__traceback__):
        if os.path.basename(frame.filename) == "mlp.py":
            where = {"line": frame.lineno, "function": frame.name}
    try:
        message = str(error)[:500]
    except BaseException:                   # a __str__ that raises
        message = ""
    return {"type": type(error).__name__, "message": message, "where": where,
            "not_implemented": isinstance(error, NotImplementedError)}


#: The pipes to the grader, set by main() (a stand-in's loss asks it).
CHANNEL = {}


def ask_grader(method, arguments):
    """The grader's answer to a stand-in's call: the reference result of
    ``method`` for these arguments, computed on the trusted side."""
    write_message(CHANNEL["replies"], {"stand_in": method,
                                       "arguments": encode(arguments)})
    reply = read_message(CHANNEL["requests"])
    if reply is None:
        raise SystemExit(0)
    return decode_request(reply)


def subclasses(TwoLayerMLP):
    """Networks whose ``loss`` (or ``predict``) the grader chooses, so that
    ``train`` and ``predict`` are judged on their own."""
    import numpy as np

    class QuadraticLoss(TwoLayerMLP):
        """loss = sum over the parameters of 0.5 * c * p**2, gradient c * p
        (c from ``curvature``); predict gives class 0. Each call records
        the first column of its X (the samples' numbers) in ``batches``
        and its labels in ``labels``."""

        def loss(self, X, y=None, reg=0.0, penalty="l2"):
            if y is None:
                return np.zeros((len(X), self.output_size))
            self.batches.append(np.asarray(X)[:, 0].tolist())
            self.labels.append(np.asarray(y).tolist())
            value = sum(0.5 * c * np.sum(self.params[k] ** 2)
                        for k, c in self.curvature.items())
            return float(value), {k: c * self.params[k]
                                  for k, c in self.curvature.items()}

        def predict(self, X):
            return np.zeros(len(X), dtype=np.int64)

    class GivenScores(TwoLayerMLP):
        """loss(X) returns the first len(X) rows of ``scores``."""

        def loss(self, X, y=None, reg=0.0, penalty="l2"):
            return self.scores[:len(X)]

    class StandIn(TwoLayerMLP):
        """The methods named in ``stand_ins`` (loss, predict) are answered
        by the grader: the reference stands in for a part of the student's
        that an earlier check found wrong, so that one mistake costs one
        question."""

        def loss(self, X, y=None, reg=0.0, penalty="l2"):
            if "loss" not in self.stand_ins:
                return super().loss(X, y, reg=reg, penalty=penalty)
            return ask_grader("loss", {"params": self.params, "X": X, "y": y,
                                       "reg": reg})

        def predict(self, X):
            if "predict" not in self.stand_ins:
                return super().predict(X)
            return ask_grader("predict", {"params": self.params, "X": X})

    return {"TwoLayerMLP": TwoLayerMLP, "QuadraticLoss": QuadraticLoss,
            "GivenScores": GivenScores, "StandIn": StandIn}


def answer(request, classes):
    """Build the requested network, make the call, describe the result."""
    spec = request["net"]
    net = classes[spec["class"]](*spec["args"], **spec["kwargs"])
    if spec["params"] is not None:
        net.params = spec["params"]
    for name, value in spec["attributes"].items():
        setattr(net, name, value)
    result = getattr(net, request["method"])(*request["args"],
                                             **request["kwargs"])
    reply, budget = {"ok": True}, [MAX_ELEMENTS]
    for name in request["want"]:
        value = result if name == "result" else getattr(net, name, None)
        reply[name] = encode(value, budget)
    return reply


def main(argv):
    config = json.loads(argv[1])
    set_limits(config["limits"])
    requests, replies = config["requests"], config["replies"]
    CHANNEL.update(requests=requests, replies=replies)
    try:            # before the student's folder is on the path
        import numpy  # noqa: F401
    except BaseException as error:
        write_message(replies, {"imported": False,
                                "numpy_error": f"{type(error).__name__}: "
                                               f"{error}"})
        return
    import importlib.util

    folder = os.getcwd()
    sys.path[:0] = [folder]
    sys.path += [p for p in config["path"] if p not in sys.path]
    try:
        spec = importlib.util.spec_from_file_location(
            "mlp", os.path.join(folder, "mlp.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules["mlp"] = module
        spec.loader.exec_module(module)
        classes = subclasses(module.TwoLayerMLP)
    except BaseException as error:          # SyntaxError, SystemExit, ...
        write_message(replies, {"imported": False,
                                "error": describe_error(error)})
        return
    write_message(replies, {"imported": True})
    while True:
        message = read_message(requests)
        if message is None:
            return
        try:
            reply = answer(decode_request(message), classes)
        except BaseException as error:      # the student's code raised
            reply = {"ok": False, "error": describe_error(error)}
        try:
            write_message(replies, reply)
        except (TypeError, ValueError, OverflowError) as error:
            write_message(replies, {"ok": False, "unreadable": str(error)})


if __name__ == "__main__":
    main(sys.argv)
