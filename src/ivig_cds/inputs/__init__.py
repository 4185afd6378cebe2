"""Reading inputs: patient files (JSON, YAML, NDJSON) into validated patient-file models."""
