# Not an attack: a correct solution without predict (deleted). Only the
# checks that call predict may fail, each saying what is missing.
del TwoLayerMLP.predict
