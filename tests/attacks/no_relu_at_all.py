# On a correct solution: no ReLU at all, the activation and its derivative
# the identity's, so that the "ReLU" network is the linear one. Its own
# checks (Q2.4) fail, with no mistake the grader can name, so the reference
# does not stand in for it and the ReLU network earns no digits (Q2.6);
# nothing of the sigmoid's may fail.
def relu(z):
    return z


def relu_derivative(h):
    return np.ones_like(h)


ACTIVATIONS["relu"] = (relu, relu_derivative)
