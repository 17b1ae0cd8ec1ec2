"""A PACS over DICOMweb: search studies (QIDO-RS), retrieve their frontal chest films (WADO-RS)
through the same `io.ingest` path as uploads, score them with `Predictor`, and store the results
back in the study (STOW-RS): the case report as a DICOM Encapsulated PDF, and beside it what a PACS
and its viewers read, a TID 1500 Structured Report and the heatmap as a Secondary Capture.

* `config`: the servers the deployer allows, their credentials and their limits (instances per
  study, time per study and per answer), from secrets or the environment;
* `errors`, `records`: what can go wrong (messages safe to print) and what a search answers
  (no patient attributes);
* `rules`: what may be sent: DICOM UID grammar, exact accession numbers, short date ranges;
* `transport`: https only (http only when allowed for a test server), no credentials in URLs;
* `bounded`: every answer within a size cap and a deadline, and no redirect followed, so one
  PACS cannot exhaust memory, hold a request forever, or send us elsewhere;
* `client`: the connection (TLS verified, timeouts, bounded retries on 5xx, credentials from the
  environment or the app's secrets, never in a URL or a message), search, retrieve, store;
* `store`: a report stored deliberately: the typed accession checked, the same report once;
* `study`: which instances of a study are frontal chest films, from their DICOM headers;
* `score`: a study's instances scored in bounded batches, one `Prediction` per instance;
* `report_dicom`: the Encapsulated PDF dataset (new series in the same study);
* `results_dicom`, `results_read`: the Structured Report and the heatmap's Secondary Capture, built
  from the same case report as the PDF, and the SR read back into plain values;
* `uids`: the UIDs of what we store, derived from what it says, so the same result is stored once.
"""

__all__ = ["errors", "records", "rules", "transport", "bounded", "client", "config", "study", "score", "report_dicom",
           "uids", "results_dicom", "results_read", "store"]
