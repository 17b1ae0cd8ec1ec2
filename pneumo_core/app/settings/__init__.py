"""The sidebar every page shares: the model, the calibration (`calibration_choice`), the
operating point (`operating_controls`, in clinical words `operating_point`), and the `Settings`
it hands to the pages (`state`)."""

__all__ = ["state", "sidebar", "calibration_choice", "operating_controls", "operating_point"]
