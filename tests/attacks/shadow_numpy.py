# The unsolved stub, with a numpy.py beside it that would forge results
# (see the test): that file never reaches the sandbox.
