"""A PACS over DICOMweb: search studies (QIDO-RS), retrieve their frontal chest films (WADO-RS)
through the same `io.ingest` path as uploads, score them with `Predictor`, and store a case
report back in the study as a DICOM Encapsulated PDF (STOW-RS).

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
* `report_dicom`: the Encapsulated PDF dataset (new series in the same study).
"""

__all__ = ["errors", "records", "rules", "transport", "bounded", "client", "config", "study", "score", "report_dicom",
           "store"]
