"""Input adapters: other shapes of patient data (FHIR R4) turned into the patient-file models."""
