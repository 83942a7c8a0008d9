# Adopt a running stack by its tags. The id is the stack's path, written as
# the configuration's `path` writes it, with the stack's variables as a
# query when they differ from their defaults. The stack's secret seed is
# read from .strata/STACK.seed (where `strata up` keeps it) in the working
# directory or beside the stack.
terraform import strata_stack.edge 'stacks/edge.strata.hcl?agents=5'
