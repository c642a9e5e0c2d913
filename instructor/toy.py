"""The problem set's toy problem, defined once, and every place that shows it.

The toy problem is Problem 2's small network: students compare its scores
and losses with the reference values the notebook shows (Q2.1 to Q2.4),
the public tests (``test_public.py``, the handout's ``test_mlp.py``) check
a student's ``mlp.py`` against the same numbers, and the grader's public
toy training (``questions.toy_training``) trains it. :data:`TOY` below is
the one place where it is defined; every number shown elsewhere is
computed here from the grader's reference, ``reference.py`` (written apart
from the solved ``mlp.py``), and written into its place by one command:

    python instructor/toy.py --write    # write them all, re-run the notebook
    python instructor/toy.py            # check: list each place that disagrees

The places are the notebook's text, code and outputs (``pset3.ipynb``:
:data:`NOTEBOOK_PLACES` and :func:`output_disagreements`) and the lines
of ``instructor/test_public.py`` between ``# BEGIN TOY PROBLEM`` and
``# END TOY PROBLEM``, which ship to students without ``reference.py``.
The grader and the test suite import this module instead of copying
numbers, and no other ``.py`` or ``.md`` file may hold a copy of a toy
number (:func:`copies`); ``tests/test_toy.py`` fails, naming the file and
the place, whenever a shown number and the reference disagree.
"""
import argparse
import json
import pprint
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:          # reference.py beside it
    sys.path.insert(0, str(HERE))

import reference  # noqa: E402

ROOT = HERE.parent


@dataclass(frozen=True)
class Training:
    """One full-batch training run of the toy network, as ``train`` is
    called in the notebook: ``learning_rate``, ``reg`` and ``num_epochs``,
    the learning rate decayed by :data:`DECAY` after each epoch."""
    learning_rate: float
    reg: float
    num_epochs: int


@dataclass(frozen=True)
class Toy:
    """The toy problem: a network of ``inputs``, ``hidden`` and ``classes``
    units whose weights are drawn with standard deviation ``std`` after
    ``np.random.seed(weight_seed)``, as ``TwoLayerMLP`` draws them (biases
    zero), on ``samples`` samples ``data_scale * randn(samples, inputs)``
    drawn after ``np.random.seed(data_seed)``, with ``labels``. ``reg`` is
    the penalty of the reference losses of Q2.2 and Q2.4; ``training``
    gives the training runs of Q2.3 (sigmoid) and Q2.4 (ReLU)."""
    inputs: int
    hidden: int
    classes: int
    samples: int
    labels: tuple
    std: float
    weight_seed: int
    data_scale: float
    data_seed: int
    reg: float
    training: dict = field(hash=False)

    def __post_init__(self):
        for name in ("inputs", "hidden", "classes", "samples"):
            if not (isinstance(getattr(self, name), int)
                    and getattr(self, name) >= 1):
                raise ValueError(f"the toy's {name} must be an integer >= 1")
        if len(self.labels) != self.samples or not all(
                isinstance(label, int) and 0 <= label < self.classes
                for label in self.labels):
            raise ValueError(f"the toy needs {self.samples} labels (one per "
                             f"sample), each from 0 to {self.classes - 1}")
        if set(self.training) != set(ACTIVATIONS):
            raise ValueError(f"the toy needs one training run for each of "
                             f"{', '.join(ACTIVATIONS)}")
        if self.samples > FULL_BATCH:
            raise ValueError(f"the toy trains in full batches: at most "
                             f"{FULL_BATCH} samples, train's batch size")

    @property
    def sizes(self):
        """(D, H, C), the arguments of ``TwoLayerMLP``."""
        return self.inputs, self.hidden, self.classes


#: The activations of the toy network, in the problem set's order.
ACTIVATIONS = ("sigmoid", "relu")
#: ``train``'s defaults, which the toy training keeps: the learning rate
#: is multiplied by DECAY after each epoch, and each epoch is one step over
#: all the samples (the batch size, FULL_BATCH, is larger than the toy).
DECAY, FULL_BATCH = 0.95, 200

#: The toy problem: the one place to change it. Then run
#: ``python instructor/toy.py --write``.
TOY = Toy(
    inputs=4, hidden=10, classes=3,       # the network's D, H and C
    samples=5, labels=(0, 1, 2, 2, 1),    # N, and each sample's label
    std=0.1, weight_seed=0,               # the weights: std * randn
    data_scale=10, data_seed=1,           # X = data_scale * randn(N, D)
    reg=0.1,                              # the reference losses' penalty
    training={"sigmoid": Training(learning_rate=0.5, reg=1e-5,
                                  num_epochs=100),     # Q2.3
              "relu": Training(learning_rate=0.1, reg=1e-5,
                               num_epochs=50)},        # Q2.4
)

#: The known mistakes (of reference.MISTAKES) whose toy losses the public
#: tests recognise, at reg = 0 and at reg = TOY.reg. The toy's biases are
#: zero, so the mistakes with the biases do not show in them.
DATA_LOSS_MISTAKES = ("loss_sum", "no_activation", "loss_mean_all")
LOSS_MISTAKES = ("loss_sum", "l2_no_half", "l2_missing_in_loss",
                 "no_activation", "loss_mean_all")

#: How the numbers are shown: the public tests' losses with 8 decimals
#: (they accept a difference of LOSS_TOLERANCE), the notebook's with 6 (it
#: calls a difference below 1e-6 right), the final training losses with 6
#: (TRAINED_TOLERANCE: their last digits move with the BLAS library).
LOSS_DECIMALS, SHOWN_DECIMALS, TRAINED_DECIMALS = 8, 6, 6
LOSS_TOLERANCE, TRAINED_TOLERANCE = 1e-7, 1e-5
#: The scores are shown with enough decimals (8 at least) that their
#: largest relative rounding error, as utils.rel_error measures it, stays
#: below this; the notebook calls a difference below 1e-6 right.
SCORES_RTOL = 1e-7


class ToyError(Exception):
    """The toy problem cannot be written: what to do is in the message."""


# ---------------------------------------------------------------------------
# The toy problem and its numbers, from the reference
# ---------------------------------------------------------------------------

def problem(toy=TOY):
    """(params, X, y): the toy network's parameters, drawn as
    ``TwoLayerMLP(D, H, C, std=toy.std)`` draws them after
    ``np.random.seed(toy.weight_seed)`` (W1, then W2; zero biases), and
    the data as the notebook draws it."""
    rng = np.random.RandomState(toy.weight_seed)
    params = {"W1": toy.std * rng.randn(toy.inputs, toy.hidden),
              "b1": np.zeros(toy.hidden),
              "W2": toy.std * rng.randn(toy.hidden, toy.classes),
              "b2": np.zeros(toy.classes)}
    rng = np.random.RandomState(toy.data_seed)
    X = toy.data_scale * rng.randn(toy.samples, toy.inputs)
    return params, X, np.array(toy.labels)


def trained_loss(activation, toy=TOY, decay=DECAY):
    """The last entry of ``loss_history`` after the toy's training run for
    ``activation``: full-batch gradient descent with the reference's loss
    and gradients, the learning rate multiplied by ``decay`` after each
    epoch (each entry is the loss before that step's update)."""
    params, X, y = problem(toy)
    run = toy.training[activation]
    rate, loss = run.learning_rate, None
    for _ in range(run.num_epochs):
        loss = reference.loss(params, X, y, activation, run.reg)
        grads = reference.gradients(params, X, y, activation, run.reg)
        params = {name: params[name] - rate * grads[name]
                  for name in params}
        rate *= decay
    return loss


@dataclass(frozen=True)
class Numbers:
    """The toy's reference numbers, by activation: ``scores`` (N, C),
    ``data_loss`` (reg = 0) and ``loss`` (reg = toy.reg), the same with
    each known mistake (``data_loss_mistakes``, ``loss_mistakes``), the
    final loss of each training run (``trained``), and Q2.3's with the
    learning rate never decayed (``trained_without_decay``)."""
    scores: dict
    data_loss: dict
    loss: dict
    data_loss_mistakes: dict
    loss_mistakes: dict
    trained: dict
    trained_without_decay: float


_NUMBERS = {}


def numbers(toy=TOY):
    """The :class:`Numbers` of ``toy``, computed by reference.py."""
    key = repr(toy)
    if key not in _NUMBERS:
        params, X, y = problem(toy)

        def loss(activation, reg, mistakes=()):
            return reference.loss(params, X, y, activation, reg,
                                  frozenset(mistakes))
        _NUMBERS[key] = Numbers(
            scores={a: reference.forward(params, X, a)[2]
                    for a in ACTIVATIONS},
            data_loss={a: loss(a, 0.0) for a in ACTIVATIONS},
            loss={a: loss(a, toy.reg) for a in ACTIVATIONS},
            data_loss_mistakes={a: {m: loss(a, 0.0, {m})
                                    for m in DATA_LOSS_MISTAKES}
                                for a in ACTIVATIONS},
            loss_mistakes={a: {m: loss(a, toy.reg, {m})
                               for m in LOSS_MISTAKES}
                           for a in ACTIVATIONS},
            trained={a: trained_loss(a, toy) for a in ACTIVATIONS},
            trained_without_decay=trained_loss("sigmoid", toy, decay=1.0))
    return _NUMBERS[key]


def ambiguities(toy=TOY):
    """Numbers of the toy that the public tests could not tell apart
    (within LOSS_TOLERANCE, or TRAINED_TOLERANCE for the final losses):
    the right loss and a known mistake's, or two mistakes'. Empty for a
    toy whose numbers all differ, as every toy must."""
    n, found = numbers(toy), []
    tables = [(f"{a}, reg=0", {"right": n.data_loss[a],
                               **n.data_loss_mistakes[a]}, LOSS_TOLERANCE)
              for a in ACTIVATIONS]
    tables += [(f"{a}, reg={code(toy.reg)}", {"right": n.loss[a],
                                              **n.loss_mistakes[a]},
                LOSS_TOLERANCE) for a in ACTIVATIONS]
    tables.append(("Q2.3's training", {
        "right": n.trained["sigmoid"],
        "decay_never": n.trained_without_decay}, TRAINED_TOLERANCE))
    for where, values, tolerance in tables:
        names = list(values)
        for i, first in enumerate(names):
            for second in names[i + 1:]:
                if abs(values[first] - values[second]) < 2 * tolerance:
                    found.append(
                        f"instructor/toy.py: the toy loss ({where}) of "
                        f"{first} and of {second} differ by less than "
                        f"{code(2 * tolerance)}, so the public tests cannot "
                        f"tell them apart: change TOY (a seed, say)")
    return found


def scores_decimals(scores):
    """The decimals (8 or more) with which ``scores`` are shown: enough
    that the largest relative rounding error stays below SCORES_RTOL."""
    for decimals in range(8, 16):
        rounded = np.round(scores, decimals)
        error = np.abs(rounded - scores) / np.maximum(
            1e-8, np.abs(rounded) + np.abs(scores))
        if error.max() < SCORES_RTOL:
            return decimals
    return 16


# ---------------------------------------------------------------------------
# How the numbers are written
# ---------------------------------------------------------------------------

def code(value):
    """A number as Python code shows it: ``0.1``, ``1e-5``, ``100``."""
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else text


def tex(value):
    """A number in LaTeX: ``0.1``, ``10^{-5}``, ``2 \\times 10^{-5}``."""
    mantissa, _, exponent = code(value).partition("e")
    if not exponent:
        return mantissa
    power = f"10^{{{exponent}}}"
    return power if mantissa == "1" else f"{mantissa} \\times {power}"


def fixed(value, decimals):
    return f"{value:.{decimals}f}"


def scores_code(scores, indent):
    """The scores as the nested list of ``np.array(...)``, one row a line,
    the rows after the first indented by ``indent`` spaces."""
    decimals = scores_decimals(scores)
    rows = ["[" + ", ".join(fixed(v, decimals) for v in row) + "]"
            for row in scores]
    return "[" + (",\n" + " " * indent).join(rows) + "]"


#: What each kind of field looks like in the text, whatever its value.
KINDS = {
    "int": r"\d+",
    "number": r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?",
    "tex": r"10\^\{-?\d+\}|-?\d+(?:\.\d+)?(?: \\times 10\^\{-?\d+\})?",
    "list": r"\[[-\d., ]*\]",
    "matrix": r"\[\[.*?\]\]",
}


def fields(toy=TOY):
    """{name: (kind of KINDS, the text)}: what the notebook's places show."""
    n = numbers(toy)
    shown = {
        "inputs": ("int", str(toy.inputs)),
        "hidden": ("int", str(toy.hidden)),
        "classes": ("int", str(toy.classes)),
        "samples": ("int", str(toy.samples)),
        "labels": ("list", str(list(toy.labels))),
        "std": ("number", code(toy.std)),
        "weight_seed": ("int", str(toy.weight_seed)),
        "data_scale": ("number", code(toy.data_scale)),
        "data_seed": ("int", str(toy.data_seed)),
        "reg": ("number", code(toy.reg)),
        "reg_tex": ("tex", tex(toy.reg)),
        "sigmoid_scores": ("matrix", scores_code(
            n.scores["sigmoid"], len("correct_scores = np.array(["))),
    }
    for activation in ACTIVATIONS:
        run = toy.training[activation]
        shown.update({
            f"{activation}_data_loss": (
                "number", fixed(n.data_loss[activation], SHOWN_DECIMALS)),
            f"{activation}_loss": (
                "number", fixed(n.loss[activation], SHOWN_DECIMALS)),
            f"{activation}_lr": ("number", code(run.learning_rate)),
            f"{activation}_reg": ("number", code(run.reg)),
            f"{activation}_reg_tex": ("tex", tex(run.reg)),
            f"{activation}_epochs": ("int", str(run.num_epochs)),
            f"{activation}_trained": (
                "number", fixed(n.trained[activation], TRAINED_DECIMALS)),
            f"{activation}_trained_about": (
                "number", fixed(n.trained[activation], 3)),
        })
    return shown


# ---------------------------------------------------------------------------
# The places that show them
# ---------------------------------------------------------------------------

NOTEBOOK = "pset3.ipynb"
PUBLIC_TESTS = "instructor/test_public.py"


@dataclass(frozen=True)
class Place:
    """Text of the notebook that shows toy values: ``template`` (literal
    text with ``<<field>>`` for each value of :func:`fields`) found
    ``count`` times in the cell whose source holds ``landmark``."""
    what: str
    landmark: str
    template: str
    count: int = 1

    def pattern(self, shown):
        parts, start = [], 0
        for match in re.finditer(r"<<(\w+)>>", self.template):
            parts.append(re.escape(self.template[start:match.start()]))
            parts.append(f"(?:{KINDS[shown[match.group(1)][0]]})")
            start = match.end()
        parts.append(re.escape(self.template[start:]))
        return re.compile("".join(parts), re.S)

    def text(self, shown):
        return re.sub(r"<<(\w+)>>", lambda m: shown[m.group(1)][1],
                      self.template)


NOTEBOOK_PLACES = (
    Place("Problem 2's text: the toy problem", "**The toy problem.**",
          "A network with <<inputs>> inputs, <<hidden>> hidden units and "
          "<<classes>> classes, weights drawn with standard deviation "
          "<<std>>, on <<samples>> samples $X = <<data_scale>> \\cdot "
          "\\text{randn}(<<samples>>, <<inputs>>)$ with labels "
          "$<<labels>>$."),
    Place("the toy problem's code", "def init_toy_model",
          "input_size, hidden_size, num_classes, num_inputs = <<inputs>>, "
          "<<hidden>>, <<classes>>, <<samples>>\n"),
    Place("the toy problem's code", "def init_toy_model",
          "    np.random.seed(<<weight_seed>>)\n    return TwoLayerMLP("
          "input_size, hidden_size, num_classes, std=<<std>>,\n"),
    Place("the toy problem's code", "def init_toy_model",
          "    np.random.seed(<<data_seed>>)\n    X = <<data_scale>> * "
          "np.random.randn(num_inputs, input_size)\n    y = np.array("
          "<<labels>>)\n"),
    Place("Q2.1's text", "### Q2.1 [",
          "without the penalty ($\\lambda = 0$) with the reference value "
          "<<sigmoid_data_loss>>."),
    Place("Q2.1's check", "correct_scores = np.array(",
          "correct_scores = np.array(<<sigmoid_scores>>)\n"),
    Place("Q2.1's check", "correct_scores = np.array(",
          "correct_loss = <<sigmoid_data_loss>>\n"),
    Place("Q2.2's text", "### Q2.2 [",
          "then the loss at $\\lambda = <<reg_tex>>$ against the problem "
          "set's reference value <<sigmoid_loss>> "),
    Place("Q2.2's check", "print(check_gradients(net_sigmoid_toy, X_toy, "
                          "y_toy, reg=0.0))",
          "loss, _ = net_sigmoid_toy.loss(X_toy, y_toy, reg=<<reg>>)\n"
          "correct_loss = <<sigmoid_loss>>\n"
          "print(f\"\\nQ2.1 sigmoid loss with the penalty (reg = <<reg>>): "),
    Place("Q2.2's check", "print(check_gradients(net_sigmoid_toy, X_toy, "
                          "y_toy, reg=0.0))",
          "\nprint(check_gradients(net_sigmoid_toy, X_toy, y_toy, "
          "reg=<<reg>>))"),
    Place("Q2.3's text", "### Q2.3 [",
          "train `net_sigmoid_toy` on the <<samples>> toy samples"),
    Place("Q2.3's text", "### Q2.3 [",
          "The settings: learning rate <<sigmoid_lr>>, learning-rate decay "
          "0.95 (the default), $\\lambda = <<sigmoid_reg_tex>>$, "
          "<<sigmoid_epochs>> epochs, and the default batch size 200, more "
          "than the <<samples>> samples, so each epoch is one full-batch "
          "step. The final training loss should be <<sigmoid_trained>>."),
    Place("Q2.3's training", "stats_sigmoid_toy = net_sigmoid_toy.train(",
          "learning_rate=<<sigmoid_lr>>, reg=<<sigmoid_reg>>,\n"
          "                                          "
          "num_epochs=<<sigmoid_epochs>>)"),
    Place("the discussion of Q2.3's training", "The final loss is about",
          "The final loss is about <<sigmoid_trained_about>>, as in the "
          "reference."),
    Place("Q2.4's text", "### Q2.4 [",
          "The loss at $\\lambda = <<reg_tex>>$ must match the reference "
          "<<relu_loss>> "),
    Place("Q2.4's text", "### Q2.4 [",
          "as in Q2.3 but with learning rate <<relu_lr>> for "
          "<<relu_epochs>> epochs (decay 0.95, $\\lambda = <<relu_reg_tex>>$"
          ", batch size 200), storing what `train` returns in "
          "`stats_relu_toy`; the final training loss should be "
          "<<relu_trained>>."),
    Place("Q2.4's check", "tiny_relu = TwoLayerMLP(",
          "loss, _ = net_relu_toy.loss(X_toy, y_toy, reg=<<reg>>)\n"
          "correct_loss = <<relu_loss>>\n"),
    Place("Q2.4's check", "tiny_relu = TwoLayerMLP(",
          ", X_toy, y_toy, reg=<<reg>>))", count=2),
    Place("Q2.4's training", "stats_relu_toy = net_relu_toy.train(",
          "learning_rate=<<relu_lr>>, reg=<<relu_reg>>,\n"
          "                                    num_epochs=<<relu_epochs>>)"),
    Place("the discussion of Q2.4's training",
          "With ReLU the loss drops to about",
          "With ReLU the loss drops to about <<relu_trained_about>> in "
          "<<relu_epochs>> epochs instead of <<sigmoid_epochs>>, with a "
          "learning rate of <<relu_lr>> instead of <<sigmoid_lr>>."),
)


def find_cell(nb, landmark):
    """(index, cell) of the first cell whose source holds landmark, or
    (None, None)."""
    for index, cell in enumerate(nb.cells):
        if landmark in cell.source:
            return index, cell
    return None, None


def _where(index, place):
    return f"{NOTEBOOK}, cell {index} ({place.what})"


def notebook_source_disagreements(nb, toy=TOY):
    """What the notebook's sources show that the reference does not give,
    one line per place."""
    shown, found = fields(toy), []
    for place in NOTEBOOK_PLACES:
        index, cell = find_cell(nb, place.landmark)
        if cell is None:
            found.append(f"{NOTEBOOK}: no cell holds {place.landmark!r} "
                         f"({place.what}); update NOTEBOOK_PLACES in "
                         f"instructor/toy.py")
            continue
        matches = list(place.pattern(shown).finditer(cell.source))
        if len(matches) != place.count:
            found.append(f"{_where(index, place)}: the text "
                         f"{place.template!r} is there {len(matches)} "
                         f"times, not {place.count}; update NOTEBOOK_PLACES "
                         f"in instructor/toy.py")
            continue
        expected = place.text(shown)
        for match in matches:
            if match.group(0) != expected:
                found.append(f"{_where(index, place)}: shows "
                             f"{match.group(0)!r} / the reference gives "
                             f"{expected!r}")
    return found


def write_notebook_sources(nb, toy=TOY):
    """Write every place's text into the notebook's sources; return the
    number of cells changed. Refuses (ToyError) where a place is missing."""
    problems = [p for p in notebook_source_disagreements(nb, toy)
                if "update NOTEBOOK_PLACES" in p]
    if problems:
        raise ToyError("\n".join(problems))
    shown, changed = fields(toy), set()
    for place in NOTEBOOK_PLACES:
        index, cell = find_cell(nb, place.landmark)
        text = place.text(shown)
        source = place.pattern(shown).sub(lambda _: text, cell.source)
        if source != cell.source:
            cell.source = source
            changed.add(index)
    return len(changed)


def _stream(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.output_type == "stream" and o.name == "stdout")


def output_disagreements(nb, toy=TOY):
    """What the notebook's outputs print that disagrees with the reference:
    the shapes of the toy's parameters, the scores' difference from the
    reference, the losses and the final training losses."""
    n, found = numbers(toy), []
    rerun = "; re-run the notebook (python instructor/toy.py --write)"
    D, H, C = toy.sizes

    def output(landmark, what):
        index, cell = find_cell(nb, landmark)
        if cell is None:
            found.append(f"{NOTEBOOK}: no cell holds {landmark!r} ({what})")
            return None, ""
        return f"{NOTEBOOK}, cell {index} output ({what})", _stream(cell)

    where, text = output("def init_toy_model", "the parameters' shapes")
    shapes = (f"W1: shape ({D}, {H})\nb1: shape ({H},)\n"
              f"W2: shape ({H}, {C})\nb2: shape ({C},)\n")
    if where and text != shapes:
        found.append(f"{where}: prints {text!r} / expected {shapes!r}"
                     + rerun)

    def loss_line(landmark, what, label, reference_value):
        where, text = output(landmark, what)
        if not where:
            return
        match = re.search(rf"{re.escape(label)}: (\S+)  reference: (\S+)  ",
                          text)
        shown = round(reference_value, SHOWN_DECIMALS)
        if not match:
            found.append(f"{where}: no line {label!r}" + rerun)
        elif abs(float(match.group(1)) - reference_value) > 1e-8 or \
                abs(float(match.group(2)) - shown) > 1e-12:
            found.append(f"{where}: prints {match.group(0).strip()!r} / the "
                         f"reference gives {reference_value:.8f}, shown as "
                         f"{shown:.{SHOWN_DECIMALS}f}" + rerun)

    landmark = "correct_scores = np.array("
    where, text = output(landmark, "Q2.1's check")
    if where:
        match = re.search(r"Q2\.1 sigmoid scores: shape \((\d+), (\d+)\), "
                          r"largest relative difference from the reference "
                          r"(\S+) \(right: below 1e-6\)", text)
        if not match:
            found.append(f"{where}: no line 'Q2.1 sigmoid scores'" + rerun)
        elif (int(match.group(1)), int(match.group(2))) != \
                (toy.samples, C) or not float(match.group(3)) < 1e-6:
            found.append(f"{where}: prints {match.group(0)!r} / expected the "
                         f"shape ({toy.samples}, {C}) and a difference below "
                         f"1e-6" + rerun)
    loss_line(landmark, "Q2.1's check",
              "Q2.1 sigmoid loss without the penalty",
              n.data_loss["sigmoid"])
    loss_line("print(check_gradients(net_sigmoid_toy, X_toy, y_toy, "
              "reg=0.0))", "Q2.2's check",
              f"Q2.1 sigmoid loss with the penalty (reg = {code(toy.reg)})",
              n.loss["sigmoid"])
    loss_line("tiny_relu = TwoLayerMLP(", "Q2.4's check", "Q2.4 relu loss",
              n.loss["relu"])
    for activation, landmark in (
            ("sigmoid", "stats_sigmoid_toy = net_sigmoid_toy.train("),
            ("relu", "stats_relu_toy = net_relu_toy.train(")):
        where, text = output(landmark, f"the {activation} toy training")
        match = re.search(r"Final training loss: (\S+)", text)
        expected = n.trained[activation]
        if where and not match:
            found.append(f"{where}: no line 'Final training loss'" + rerun)
        elif where and abs(float(match.group(1)) - expected) > \
                0.5 * 10 ** -TRAINED_DECIMALS + 1e-9:
            found.append(f"{where}: prints {match.group(0)!r} / the reference "
                         f"gives {expected:.{TRAINED_DECIMALS}f}" + rerun)
    return found


# -- instructor/test_public.py ----------------------------------------------

BEGIN = "# BEGIN TOY PROBLEM (generated from the reference: not to be edited)"
END = "# END TOY PROBLEM"


def _assign(name, value):
    """``name = value``, the value as pprint lays it out within 79
    columns, with double quotes."""
    prefix = f"{name} = "
    text = pprint.pformat(value, width=79 - len(prefix), sort_dicts=False)
    text = text.replace("'", '"').replace("\n", "\n" + " " * len(prefix))
    return prefix + text


def public_tests_block(toy=TOY):
    """The lines of test_public.py between BEGIN and END, both included."""
    n = numbers(toy)

    def rounded(table, digits=LOSS_DECIMALS):
        return {key: (rounded(value, digits) if isinstance(value, dict)
                      else round(float(value), digits))
                for key, value in table.items()}
    training = toy.training["sigmoid"]
    return "\n".join([
        BEGIN,
        "#: The problem set's toy problem: TOY_INPUTS inputs, TOY_HIDDEN",
        "#: hidden units, TOY_CLASSES classes, weights of standard deviation",
        "#: TOY_STD drawn after np.random.seed(TOY_WEIGHT_SEED); TOY_SAMPLES",
        "#: samples TOY_DATA_SCALE * randn(TOY_SAMPLES, TOY_INPUTS) drawn",
        "#: after np.random.seed(TOY_DATA_SEED), with the labels TOY_LABELS.",
        f"TOY_INPUTS, TOY_HIDDEN, TOY_CLASSES, TOY_SAMPLES = {toy.inputs}, "
        f"{toy.hidden}, {toy.classes}, {toy.samples}",
        f"TOY_STD, TOY_WEIGHT_SEED = {code(toy.std)}, {toy.weight_seed}",
        f"TOY_DATA_SCALE, TOY_DATA_SEED = {code(toy.data_scale)}, "
        f"{toy.data_seed}",
        _assign("TOY_LABELS", list(toy.labels)),
        "#: The penalty of the reference losses, and Q2.3's training (one",
        f"#: full-batch step per epoch, the learning rate decayed by "
        f"{code(DECAY)}).",
        f"TOY_REG = {code(toy.reg)}",
        "TOY_TRAINING = {"
        f"\"learning_rate\": {code(training.learning_rate)}, "
        f"\"reg\": {code(training.reg)}, "
        f"\"num_epochs\": {training.num_epochs}}}",
        "#: The toy network's scores, and its loss without the penalty",
        "#: (reg = 0), right and with each known mistake that shows in them",
        "#: (the toy's biases are zero: mistakes with them do not show).",
        _assign("TOY_SCORES", {
            a: np.round(n.scores[a], scores_decimals(n.scores[a])).tolist()
            for a in ACTIVATIONS}),
        _assign("TOY_DATA_LOSS", rounded(n.data_loss)),
        _assign("TOY_DATA_LOSS_MISTAKES", rounded(n.data_loss_mistakes)),
        "#: The problem set's reference loss at reg = TOY_REG, and what known",
        "#: mistakes give instead.",
        _assign("TOY_LOSS", rounded(n.loss)),
        _assign("TOY_LOSS_MISTAKES", rounded(n.loss_mistakes)),
        "#: A loss this close to one of these numbers is taken for it.",
        f"TOY_LOSS_TOLERANCE = {code(LOSS_TOLERANCE)}",
        "#: The final toy loss of Q2.3, and the same with the learning rate",
        "#: never decayed.",
        f"TOY_TRAINED_LOSS = "
        f"{round(n.trained['sigmoid'], TRAINED_DECIMALS)!r}",
        f"TOY_TRAINED_WITHOUT_DECAY = "
        f"{round(n.trained_without_decay, TRAINED_DECIMALS)!r}",
        f"TOY_TRAINED_TOLERANCE = {code(TRAINED_TOLERANCE)}",
        END,
    ])


def _block_span(text):
    """(start, end) of the generated block in test_public.py's text, or
    None."""
    start = text.find(BEGIN)
    end = text.find(END, max(start, 0))
    if start < 0 or end < 0 or text.count(BEGIN) != 1:
        return None
    return start, end + len(END)


def public_tests_disagreements(text, toy=TOY):
    span = _block_span(text)
    if span is None:
        return [f"{PUBLIC_TESTS}: no lines between {BEGIN!r} and {END!r}"]
    found = []
    shown = text[span[0]:span[1]].split("\n")
    expected = public_tests_block(toy).split("\n")
    first = text.count("\n", 0, span[0]) + 1
    for number, (got, want) in enumerate(zip(shown, expected), first):
        if got != want:
            found.append(f"{PUBLIC_TESTS} line {number} (the toy problem's "
                         f"lines): {got!r} / the reference gives {want!r}")
    if len(shown) != len(expected):
        found.append(f"{PUBLIC_TESTS} (the toy problem's lines): "
                     f"{len(shown)} lines / the reference gives "
                     f"{len(expected)}")
    return found


# -- copies elsewhere ---------------------------------------------------------

def _number_texts(toy=TOY):
    """The toy's numbers as a copy would show them: every loss with 6 and
    8 decimals, and the scores."""
    n = numbers(toy)
    values = [*n.data_loss.values(), *n.loss.values(), *n.trained.values(),
              n.trained_without_decay]
    for table in (n.data_loss_mistakes, n.loss_mistakes):
        values += [v for mistakes in table.values()
                   for v in mistakes.values()]
    texts = {fixed(v, d) for v in values for d in (6, 8)}
    texts |= {fixed(abs(v), 8) for a in ACTIVATIONS
              for v in n.scores[a].ravel()}
    return texts


def _files(root):
    """The repository's .py and .md files (git's, if it is a checkout:
    tracked and not ignored)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=root, capture_output=True, text=True, check=True).stdout
        paths = [root / line for line in listed.splitlines()]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in root.rglob("*")
                 if not any(part.startswith(".") for part in
                            p.relative_to(root).parts)]
    return sorted(p for p in paths if p.suffix in (".py", ".md")
                  and p.is_file())


def copies(root=ROOT, toy=TOY, nb=None):
    """Toy numbers copied by hand outside their places: in any .py or .md
    file (but this one and test_public.py's generated lines) and in the
    notebook's sources outside NOTEBOOK_PLACES. Code reads them from this
    module (``toy.numbers()``); documents refer to the notebook."""
    texts, found = _number_texts(toy), []
    pattern = re.compile(r"(?<![\d.])(?:" + "|".join(
        re.escape(t) for t in sorted(texts, key=len, reverse=True))
        + r")(?!\d)")
    for path in _files(root):
        name = path.relative_to(root).as_posix()
        if name == "instructor/toy.py":
            continue
        text = path.read_text(errors="replace")
        if name == PUBLIC_TESTS and _block_span(text):
            start, end = _block_span(text)
            text = text[:start] + re.sub(r"[^\n]", " ", text[start:end]) \
                + text[end:]
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{name} line {line}: {match.group(0)} is a copy of "
                         f"a toy number: "
                         + ("refer to the notebook instead" if
                            path.suffix == ".md" else
                            "compute it with instructor/toy.py "
                            "(toy.numbers())"))
    if nb is not None:
        shown = fields(toy)
        for index, cell in enumerate(nb.cells):
            source = cell.source
            for place in NOTEBOOK_PLACES:
                if place.landmark in cell.source:
                    source = place.pattern(shown).sub(
                        lambda m: " " * len(m.group(0)), source)
            for match in pattern.finditer(source):
                found.append(f"{NOTEBOOK}, cell {index}: {match.group(0)} is "
                             f"a copy of a toy number outside the places "
                             f"instructor/toy.py writes (NOTEBOOK_PLACES)")
    return found


# ---------------------------------------------------------------------------
# Checking and writing every place
# ---------------------------------------------------------------------------

class Node(dict):
    """A notebook's part read from its JSON, with nbformat's attribute
    access (``cell.source``) and its lines joined (``source``, ``text``,
    an output's ``text/plain`` and other non-JSON data)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def read_notebook(path):
    """The notebook at path, as nbformat reads it, but without nbformat
    (whose import takes seconds) and without validation: for checking."""
    def node(value, key=None):
        if isinstance(value, dict):
            return Node({k: node(v, k) for k, v in value.items()})
        if isinstance(value, list):
            if key in ("source", "text") or (
                    key and "/" in key and not key.endswith("json")):
                return "".join(value)
            return [node(v) for v in value]
        return value
    return node(json.loads(Path(path).read_text()))


def disagreements(root=ROOT, toy=TOY):
    """Every place whose number disagrees with the reference, one line
    each, naming the file and the place; empty when all agree."""
    root = Path(root)
    nb = read_notebook(root / NOTEBOOK)
    return (ambiguities(toy) + notebook_source_disagreements(nb, toy)
            + output_disagreements(nb, toy)
            + public_tests_disagreements(
                (root / PUBLIC_TESTS).read_text(), toy)
            + copies(root, toy, nb))


def run_notebook(nb, root):
    """Execute nb top to bottom in a fresh kernel, in root (as
    tests/test_notebook.py does); refuse (ToyError) if a cell raised or
    printed to stderr or a warning."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(root)}})
    try:
        client.execute()
    except CellExecutionError as error:
        raise ToyError(f"the notebook stopped with an error; nothing was "
                       f"written to {NOTEBOOK}:\n{error}") from None
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            text = output.get("text", "") or str(output.get("data", {}).get(
                "text/plain", ""))
            if output.get("name") == "stderr" or "Warning" in text:
                raise ToyError(f"{NOTEBOOK}, cell {index} printed a warning "
                               f"or to stderr; nothing was written to "
                               f"{NOTEBOOK}:\n{text[:1000]}")


def write(root=ROOT, toy=TOY, execute=True, say=print):
    """Write the toy's numbers into every place under root; re-run the
    notebook (unless ``execute`` is false) when its sources changed or its
    outputs disagree. Returns what still disagrees (empty when done)."""
    import nbformat

    if ambiguities(toy):
        raise ToyError("\n".join(ambiguities(toy)))
    root = Path(root)
    path = root / PUBLIC_TESTS
    text = path.read_text()
    span = _block_span(text)
    if span is None:
        raise ToyError(f"{PUBLIC_TESTS} must hold one block of lines from "
                       f"{BEGIN!r} to {END!r}")
    block = public_tests_block(toy)
    if text[span[0]:span[1]] != block:
        path.write_text(text[:span[0]] + block + text[span[1]:])
        say(f"wrote {PUBLIC_TESTS} (the toy problem's lines)")

    path = root / NOTEBOOK
    before = path.read_bytes()
    nb = nbformat.reads(before.decode(), as_version=4)
    changed = write_notebook_sources(nb, toy)
    stale = output_disagreements(nb, toy)
    if changed:
        say(f"{NOTEBOOK}: the toy's values written into {changed} cells")
    if execute and (changed or stale):
        say(f"{NOTEBOOK}: running it top to bottom (about a minute)")
        started = time.perf_counter()
        run_notebook(nb, root)
        say(f"{NOTEBOOK}: ran in {time.perf_counter() - started:.0f} s")
    if changed or (execute and stale):
        if path.read_bytes() != before:
            raise ToyError(f"{NOTEBOOK} changed while this ran; nothing was "
                           f"written to it: run the command again")
        nbformat.write(nb, path)
        say(f"wrote {NOTEBOOK}")
    return disagreements(root, toy)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Check that every place showing the toy problem's "
                    "numbers agrees with the reference, or (--write) write "
                    "them all from TOY in instructor/toy.py.")
    parser.add_argument("--write", action="store_true",
                        help="write every place, and re-run the notebook "
                             "when its toy cells changed (needs MNIST: "
                             "$MNIST_DATA_DIR or the download cache)")
    parser.add_argument("--no-execute", action="store_true",
                        help="with --write: only the notebook's sources; "
                             "its outputs disagree until it is re-run")
    parser.add_argument("--root", default=str(ROOT),
                        help="the repository (default: this one)")
    args = parser.parse_args(argv)
    try:
        found = (write(args.root, execute=not args.no_execute)
                 if args.write else disagreements(args.root))
    except ToyError as error:
        sys.exit(f"error: {error}")
    if found:
        print("\n".join(found))
        sys.exit(f"{len(found)} place(s) disagree with the reference"
                 + ("" if args.write else
                    ": run python instructor/toy.py --write"))
    D, H, C = TOY.sizes
    print(f"every place agrees with the reference (the {D}-{H}-{C} toy "
          f"network on {TOY.samples} samples)")


if __name__ == "__main__":
    main()
