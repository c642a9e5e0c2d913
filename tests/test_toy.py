"""instructor/toy.py: the toy problem is defined once, its numbers come from
the grader's reference, and every place that shows one of them (the
notebook's text, code and outputs, the public tests, any other file)
agrees with the reference; ``python instructor/toy.py --write`` writes
them all."""
import dataclasses
import inspect
import shutil
from pathlib import Path

import pytest

import mlp
import toy

ROOT = Path(__file__).resolve().parent.parent


def test_every_shown_number_agrees_with_the_reference():
    found = toy.disagreements(ROOT)
    assert not found, "\n".join(
        found + ["(python instructor/toy.py --write writes them all)"])


@pytest.fixture
def copy(tmp_path):
    """The places toy.py writes and two files it only reads, copied."""
    for name in (toy.NOTEBOOK, toy.PUBLIC_TESTS, "docs/instructors.md",
                 "tests/test_mlp.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def replace_once(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def changed(number):
    """number (a numeral) with its last digit changed."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def test_a_number_that_disagrees_is_named_with_its_file_and_place(copy):
    """A number changed by hand in each kind of place is found, named by
    its file and place; --write (without running the notebook) puts the
    written places right, and the rest are still named."""
    shown, numbers = toy.fields(), toy.numbers()
    loss = shown["sigmoid_loss"][1]
    trained = shown["sigmoid_trained"][1]
    public = repr(round(numbers.loss["relu"], toy.LOSS_DECIMALS))
    notebook, public_tests = copy / toy.NOTEBOOK, copy / toy.PUBLIC_TESTS
    original = public_tests.read_text()
    replace_once(notebook, f"correct_loss = {loss}\\n",
                 f"correct_loss = {changed(loss)}\\n")
    replace_once(notebook, f"Final training loss: {trained}\\n",
                 f"Final training loss: {changed(trained)}\\n")
    replace_once(public_tests, f'"relu": {public}}}',
                 f'"relu": {changed(public)}}}')
    with (copy / "docs" / "instructors.md").open("a") as doc:
        doc.write(f"\nThe toy loss is {loss}.\n")
    with (copy / "tests" / "test_mlp.py").open("a") as test:
        test.write(f"\nEXPECTED = {public}\n")

    found = toy.disagreements(copy)
    expected = [
        f"Q2.2's check): shows 'loss, _ = net_sigmoid_toy.loss(X_toy, "
        f"y_toy, reg={shown['reg'][1]})\\ncorrect_loss = {changed(loss)}",
        f"output (the sigmoid toy training): prints 'Final training loss: "
        f"{changed(trained)}'",
        f"(the toy problem's lines): 'TOY_LOSS = {{\"sigmoid\": ",
        f"docs/instructors.md line ",
        f"tests/test_mlp.py line ",
    ]
    for words in expected:
        assert sum(words in line for line in found) == 1, (words, found)
    assert len(found) == len(expected), found
    assert f"{toy.PUBLIC_TESTS} line " in found[2]
    assert f"{toy.NOTEBOOK}, cell " in found[0]

    left = toy.write(copy, execute=False, say=lambda _: None)
    assert public_tests.read_text() == original
    assert [line for line in left if "Final training loss" in line] \
        and len(left) == 3, left


def test_changing_the_hidden_size_rewrites_every_place(copy):
    """With another hidden size, --write (without running the notebook)
    writes every source place; the notebook's outputs, from the old
    network, are then named as disagreeing until it is run."""
    other = dataclasses.replace(toy.TOY, hidden=toy.TOY.hidden - 2)
    assert toy.numbers(other).loss != toy.numbers().loss
    toy.write(copy, other, execute=False, say=lambda _: None)
    nb = toy.read_notebook(copy / toy.NOTEBOOK)
    text = (copy / toy.PUBLIC_TESTS).read_text()
    assert toy.notebook_source_disagreements(nb, other) == []
    assert toy.public_tests_disagreements(text, other) == []
    D, H, C, N = other.inputs, other.hidden, other.classes, other.samples
    assert f"TOY_INPUTS, TOY_HIDDEN, TOY_CLASSES, TOY_SAMPLES = {D}, {H}, " \
           f"{C}, {N}\n" in text
    _, cell = toy.find_cell(nb, "def init_toy_model")
    assert f"num_inputs = {D}, {H}, {C}, {N}\n" in cell.source
    stale = toy.output_disagreements(nb, other)
    assert any(f"'W1: shape ({D}, {H})" in line for line in stale), stale
    assert any("Q2.4 relu loss" in line for line in stale), stale
    # The numbers of the old network are copies now, nowhere else.
    assert not toy.copies(copy, other, nb)


def test_the_toy_training_is_trains_own_defaults():
    """The reference trains the toy as the notebook's train calls do: the
    learning rate decayed by train's default, in full batches (train's
    default batch size holds every toy sample)."""
    defaults = inspect.signature(mlp.TwoLayerMLP.train).parameters
    assert defaults["learning_rate_decay"].default == toy.DECAY
    assert defaults["batch_size"].default == toy.FULL_BATCH
    assert toy.TOY.samples <= toy.FULL_BATCH


@pytest.mark.parametrize("change, words", [
    ({"labels": (0, 1, 2)}, "labels"),
    ({"labels": (0, 1, 2, 3, 1)}, "labels"),
    ({"hidden": 0}, "hidden"),
    ({"training": {"sigmoid": toy.TOY.training["sigmoid"]}}, "training"),
])
def test_a_toy_that_cannot_be_is_refused(change, words):
    with pytest.raises(ValueError, match=words):
        dataclasses.replace(toy.TOY, **change)


def test_a_toy_whose_mistakes_look_right_is_refused(copy):
    """Without the penalty (reg = 0) the losses of the penalty's mistakes
    are the right one: the public tests could not tell them apart, so the
    check names them and --write refuses, writing nothing."""
    other = dataclasses.replace(toy.TOY, reg=0.0)
    found = toy.ambiguities(other)
    assert any("l2_no_half" in line and "right" in line for line in found)
    before = (copy / toy.PUBLIC_TESTS).read_text()
    with pytest.raises(toy.ToyError, match="cannot tell them apart"):
        toy.write(copy, other, execute=False, say=lambda _: None)
    assert (copy / toy.PUBLIC_TESTS).read_text() == before
    assert not toy.ambiguities()
