# On a correct solution, with the student's own copies of the given files
# and a numpy.py beside it (see the test): those copies are never used.
