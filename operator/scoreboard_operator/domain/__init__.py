"""Plain, typed, side-effect-free logic of the operator (no kopf, no HTTP)."""
