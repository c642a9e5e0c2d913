# On a correct solution, with a notebook of 200,000 empty cells (see the
# test): parsed naively it would take 30 times its size in memory.
