"""The data models: the patient file (input contract), the evaluation (output contract), the product table."""
