package power

import (
	"strings"
	"testing"

	"github.com/stratastack/strata/provisioners/baremetal/ipmisim"
	"github.com/stratastack/strata/provisioners/baremetal/ipmisim/simtest"
)

func TestReader(t *testing.T) {
	b := simtest.Start(t, ipmisim.User{Name: simOperator, Password: simOperatorPass, Privilege: "operator"})
	ctx := t.Context()
	if got, err := (Reader{Password: simOperatorPass}).PowerStatus(ctx, b.URL, simOperator); err != nil || got != Off {
		t.Fatalf("PowerStatus = %v, %v; want off", got, err)
	}
	_, err := (Reader{Password: "wrong-pass"}).PowerStatus(ctx, b.URL, simOperator)
	if err == nil || strings.Contains(err.Error(), "wrong-pass") {
		t.Errorf("a wrong password: %v (want an error that does not show it)", err)
	}
	if h := b.History(); len(h) != 0 {
		t.Errorf("the reader changed the chassis: %q", h)
	}
}
