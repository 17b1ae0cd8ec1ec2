"""The DICOM node: `pneumo listen`. A PACS or router sends films by C-STORE; the node takes
them from allowed AE titles only, queues them (a full queue answers "out of resources"),
scores each through the product's path (hostile-file worker, input gate, audit record first)
and sends a scored film's results back, by DICOMweb into its study or by C-STORE to an AE.
A film already dealt with is not scored or stored again. `docs/pacs.md` says how a hospital
wires it."""
from .config import CStoreDestination, DicomwebDestination, NodeConfig, NodeConfigError, parse_ae_address
from .service import Node

__all__ = ["Node", "NodeConfig", "NodeConfigError", "DicomwebDestination", "CStoreDestination", "parse_ae_address"]
