# mlp.py does not even parse.
def broken(:
    pass
