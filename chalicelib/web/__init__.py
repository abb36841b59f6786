"""The partners' page (`pages`): static files the API function serves itself."""
