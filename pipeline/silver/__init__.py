"""Silver: validated, deduplicated, typed events and the per-order state built from them."""
