package app

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/crypt"
	"github.com/coffer-dev/coffer/internal/kv/memkv"
	"github.com/coffer-dev/coffer/internal/model"
	"github.com/coffer-dev/coffer/internal/store"
)

// TestBootstrapRace: replicas starting together on one store agree on one
// instance, one admin (only the winner keeps a credential file) and one
// signing key.
func TestBootstrapRace(t *testing.T) {
	st := store.New(crypt.Wrap(memkv.New(), crypt.NewRandomRing()))
	const n = 8
	dir := t.TempDir()
	insts := make([]*Instance, n)
	creds := make([]*AdminCredential, n)
	kids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst, sec, cred, err := bootstrap(context.Background(), st, time.Now(), filepath.Join(dir, "admin-"+string(rune('a'+i))+".json"))
			if err != nil {
				t.Errorf("bootstrap %d: %v", i, err)
				return
			}
			insts[i], creds[i], kids[i] = inst, cred, sec.keys.ActiveKeyID()
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	winners := 0
	for i := range n {
		if insts[i].TenantID != insts[0].TenantID || kids[i] != kids[0] {
			t.Errorf("replica %d: tenant %s kid %s, replica 0: %s %s", i, insts[i].TenantID, kids[i], insts[0].TenantID, kids[0])
		}
		if creds[i] != nil {
			winners++
			if creds[i].ClientID != insts[0].AdminAppID {
				t.Errorf("replica %d kept a credential for a losing admin", i)
			}
		}
	}
	if winners != 1 {
		t.Errorf("%d replicas hold an admin credential, want 1", winners)
	}
	ps, err := st.ListPrincipals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	admins := 0
	for _, p := range ps {
		if p.Type == model.PrincipalServicePrincipal {
			admins++
		}
	}
	if admins != 1 {
		t.Errorf("%d admin principals left, want 1", admins)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "admin-*.json"))
	if len(files) != 1 {
		t.Errorf("%d admin credential files, want 1: %v", len(files), files)
	}
}
