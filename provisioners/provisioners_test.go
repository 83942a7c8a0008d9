package provisioners

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestDropped(t *testing.T) {
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{syscall.EPIPE, true},
		{io.ErrUnexpectedEOF, true},
		{timeout, true},
		{context.Canceled, false},
		{fmt.Errorf("wait: %w", context.DeadlineExceeded), false},
		{errors.New("403 Forbidden"), false},
	}
	for _, tt := range tests {
		if got := Dropped(tt.err); got != tt.want {
			t.Errorf("Dropped(%v) = %t, want %t", tt.err, got, tt.want)
		}
	}
	if !IsTransient(Transient(io.EOF)) || IsTransient(io.EOF) || Transient(nil) != nil {
		t.Error("Transient/IsTransient")
	}
}
