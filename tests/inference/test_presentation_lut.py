"""A film stored as a negative with Presentation LUT Shape INVERSE is read the way the
standard says, upright, before anything else: the polarity check finds nothing to correct and
the call is the positive film's."""
import numpy as np
from PIL import Image

from harness.hostile_files import array_dicom
from pneumo_core.inference.predictor import Predictor


def test_an_inverse_negative_is_scored_as_its_positive_with_no_correction(test_images):
    film = np.asarray(Image.open(test_images["PNEUMONIA"][0]).convert("L"), np.uint16) * 16  # 12-bit
    predictor = Predictor()
    positive, negative = predictor.predict_sources([
        (array_dicom(film), "positive.dcm"),
        (array_dicom(4095 - film, PresentationLUTShape="INVERSE"), "negative.dcm")])
    assert positive.probability is not None and negative.probability is not None
    assert negative.correction is None and not any("invert" in w for w in negative.warnings)
    assert abs(negative.probability - positive.probability) < 1e-3 and negative.label == positive.label
