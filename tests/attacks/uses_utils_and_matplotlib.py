# Not an attack: a correct solution that imports utils and matplotlib and
# writes a temporary file, as a careful student might. It loses nothing.
import tempfile

import matplotlib.pyplot as plt

import utils

with tempfile.TemporaryFile() as _f:
    _f.write(b"scratch")
_figure = plt.figure()
plt.close(_figure)
assert callable(utils.eval_numerical_gradient)
