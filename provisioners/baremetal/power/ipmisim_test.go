package power

// The IPMI tests run against a real BMC: OpenIPMI's ipmi_sim, started by
// package simtest, with this operator beside its admin. (A USER-privilege
// user would prove nothing: ipmi_sim grants it OPERATOR sessions.)
const (
	simOperator     = "operator"
	simOperatorPass = "op-pass-4711"
)
