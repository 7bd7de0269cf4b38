package audit

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestFileSink: lines are JSON, the file is 0600, and it rotates at
// maxSize keeping `keep` old files, newest as .1.
func TestFileSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l.maxSize, l.keep = 600, 2
	for i := range 12 {
		if err := l.Write(&Event{Time: time.Unix(int64(i), 0).UTC(), OperationName: "SecretGet", ResultType: ResultType(200),
			Properties: Properties{RequestID: strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("audit file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	var ids []string
	for _, p := range []string{path + ".2", path + ".1", path} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var e Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("%s: %q is not JSON: %v", p, sc.Text(), err)
			}
			ids = append(ids, e.Properties.RequestID)
		}
		f.Close()
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("more old files kept than asked")
	}
	// The newest lines survive, in order, up to the last one.
	if len(ids) == 0 || ids[len(ids)-1] != "11" {
		t.Fatalf("ids across files = %v", ids)
	}
	for i := 1; i < len(ids); i++ {
		a, _ := strconv.Atoi(ids[i-1])
		b, _ := strconv.Atoi(ids[i])
		if b != a+1 {
			t.Errorf("ids across files not consecutive: %v", ids)
			break
		}
	}
}

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestHealthy(t *testing.T) {
	l := New(failing{})
	if !l.Healthy() {
		t.Error("unhealthy before any write")
	}
	if err := l.Write(&Event{}); err == nil || l.Healthy() {
		t.Errorf("Write = %v, Healthy = %v after a failed write", err, l.Healthy())
	}
}
