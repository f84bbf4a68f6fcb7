"""One evaluator per rule kind family; `registry` maps `kind:` to them."""
