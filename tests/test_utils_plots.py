"""visualize_grid, plot_stats and show_net_weights, headless.

conftest.py selects the Agg backend. The plot functions build plain
Figure objects that pyplot never sees; the ``figures`` fixture checks that
no pyplot figure is open after a test (and closes any, also when a test
fails).
"""
import copy
import io
import math
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from mlp import TwoLayerMLP
from utils import plot_stats, show_net_weights, visualize_grid


@pytest.fixture
def figures():
    """A list to put the test's figures in; none of them may be pyplot's.

    Plain Figures need no closing. Any pyplot figure still open after the
    test is closed here, and fails the test.
    """
    made = []
    yield made
    leaked = plt.get_fignums()
    plt.close("all")
    assert leaked == [], "a test left a pyplot figure open"
    for fig in made:
        assert fig.canvas.manager is None, "a figure is managed by pyplot"


@pytest.fixture(autouse=True)
def never_show(monkeypatch):
    def show(*args, **kwargs):
        raise AssertionError("plot functions must not call show()")
    monkeypatch.setattr(plt, "show", show)
    monkeypatch.setattr(Figure, "show", show)


def test_backend_is_headless():
    assert matplotlib.get_backend().lower() == "agg"


# ---------------------------------------------------------------------------
# visualize_grid
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("N, G", [(1, 1), (2, 2), (4, 2), (5, 3), (9, 3),
                                  (10, 4), (17, 5)])
def test_grid_size_and_shape(N, G):
    H, W, padding = 3, 5, 2
    grid = visualize_grid(np.random.RandomState(N).rand(N, H, W),
                          padding=padding)
    assert grid.shape == (G * (H + padding) - padding,
                          G * (W + padding) - padding)


def test_cells_are_rescaled_images_in_row_order():
    # Image k is k*10 + (k+1) * arange(6): every one spans its own range,
    # so after rescaling each cell is 255 * arange(6) / 5.
    images = np.array([k * 10 + (k + 1) * np.arange(6.0)
                       for k in range(5)]).reshape(5, 2, 3)
    images_before = images.copy()
    grid = visualize_grid(images, ubound=255.0, padding=1)
    expected_cell = 255 * np.arange(6.0).reshape(2, 3) / 5
    assert grid.shape == (8, 11)  # G=3: 3*3-1 rows, 3*4-1 columns
    for k in range(5):
        row, col = divmod(k, 3)
        cell = grid[row * 3:row * 3 + 2, col * 4:col * 4 + 3]
        np.testing.assert_allclose(cell, expected_cell, rtol=1e-12)
    # Padding lines and the unused cells (6th to 9th) are zero.
    assert np.all(grid[2] == 0) and np.all(grid[5] == 0)
    assert np.all(grid[:, 3] == 0) and np.all(grid[:, 7] == 0)
    assert np.all(grid[3:5, 8:11] == 0) and np.all(grid[6:8] == 0)
    assert grid.min() == 0 and grid.max() == 255
    np.testing.assert_array_equal(images, images_before)


def test_rgb_images_are_rescaled_over_all_channels():
    image = np.zeros((2, 2, 3))
    image[0, 0] = [0, 1, 2]
    image[1, 1] = [2, 4, 8]   # range 0..8 over all channels
    grid = visualize_grid(np.stack([image, image + 100, image * -1]),
                          ubound=1.0, padding=0)
    assert grid.shape == (4, 4, 3)
    np.testing.assert_allclose(grid[0:2, 0:2], image / 8)
    np.testing.assert_allclose(grid[0:2, 2:4], image / 8)
    np.testing.assert_allclose(grid[2:4, 0:2], 1 - image / 8)
    assert np.all(grid[2:4, 2:4] == 0)


def test_constant_image_becomes_zero_without_warning():
    images = np.stack([np.full((2, 2), 7.0),
                       np.array([[0.0, 1.0], [2.0, 4.0]])])
    grid = visualize_grid(images, ubound=4.0, padding=0)
    assert grid.shape == (4, 4)  # G=2
    np.testing.assert_array_equal(grid[0:2, 0:2], 0)
    np.testing.assert_allclose(grid[0:2, 2:4], [[0, 1], [2, 4]])


def test_fill_sets_padding_and_unused_cells():
    images = np.arange(1.0, 13.0).reshape(3, 2, 2)    # G=2, one cell unused
    default = visualize_grid(images, padding=1)
    for fill in (np.nan, -1, np.float32(7.5)):
        grid = visualize_grid(images, padding=1, fill=fill)
        assert grid.shape == (5, 5) and grid.dtype == np.float64
        cells = np.zeros((5, 5), dtype=bool)
        cells[0:2, 0:2] = cells[0:2, 3:5] = cells[3:5, 0:2] = True
        np.testing.assert_array_equal(grid[cells], default[cells])
        np.testing.assert_array_equal(grid[~cells], float(fill))
    # A constant image is still 0, not the fill.
    grid = visualize_grid(np.ones((1, 2, 2)), fill=np.nan)
    np.testing.assert_array_equal(grid, 0)


def test_integer_and_extreme_inputs():
    # Two 1x2 images in a 2x2 grid of cells: the second is constant.
    grid = visualize_grid(np.array([[[0, 255]], [[3, 3]]], dtype=np.uint8),
                          padding=0)
    np.testing.assert_array_equal(grid, [[0, 255, 0, 0], [0, 0, 0, 0]])
    grid = visualize_grid(np.array([[[-1e308, 1e308]]]), ubound=2.0)
    np.testing.assert_array_equal(grid, [[0, 2]])


@pytest.mark.parametrize("Xs, kwargs, error, match", [
    (np.zeros((4, 4)), {}, ValueError, "shape"),
    (np.zeros((2, 4, 4, 4)), {}, ValueError, "shape"),
    (np.zeros((0, 4, 4)), {}, ValueError, "at least one"),
    (np.full((1, 2, 2), np.nan), {}, ValueError, "NaN"),
    (np.array([[["a"]]]), {}, TypeError, "real numbers"),
    (np.zeros((1, 2, 2)), {"ubound": 0}, ValueError, "ubound"),
    (np.zeros((1, 2, 2)), {"ubound": "255"}, TypeError, "ubound"),
    (np.zeros((1, 2, 2)), {"padding": -1}, ValueError, "padding"),
    (np.zeros((1, 2, 2)), {"padding": 1.5}, TypeError, "padding"),
    (np.zeros((1, 2, 2)), {"fill": "nan"}, TypeError, "fill"),
    (np.zeros((1, 2, 2)), {"fill": None}, TypeError, "fill"),
    (np.zeros((1, 2, 2)), {"fill": True}, TypeError, "fill"),
    (np.zeros((1, 2, 2)), {"fill": np.inf}, ValueError, "fill"),
])
def test_visualize_grid_bad_input(Xs, kwargs, error, match):
    with pytest.raises(error, match=match):
        visualize_grid(Xs, **kwargs)


# ---------------------------------------------------------------------------
# plot_stats on a real training record
# ---------------------------------------------------------------------------

def blobs(n, rng):
    """Two well separated classes in 5 dimensions."""
    y = rng.randint(2, size=n)
    X = rng.randn(n, 5) + 3 * y[:, None]
    return X, y


@pytest.fixture(scope="module")
def record():
    rng = np.random.RandomState(0)
    X, y = blobs(100, rng)
    X_val, y_val = blobs(40, rng)
    net = TwoLayerMLP(5, 8, 2, std=0.1, seed=0)
    return net.train(X, y, X_val, y_val, learning_rate=0.1, num_epochs=4,
                     batch_size=20, seed=0)


def lines_of(ax):
    return [(line.get_xdata(), line.get_ydata()) for line in ax.get_lines()]


def test_plot_stats_draws_the_record(record, figures):
    assert len(record["loss_history"]) == 4 * 5  # 4 epochs of 100 / 20 steps
    stats_before = copy.deepcopy(record)
    fig = plot_stats(record)
    figures.append(fig)
    assert isinstance(fig, Figure)
    grad_ax, loss_ax, acc_ax = fig.axes

    [(x, y)] = lines_of(grad_ax)
    np.testing.assert_array_equal(x, np.arange(1, 21))
    np.testing.assert_array_equal(y, record["grad_magnitude_history"])
    [(x, y)] = lines_of(loss_ax)
    np.testing.assert_array_equal(y, record["loss_history"])
    (x_tr, y_tr), (x_val, y_val) = lines_of(acc_ax)
    np.testing.assert_array_equal(x_tr, [1, 2, 3, 4])
    np.testing.assert_array_equal(y_tr, record["train_acc_history"])
    np.testing.assert_array_equal(y_val, record["val_acc_history"])

    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert grad_ax.get_xlabel() == loss_ax.get_xlabel() == "Iteration"
    assert acc_ax.get_xlabel() == "Epoch"
    legend = acc_ax.get_legend()
    # The training accuracy says what it was measured on.
    assert record["train_acc_sample_size"] == 100
    assert [t.get_text() for t in legend.get_texts()] == [
        "train (sample of 100)", "validation"]
    assert record == stats_before

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")


def drawn(fig):
    """fig, drawn on an Agg canvas (so tick locations are final)."""
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig


def made_up_record(num_epochs, steps_per_epoch=5):
    """A record shaped like a real MNIST run: a spike, then a long plateau."""
    steps = np.arange(num_epochs * steps_per_epoch)
    return {
        "grad_magnitude_history": list(2 + 213 * 0.3 ** steps),
        "loss_history": list(2.3 - 0.01 * steps + 258 * 0.3 ** steps),
        "train_acc_history": list(np.linspace(0.3, 0.95, num_epochs)),
        "val_acc_history": list(np.linspace(0.25, 0.9, num_epochs)),
    }


def test_plot_stats_log_scale_for_positive_values(record, figures):
    for stats in (record, made_up_record(3)):
        fig = drawn(plot_stats(stats))
        figures.append(fig)
        grad_ax, loss_ax, acc_ax = fig.axes
        assert grad_ax.get_yscale() == loss_ax.get_yscale() == "log"
        assert acc_ax.get_yscale() == "linear"
        # Every value is inside the view, the spike and the plateau alike.
        for ax, key in ((grad_ax, "grad_magnitude_history"),
                        (loss_ax, "loss_history")):
            low, high = ax.get_ylim()
            assert low < min(stats[key]) and max(stats[key]) < high


@pytest.mark.parametrize("key", ["grad_magnitude_history", "loss_history"])
@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan])
def test_plot_stats_linear_scale_unless_all_positive(record, figures, key,
                                                     bad):
    stats = copy.deepcopy(record)
    stats[key][3] = bad
    fig = drawn(plot_stats(stats))
    figures.append(fig)
    axes = dict(zip(["grad_magnitude_history", "loss_history"], fig.axes))
    # Only the plot with the value that is not > 0 is linear.
    assert {name: ax.get_yscale() for name, ax in axes.items()} == {
        name: "linear" if name == key else "log" for name in axes}
    [(_, y)] = lines_of(axes[key])
    np.testing.assert_array_equal(y, stats[key])


def test_plot_stats_empty_record_is_linear(figures):
    empty = dict.fromkeys(made_up_record(1), [])
    fig = drawn(plot_stats(empty))
    figures.append(fig)
    assert [ax.get_yscale() for ax in fig.axes] == ["linear"] * 3


@pytest.mark.parametrize("num_epochs", [1, 2, 3, 10, 13, 40])
def test_accuracy_axis_ticks_whole_epochs(figures, num_epochs):
    fig = drawn(plot_stats(made_up_record(num_epochs, steps_per_epoch=2)))
    figures.append(fig)
    acc_ax = fig.axes[2]
    low, high = acc_ax.get_xlim()
    ticks = acc_ax.get_xticks()
    visible = ticks[(ticks >= low) & (ticks <= high)]
    assert len(visible) >= 1
    np.testing.assert_array_equal(visible, np.round(visible))
    if num_epochs <= 10:         # few epochs: each one has its tick
        np.testing.assert_array_equal(visible, np.arange(1, num_epochs + 1))


def test_plot_stats_without_validation(figures):
    rng = np.random.RandomState(1)
    X, y = blobs(60, rng)
    stats = TwoLayerMLP(5, 4, 2, std=0.1, seed=1).train(
        X, y, None, None, learning_rate=0.1, num_epochs=2, batch_size=30)
    fig = plot_stats(stats)
    figures.append(fig)
    legend = fig.axes[2].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "train (sample of 60)"]


@pytest.mark.parametrize("change, error, match", [
    (lambda s: s.pop("val_acc_history"), ValueError, "val_acc_history"),
    (lambda s: s.pop("grad_magnitude_history"), ValueError,
     "grad_magnitude_history"),
    (lambda s: s.update(loss_history=[[1.0, 2.0]]), ValueError, "1-D"),
    (lambda s: s.update(loss_history=["a", "b"]), TypeError, "loss_history"),
    (lambda s: s.update(val_acc_history=[0.5]), ValueError, "epochs"),
])
def test_plot_stats_bad_record(record, change, error, match, figures):
    stats = copy.deepcopy(record)
    change(stats)
    with pytest.raises(error, match=match):
        plot_stats(stats)


def test_plot_stats_needs_a_dict(figures):
    with pytest.raises(TypeError, match="dict returned by TwoLayerMLP.train"):
        plot_stats([1, 2, 3])


# ---------------------------------------------------------------------------
# show_net_weights
# ---------------------------------------------------------------------------

def test_show_net_weights_draws_each_column(figures):
    net = TwoLayerMLP(784, 5, 10, std=1e-2, seed=3)
    before = {name: p.tobytes() for name, p in net.params.items()}
    fig = show_net_weights(net)
    figures.append(fig)
    assert isinstance(fig, Figure)
    [ax] = fig.axes
    [image] = ax.get_images()
    data = np.asarray(image.get_array())
    # 5 columns -> a 3x3 grid of 28x28 cells with 3 pixels between them.
    G, padding = math.ceil(math.sqrt(5)), 3
    assert data.shape == (G * (28 + padding) - padding,) * 2
    W1 = net.params["W1"]
    for j in range(5):
        row, col = divmod(j, G)
        cell = data[row * 31:row * 31 + 28, col * 31:col * 31 + 28]
        column = W1[:, j].reshape(28, 28)
        expected = (255 * (column - column.min())
                    / (column.max() - column.min()))
        np.testing.assert_allclose(cell, expected, atol=1e-9)
    assert {name: p.tobytes() for name, p in net.params.items()} == before


def test_show_net_weights_draws_8x8_digits(figures):
    # scikit-learn's digits: 64 inputs, 16 hidden units -> a 4x4 grid of
    # 8x8 cells with 1 pixel between them.
    net = TwoLayerMLP(64, 16, 10, std=1e-2, seed=4)
    fig = show_net_weights(net)
    figures.append(fig)
    [ax] = fig.axes
    [image] = ax.get_images()
    data = np.asarray(image.get_array())
    assert data.shape == (4 * 9 - 1,) * 2
    W1 = net.params["W1"]
    for j in (0, 5, 15):
        row, col = divmod(j, 4)
        cell = data[row * 9:row * 9 + 8, col * 9:col * 9 + 8]
        column = W1[:, j].reshape(8, 8)
        expected = (255 * (column - column.min())
                    / (column.max() - column.min()))
        np.testing.assert_allclose(cell, expected, atol=1e-9)
    # The padding is NaN, which the image masks (and draws as a border).
    assert np.all(np.isnan(data[8::9])) and np.all(np.isnan(data[:, 8::9]))
    mask = np.ma.getmaskarray(image.get_array())
    assert np.all(mask[8::9]) and np.all(mask[:, 8::9])
    assert "8x8" in ax.get_title() and "16 hidden units" in ax.get_title()


@pytest.mark.parametrize("D, hidden, grid_side, padding", [
    (784, 5, 3, 3),      # 4 unused cells
    (784, 100, 10, 3),
    (64, 16, 4, 1),
])
def test_show_net_weights_borders_stand_out(figures, D, hidden, grid_side,
                                            padding):
    fig = drawn(show_net_weights(TwoLayerMLP(D, hidden, 10, std=1e-2,
                                             seed=8)))
    figures.append(fig)
    [image] = fig.axes[0].get_images()
    array = image.get_array()
    side, cell = math.isqrt(D), math.isqrt(D) + padding
    # Masked: the padding and the unused cells, nothing else.
    expected_mask = np.ones((grid_side * cell - padding,) * 2, dtype=bool)
    for j in range(hidden):
        row, col = divmod(j, grid_side)
        expected_mask[row * cell:row * cell + side,
                      col * cell:col * cell + side] = False
    np.testing.assert_array_equal(np.ma.getmaskarray(array), expected_mask)

    border = to_rgba("tab:blue")
    assert image.cmap.get_bad() == pytest.approx(border)
    colours = image.to_rgba(array)          # float RGBA, one per pixel
    np.testing.assert_array_equal(colours[expected_mask],
                                  np.tile(border, (expected_mask.sum(), 1)))
    tiles = colours[~expected_mask]
    # Tile pixels are gray (r = g = b), spanning black to white, so none
    # has the border colour.
    assert np.all(tiles[:, 0] == tiles[:, 1])
    assert np.all(tiles[:, 1] == tiles[:, 2])
    assert tiles[:, 0].min() == 0 and tiles[:, 0].max() == 1
    assert not np.any(np.all(tiles == border, axis=1))

    # On the rendered figure, the image's pixels are gray or the border
    # colour (no blend of the two), the border taking the masked share.
    pixels = np.asarray(fig.canvas.buffer_rgba())
    box = image.get_window_extent()
    height = pixels.shape[0]
    inside = pixels[int(height - box.y1) + 1:int(height - box.y0) - 1,
                    int(box.x0) + 1:int(box.x1) - 1]
    blue = np.all(inside == np.round(np.multiply(border, 255)), axis=-1)
    gray = ((inside[..., 0] == inside[..., 1])
            & (inside[..., 1] == inside[..., 2]))
    assert np.all(blue | gray)
    assert blue.mean() == pytest.approx(expected_mask.mean(), abs=0.02)


@pytest.mark.parametrize("D, hidden, size", [
    (1, 2, 2 * 2 - 1),          # 1x1 images, 1 pixel apart
    (100, 3, 2 * 11 - 1),       # 10x10
    (1296, 2, 2 * 40 - 4),      # 36x36, 4 pixels apart
])
def test_show_net_weights_takes_any_square_input(figures, D, hidden, size):
    fig = show_net_weights(TwoLayerMLP(D, hidden, 2, std=1e-2, seed=5))
    figures.append(fig)
    [image] = fig.axes[0].get_images()
    assert np.asarray(image.get_array()).shape == (size, size)


@pytest.mark.parametrize("D", [10, 50, 783, 785])
def test_show_net_weights_needs_a_square_input_size(figures, D):
    with pytest.raises(ValueError, match="perfect square") as info:
        show_net_weights(TwoLayerMLP(D, 5, 3))
    message = str(info.value)
    # Says why, what it got and what to do instead.
    assert "square image" in message and "input_size" in message
    assert f"({D}, 5)" in message and "visualize_grid" in message


def test_show_net_weights_bad_net(figures):
    with pytest.raises(TypeError, match="params"):
        show_net_weights(object())
    with pytest.raises(ValueError, match=r"shape \(D, H\)"):
        show_net_weights(type("Net", (), {"params": {"W1": np.zeros(64)}})())
    with pytest.raises(ValueError, match=r"shape \(D, H\)"):
        show_net_weights(
            type("Net", (), {"params": {"W1": np.zeros((64, 0))}})())


# ---------------------------------------------------------------------------
# No pyplot state
# ---------------------------------------------------------------------------

def test_plots_leave_pyplot_alone(record, figures):
    """Many plots open no pyplot figure, change no current figure, warn never.

    pyplot warns from the 21st open figure on; the suite turns warnings
    into errors, and the warnings are also recorded here to say so plainly.
    """
    net = TwoLayerMLP(784, 4, 10, std=1e-2, seed=6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(30):
            plot_stats(record)
            show_net_weights(net)
        assert plt.get_fignums() == []
        # A student's own pyplot figure stays the current one.
        mine = plt.figure()
        try:
            for _ in range(30):
                plot_stats(record)
                show_net_weights(net)
            assert plt.get_fignums() == [mine.number]
            assert plt.gcf() is mine
        finally:
            plt.close(mine)
    assert [str(w.message) for w in caught] == []


def test_figures_render_like_in_a_notebook(record, figures):
    # Jupyter shows a figure through IPython's print_figure, which uses the
    # figure's own canvas, with no pyplot involved.
    pylabtools = pytest.importorskip("IPython.core.pylabtools")
    net = TwoLayerMLP(64, 4, 10, std=1e-2, seed=7)
    for fig in (plot_stats(record), show_net_weights(net)):
        figures.append(fig)
        png = pylabtools.print_figure(fig, "png")
        assert png.startswith(b"\x89PNG")
