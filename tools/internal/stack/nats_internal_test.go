package stack

import (
	"net"
	"testing"

	"github.com/nats-io/nats.go"
)

// TestStartNATSInProcess: the services reach the embedded server through a
// pipe in the process, not a socket, while other clients still reach it on
// its address; a server given by URL gets no such option.
func TestStartNATSInProcess(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NATSListen = ln.Addr().String()
	ln.Close()
	url, inProcess, shutdown, err := startNATS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown()

	tests := []struct {
		name     string
		opts     []nats.Option
		wantPipe bool
	}{
		{"services, in process", inProcess, true},
		{"another client, on the address", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := nats.Connect(url, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			if pipe := nc.ConnectedAddr() == "pipe"; pipe != tt.wantPipe {
				t.Errorf("connected to %q: in process %v, want %v", nc.ConnectedAddr(), pipe, tt.wantPipe)
			}
		})
	}

	cfg.NATSURL = url
	if _, opts, stop, err := startNATS(cfg); err != nil || len(opts) != 0 {
		t.Errorf("a server given by URL: %d options, %v; want none", len(opts), err)
	} else {
		stop()
	}
}
