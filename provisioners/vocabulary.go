package provisioners

// Instance states: what Instance.State says, the same for every substrate.
const (
	StatePending = "pending" // being made or starting
	StateRunning = "running"
	StateStopped = "stopped" // exists, powered off
	StateError   = "error"   // the substrate reports it unusable
	StateGone    = "gone"    // no longer exists
)

// Tag keys: every machine strata makes carries these (Machine.Tags), and
// List finds a stack's machines by them.
const (
	TagStack = "strata:stack"
	TagPool  = "strata:pool"
	TagIndex = "strata:index"
	TagLayer = "strata:layer"
	TagRole  = "strata:role"
	// TagGroup names a machine's spread group where the substrate records
	// it beside the machine (an OpenStack server's metadata).
	TagGroup = "strata:group"
)
