"""Earth embeddings: stores of chip vectors, search, and science on embeddings."""
