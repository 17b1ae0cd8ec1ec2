"""pneumo_core: pneumonia detection on chest radiographs, from decoding to saliency."""
__version__ = "0.1.0"
