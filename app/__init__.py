"""featuremaps: see inside a small MNIST convnet, layer by layer."""

__version__ = "0.1.0"
