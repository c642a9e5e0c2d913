"""Comparing a student's answer with the reference, and saying how it
differs, on the trusted side of grading.

A check in ``questions.py`` receives what the student's code returned as
plain data (``grading.decode``) and hands it to these helpers, which raise
:class:`Wrong` with a message for the student when it is not right. A
hidden check's message names the quantity, the mistake when it is known,
and how close the answer is in words ("within 1%", "far off"), but never a
number of the hidden problem: no values, no errors, no sizes, no counts;
a shape is described by its axes, ``(1, H)`` against ``(H,)``. A public
check (whose inputs the student has) may show its numbers.
"""
import math
import numbers

import numpy as np

#: The relative error an answer may have (float32 arithmetic passes).
RTOL = 1e-5


class Wrong(Exception):
    """A check's verdict: the student's answer is wrong, and why.

    ``mistakes``: the names of the known mistakes that explain it (None if
    no known mistake does). ``missing``: the part is not written yet.
    ``wholly``: the answer has nothing of the part in it (None, not
    numbers, or the same number everywhere, zeros say) and no known mistake
    explains it. A part that is missing or wholly wrong is never stood in
    for by the reference on the digits; a bug (an exception, a wrong
    shape, a wrong value) is.
    """

    def __init__(self, message, mistakes=None, missing=False, wholly=False):
        super().__init__(message)
        self.mistakes = None if mistakes is None else frozenset(mistakes)
        self.missing = missing
        self.wholly = wholly and not mistakes


class Raised:
    """The student's call raised: the exception's type name and the
    handout function it came from, as a hidden check may show them."""

    def __init__(self, kind, not_implemented=False, function=""):
        self.kind, self.not_implemented = kind, not_implemented
        self.function = function

    def __str__(self):
        what = "is not implemented yet" if self.not_implemented else \
            f"raised {self.kind}"
        return what + (f" (in {self.function})" if self.function else "")


class Other:
    """An answer that is not plain data (an object of the student's, say).
    The sandbox sends its type's name, which the student's code can choose,
    so only names from a closed list are ever shown."""

    SHOWN = {"array too large to send", "list too long to send",
             "tuple too long to send",
             *(f"ndarray of {dtype}" for dtype in (
                 "object", "complex64", "complex128", "float128", "str",
                 "bytes", "datetime64", "timedelta64", "void"))}

    def __init__(self, type_name):
        self.type_name = type_name

    def __str__(self):
        if self.type_name not in self.SHOWN:
            return "an object of another type"
        spoken = self.type_name.startswith(("a", "e", "i", "o", "u", "nd"))
        return ("an " if spoken else "a ") + self.type_name


# ---------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------

def and_join(items):
    items = list(items)
    return items[0] if len(items) == 1 else \
        ", ".join(items[:-1]) + " and " + items[-1]


def kind(value, public):
    """What an answer is: with ``public`` its dtype and shape (e.g. "an
    ndarray of int64 with shape (5,)"), else its type alone."""
    if isinstance(value, np.ndarray):
        return (f"an ndarray of {value.dtype} with shape {value.shape}"
                if public else f"an ndarray of {value.dtype}")
    if isinstance(value, (Other, Raised)):
        return str(value) if isinstance(value, Other) else \
            f"an exception ({value})"
    return "None" if value is None else f"a {type(value).__name__}"


def axes(shape, names):
    """A shape in the names of its axes: (1, H) for (1, 7) when the axis of
    size 7 is named H in ``names`` ({size: name}); None when an axis has
    neither a name nor size 1, or there are more than two, so that no
    hidden size, and next to nothing a submission could choose, is
    shown."""
    if len(shape) > 2 or any(n != 1 and n not in names for n in shape):
        return None
    words = [names.get(n, "1") for n in shape]
    return "(" + ", ".join(words) + ("," if len(words) == 1 else "") + ")"


def relative_error(got, expected):
    got, expected = np.asarray(got, float), np.asarray(expected, float)
    scale = max(float(np.linalg.norm(expected)), 1e-12)
    return float(np.linalg.norm(got - expected)) / scale


def closeness(error):
    """How far off an answer is, in words that give away no number of the
    hidden problem."""
    if error <= 0.01:
        return "within 1% of the right values, but not within the tolerance"
    if error < 0.5:
        return "off by more than 1%"
    return "far off"


# ---------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------

def as_array(what, got, shape, expected_shape, names=None, public=False,
             labels=False):
    """got as a float64 ndarray if it is one of ``expected_shape`` (named
    ``shape`` in symbols, e.g. "(N, C)"; ``names`` maps sizes to those
    symbols) with a float dtype (with ``labels``, an integer one) and finite
    entries; Wrong otherwise."""
    sizes = f" = {tuple(expected_shape)}" if public else ""
    if isinstance(got, Raised):
        raise Wrong(f"{what}: {got}", missing=got.not_implemented,
                    wholly=got.not_implemented)
    if not isinstance(got, np.ndarray):
        raise Wrong(f"{what}: got {kind(got, public)} / expected an ndarray "
                    f"of shape {shape}{sizes}", missing=got is None,
                    wholly=True)
    if got.shape != tuple(expected_shape):
        shown = got.shape if public else axes(got.shape, names or {})
        raise Wrong(f"{what}: got "
                    + (f"shape {shown}" if shown else "another shape")
                    + f" / expected {shape}{sizes}")
    if labels:
        if got.dtype.kind not in "iu":
            raise Wrong(f"{what}: got dtype {got.dtype} / expected integer "
                        f"labels; convert with .astype(np.int64)",
                        wholly=True)
        return got
    if got.dtype.kind not in "fiub":     # booleans and integers are numbers
        raise Wrong(f"{what}: got dtype {got.dtype} / expected floating "
                    f"point", wholly=True)
    if not np.isfinite(got.astype(np.float64)).all():
        where = (f" in {int(np.sum(~np.isfinite(got)))} of {got.size} "
                 f"entries" if public else "")
        raise Wrong(f"{what}: got NaN or inf{where} / expected finite "
                    f"numbers")
    return got.astype(np.float64)


def as_number(what, got):
    """got as a float, if it is a finite real number (or an array holding
    one number)."""
    if isinstance(got, Raised):
        raise Wrong(f"{what}: {got}", missing=got.not_implemented,
                    wholly=got.not_implemented)
    if isinstance(got, np.ndarray) and got.size == 1 \
            and got.dtype.kind in "iuf":
        got = got.item()
    if isinstance(got, (bool, np.bool_)) or not isinstance(got,
                                                           numbers.Real):
        raise Wrong(f"{what}: got {kind(got, False)} / expected a number",
                    missing=got is None, wholly=True)
    try:
        value = float(got)
    except OverflowError:                     # an int beyond 1.8e308
        raise Wrong(f"{what}: got an integer too large for a float / "
                    f"expected a finite number") from None
    if not math.isfinite(value):
        raise Wrong(f"{what}: got {value} / expected a finite number")
    return value


def expect_array(what, got, expected, public=False, rtol=RTOL):
    """Nothing if got is within ``rtol`` (relative error of the whole array)
    of expected; Wrong otherwise, saying how close it is."""
    error = relative_error(got, expected)
    if error <= rtol:
        return
    if public:
        values = (f"got {np.array2string(np.asarray(got), precision=6)} / "
                  f"expected {np.array2string(expected, precision=6)}; "
                  if np.size(got) <= 12 else "")
        raise Wrong(f"{what}: {values}relative error {error:.1e}, above "
                    f"the tolerance {rtol:g}", wholly=trivial(got))
    raise Wrong(f"{what}: {closeness(error)}", wholly=trivial(got))


def expect_labels(what, got, expected, public=False):
    """got is an integer ndarray equal to the labels expected."""
    got = as_array(what, got, "(N,)", np.shape(expected), public=public,
                   labels=True)
    if not np.array_equal(got, expected):
        counted = (f"{int(np.sum(got != expected))} of {got.size} "
                   if public else "some ")
        raise Wrong(f"{what}: {counted}labels differ from the expected ones",
                    wholly=np.mean(got == expected) < 0.5)


def trivial(got):
    """Whether an answer holds one number everywhere (zeros, say): nothing
    of the part's computation."""
    got = np.asarray(got, dtype=float)
    return got.size == 0 or bool(np.all(got == got.flat[0]))


def signature(got, expected):
    """What an answer that no known mistake explains looks like, if it has
    a simple signature (all zeros, or a multiple of the right one)."""
    got, expected = np.asarray(got, float), np.asarray(expected, float)
    if not np.any(got):
        return "it is all zeros: is it computed at all?"
    ratio = np.vdot(got, expected) / max(np.vdot(expected, expected), 1e-300)
    if relative_error(got, ratio * expected) <= RTOL:
        return ("it is a multiple of the right one: look for a factor that "
                "does not belong")
    return "no known mistake gives this"
