"""Use cases every interface calls: plan, scan, validate, cost, changes, execute, eval (typed in, typed out)."""
