# On a correct solution: no ReLU at all, the activation and its derivative
# the identity's, so that the "ReLU" network is the linear one. Its own
# checks (Q2.4) fail, and the linear network does not learn the digits
# with the ReLU network's settings (its updates grow without bound), so the
# ReLU's digits (Q2.6) fail too; nothing of the sigmoid's may.
def relu(z):
    return z


def relu_derivative(h):
    return np.ones_like(h)


ACTIVATIONS["relu"] = (relu, relu_derivative)
