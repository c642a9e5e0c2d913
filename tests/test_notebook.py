"""pset3.ipynb runs top to bottom from a fresh kernel, cleanly, and its
results land where the problem set says they should.

The notebook is executed once per test session (about half a minute) in
a temporary copy; the committed file is only read.
"""
import re
from pathlib import Path

import pytest

import toy

# nbformat and nbclient are imported in the tests that use them: their
# import takes about 2 s, which the quick subset's collection skips.

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "pset3.ipynb"

# Reference accuracies of the problem set (train, validation, test) and how
# far this notebook's may lie from them.
REFERENCE = {"sigmoid": ((0.872, 0.866, 0.864), 0.025),
             "relu": ((0.973, 0.966, 0.966), 0.006)}


def text_outputs(nb):
    """Every piece of text the notebook printed or displayed."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                yield output.name, output.text
            elif output.output_type in ("display_data", "execute_result"):
                yield "data", output.get("data", {}).get("text/plain", "")
            elif output.output_type == "error":
                yield "error", f"{output.ename}: {output.evalue}"


def all_text(nb):
    return "\n".join(text for _, text in text_outputs(nb))


@pytest.fixture(scope="module")
def executed(mnist_dir):
    """The notebook after a fresh run (MNIST_DATA_DIR comes from the
    environment, which the kernel inherits)."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}})
    client.execute()          # raises CellExecutionError on any error
    return nb


def test_no_errors_and_no_warnings(executed):
    for kind, text in text_outputs(executed):
        assert kind not in ("error", "stderr"), text[:500]
        assert "Warning" not in text, text[:500]


def test_toy_losses_match_the_reference(executed):
    """The toy losses the notebook prints are the reference's
    (instructor/toy.py computes them with instructor/reference.py)."""
    text, numbers = all_text(executed), toy.numbers()
    reg = toy.code(toy.TOY.reg)
    for label, reference in (
            (f"Q2.1 sigmoid loss with the penalty (reg = {reg})",
             numbers.loss["sigmoid"]),
            ("Q2.4 relu loss", numbers.loss["relu"]),
            ("Q2.1 sigmoid loss without the penalty",
             numbers.data_loss["sigmoid"])):
        match = re.search(rf"{re.escape(label)}: ([\d.]+)", text)
        assert match, f"{label} loss not printed"
        assert abs(float(match.group(1)) - reference) < 1e-6


def test_gradient_checks_pass(executed):
    text = all_text(executed)
    errors = [float(e) for e in re.findall(r"relative error:? ([\d.e+-]+)", text)]
    # Problem 1: 2 x 4; Q2.2 twice (reg 0 and 0.1), Q2.4 and Q2.4 at the
    # default std: 4 x 4
    assert len(errors) == 24
    assert max(errors) < 1e-6
    assert text.count("  right") == 8 and "wrong: check" not in text
    shape = (toy.TOY.samples, toy.TOY.classes)
    match = re.search(rf"Q2.1 sigmoid scores: shape {re.escape(str(shape))}, "
                      rf"largest relative difference from the reference "
                      rf"([\d.e+-]+)", text)
    assert match and float(match.group(1)) < toy.SCORES_RTOL


def test_toy_training_losses(executed):
    finals = [float(v) for v in
              re.findall(r"Final training loss: ([\d.]+)", all_text(executed))]
    assert len(finals) == 2
    trained = toy.numbers().trained
    assert abs(finals[0] - trained["sigmoid"]) < toy.TRAINED_TOLERANCE
    assert abs(finals[1] - trained["relu"]) < toy.TRAINED_TOLERANCE


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_mnist_accuracies_near_the_reference(executed, activation):
    match = re.search(rf"^{activation} accuracy: train ([\d.]+), validation "
                      rf"([\d.]+), test ([\d.]+)", all_text(executed), re.M)
    assert match, f"{activation} accuracies not printed"
    reference, tolerance = REFERENCE[activation]
    for ours, ref in zip(map(float, match.groups()), reference):
        assert abs(ours - ref) <= tolerance, (activation, ours, ref)


def test_going_further_reaches_the_target(executed):
    match = re.search(r"tuned relu accuracy: train [\d.]+, validation "
                      r"[\d.]+, test ([\d.]+)", all_text(executed))
    assert match and float(match.group(1)) >= 0.975


def test_figures_are_drawn(executed):
    images = sum("image/png" in output.get("data", {})
                 for cell in executed.cells
                 for output in cell.get("outputs", []))
    # 2 toy runs, 2 x (stats + weights) on MNIST, L1/L2, confusion, gallery
    assert images >= 9


def test_committed_notebook_has_fresh_outputs():
    """The committed outputs come from the committed code: the appendix
    shows the current mlp.py, and no cell was left unexecuted."""
    import nbformat
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code_cells)
    assert [c.execution_count for c in code_cells] == \
        list(range(1, len(code_cells) + 1)), "not run top to bottom"
    appendix = "".join(o.get("text", "") for o in code_cells[-1].outputs)
    assert appendix.rstrip("\n") == \
        (ROOT / "mlp.py").read_text().rstrip("\n")
    assert not any(kind in ("error", "stderr") for kind, _ in text_outputs(nb))


def test_scikit_learn_comparison_table(executed):
    """The going-further section trains scikit-learn's MLPClassifier with
    the same settings and prints both accuracies and times in one table."""
    text = all_text(executed)
    rows = dict(re.findall(r"^(TwoLayerMLP \(this project\)|scikit-learn "
                           r"MLPClassifier)\s+([\d.]+)\s+[\d.]+ s$", text, re.M))
    assert set(rows) == {"TwoLayerMLP (this project)",
                         "scikit-learn MLPClassifier"}, text[-2000:]
    for accuracy in rows.values():
        assert 0.95 <= float(accuracy) <= 1.0
    source = "\n".join(c.source for c in executed.cells if c.cell_type == "code")
    assert "alpha=reg * batch_size" in source


def test_confusion_matrix_comes_from_scikit_learn(executed):
    cells = [c for c in executed.cells if c.cell_type == "code"
             and "ConfusionMatrixDisplay.from_predictions" in c.source]
    assert len(cells) == 1
    outputs = cells[0].outputs
    assert any("image/png" in o.get("data", {}) for o in outputs)
    report = "".join(o.get("text", "") for o in outputs)
    assert "precision" in report and "recall" in report
    assert "np.add.at" not in cells[0].source
