# The import never finishes.
while True:
    pass
