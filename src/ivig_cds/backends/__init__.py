"""Rule backends: durable-rules (the engine that decides) and the pure-Python reference evaluation."""
