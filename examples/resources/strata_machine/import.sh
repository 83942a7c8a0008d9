# Take over a machine registered with the boot server by its name. A
# profile named after the machine becomes its `profile` (without the
# user-data, which the boot server never returns: the next apply writes the
# configuration's); any other profile becomes `profile_name`.
terraform import strata_machine.r1n1 r1n1
